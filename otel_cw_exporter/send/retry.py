"""What to do about an error, and how long to wait before trying again. Pure."""

from __future__ import annotations

import enum
import random

from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)


class InvalidResponseError(Exception):
    """An HTTP 200 whose body is not a PutLogEvents answer: a proxy's page, a captive portal, a wrong
    ``endpoint_url``. Nothing says the events were stored, so they are not counted as sent."""


class Verdict(enum.Enum):
    RETRY = "retry"  # try again after a backoff
    THROTTLED = "throttled"  # the same, counted as throttling
    UNREACHABLE = "unreachable"  # transport failure: retry, and expect the endpoint to be down
    MISSING = "missing"  # the group or stream does not exist
    INVALID = "invalid"  # InvalidParameter on the events: isolate the bad ones
    FATAL = "fatal"  # no retry can fix it


_THROTTLING = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)
_TRANSIENT = frozenset(
    {
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "OperationAbortedException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
#: InvalidParameter messages about the request rather than its events: splitting cannot help.
_NOT_ABOUT_EVENTS = ("logGroupName", "logStreamName", "entity", "log group", "log stream")

#: What to change, for errors a person must fix.
HINTS = {
    "AccessDeniedException": "grant logs:PutLogEvents (and logs:CreateLogStream) on this log group",
    "UnrecognizedClientException": "the credentials are not valid for this account or region",
    "ExpiredTokenException": "refresh the session credentials (the token has expired)",
    "InvalidClientTokenId": "the access key id does not exist",
    "ResourceNotFoundException": "create the log group, or pass create_log_group=True",
    "InvalidParameterException": "check the log group and stream names",
    "NoCredentialsError": "configure AWS credentials (environment, profile, or instance role)",
    "NoRegionError": "set AWS_DEFAULT_REGION (or OTEL_EXPORTER_CLOUDWATCH_LOGS_REGION), or pass region_name",
}


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "")) or type(error).__name__
    return type(error).__name__


def classify(error: BaseException) -> Verdict:
    """How to treat an error from a CloudWatch Logs call."""
    if isinstance(error, ClientError):
        code = error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLING or status == 429:
            return Verdict.THROTTLED
        if code == "ResourceNotFoundException":
            return Verdict.MISSING
        if code == "InvalidParameterException":
            message = str(error.response.get("Error", {}).get("Message", ""))
            if any(hint in message for hint in _NOT_ABOUT_EVENTS):
                return Verdict.FATAL
            return Verdict.INVALID
        if code in _TRANSIENT or (isinstance(status, int) and status >= 500):
            return Verdict.RETRY
        return Verdict.FATAL
    if isinstance(error, (NoCredentialsError, PartialCredentialsError, NoRegionError)):
        return Verdict.FATAL
    if isinstance(error, (ReadTimeoutError, InvalidResponseError)):
        return Verdict.RETRY
    if isinstance(error, (BotoConnectionError, HTTPClientError, ConnectionError, TimeoutError)):
        return Verdict.UNREACHABLE
    return Verdict.FATAL


class Backoff:
    """Exponential backoff with full jitter: a delay uniform in [0, min(cap, base * 2**attempt)]."""

    def __init__(self, base: float = 0.1, cap: float = 5.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        return self._rng.uniform(0.0, min(self.cap, self.base * (2 ** min(attempt, 30))))
