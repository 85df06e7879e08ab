"""How the command line fails: exit codes, and one line per AWS error saying what happened and the fix.

Every command uses the same rule (:data:`EXIT_CODES`); :func:`describe_error` turns anything boto3 raises
into a :class:`CliError` whose :meth:`~CliError.line` is what the person reads.
"""

from __future__ import annotations

__all__ = [
    "ACCESS_DENIED",
    "BAD_CREDENTIALS",
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "CliError",
    "describe_error",
    "hint",
    "region_fix",
    "warn",
]

import os
import sys

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from otel_cw_exporter.cli.codes import (  # the rule lives there; every command reads it from here too
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
)
from otel_cw_exporter.cli.render import cut
from otel_cw_exporter.config import env_name
from otel_cw_exporter.send.retry import HINTS, error_code

ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnauthorizedException"})


BAD_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
    }
)


THROTTLED = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})


_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ConnectionClosedError,
    ReadTimeoutError,
    BotoConnectionError,
)


#: Operations whose IAM resource is the account, not one log group.
_ACCOUNT_LEVEL = frozenset(
    {"DescribeQueryDefinitions", "PutQueryDefinition", "DeleteQueryDefinition", "GetCallerIdentity"}
)


class CliError(Exception):
    """A failure to report as one line: what went wrong, and what to do about it."""

    def __init__(self, message: str, fix: str = "", exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.exit_code = exit_code

    def line(self) -> str:
        text = f"{PROG}: error: {self.message}" + (f"; fix: {self.fix}" if self.fix else "")
        return " ".join(text.split())


#: Where a region comes from, for every piece of advice that names one.
REGION_ADVICE = "--region or AWS_DEFAULT_REGION; boto3 ignores AWS_REGION"


def region_fix() -> str:
    """What to do when boto3 finds no region (it reads AWS_DEFAULT_REGION, not AWS_REGION)."""
    fix = f"pass --region, or set AWS_DEFAULT_REGION (or {env_name('region_name')}); boto3 ignores AWS_REGION"
    if os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        fix += "; AWS_REGION is set, but boto3 reads AWS_DEFAULT_REGION"
    return fix


def hint(code: str, default: str = "") -> str:
    """The fix for an error code; advice that names the region says where the region comes from."""
    text = HINTS.get(code, default)
    if "region" in text and "AWS_DEFAULT_REGION" not in text:
        text += f" (the region: {REGION_ADVICE})"
    return text


def describe_error(
    error: BaseException,
    *,
    group: str | None = None,
    stream: str | None = None,
    region: str | None = None,
    endpoint: str | None = None,
) -> CliError:
    """One line for an exception from boto3: what happened, and the fix."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return CliError("no AWS credentials found", hint("NoCredentialsError"), EXIT_USAGE)
    if isinstance(error, NoRegionError):
        return CliError("no AWS region configured", region_fix(), EXIT_USAGE)
    if isinstance(error, InvalidRegionError):  # a region botocore refuses, from wherever boto3 read it
        return CliError(
            f"invalid configuration: {error}",
            "pass --region us-east-1 (your region), or correct AWS_DEFAULT_REGION or the profile's region",
            EXIT_USAGE,
        )
    if isinstance(error, ProfileNotFound):
        return CliError(str(error), "check --profile or AWS_PROFILE", EXIT_USAGE)
    if isinstance(error, _UNREACHABLE):
        where = endpoint or "the CloudWatch Logs endpoint"
        reason = type(error).__name__
        return CliError(
            f"cannot reach {where} ({reason})",
            "check --endpoint-url (or AWS_ENDPOINT_URL_CLOUDWATCH_LOGS), the region "
            f"({REGION_ADVICE}), the network and any proxy",
        )
    if isinstance(error, ParamValidationError):
        return CliError(str(error), "check the arguments", EXIT_USAGE)
    if isinstance(error, ClientError):
        code = error_code(error)
        operation = error.operation_name or "the call"
        message = str(error.response.get("Error", {}).get("Message", "")).strip()
        if message.startswith("<"):  # an HTML error page, not an AWS answer
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            message = f"HTTP {status} with an HTML page (not a CloudWatch Logs endpoint, or it lacks {operation})"
        message = cut(" ".join(message.split()), 300)
        service = "sts" if operation == "GetCallerIdentity" else "logs"
        action = f"{service}:{operation}"
        where = f' on log group "{group}"' if group and operation not in _ACCOUNT_LEVEL else ""
        if code in ACCESS_DENIED:
            resource = f"arn:aws:logs:{region or '*'}:*:log-group:{group}:*" if where else '"*"'
            return CliError(
                f"access denied: not allowed to call {action}{where} ({code})", f"grant {action} on {resource}"
            )
        if code == "ResourceNotFoundException":
            if "stream" in message.lower() and stream:
                return CliError(
                    f'log stream "{stream}" does not exist in log group "{group}"',
                    "check --stream (or create the stream)",
                )
            if group:
                return CliError(
                    f'log group "{group}" does not exist in {region or "this region"}',
                    f"check --group and the region ({REGION_ADVICE}); `{PROG} doctor` checks the whole configuration",
                )
            return CliError(f"not found: {message or code}", f"check --group and the region ({REGION_ADVICE})")
        if code in BAD_CREDENTIALS:
            return CliError(
                f"AWS rejected the credentials ({code}: {message})",
                hint(code, "check the credentials, their account and the region"),
                EXIT_USAGE,
            )
        if code in THROTTLED:
            return CliError(f"{operation} was throttled ({code})", "try again in a moment")
        detail = f": {message}" if message else ""
        return CliError(f"{operation} failed: {code}{detail}", hint(code))
    if isinstance(error, BotoCoreError):
        return CliError(str(error), "")
    return CliError(f"unexpected error: {type(error).__name__}: {error}", f"run `{PROG} --debug ...` for the traceback")


def warn(text: str) -> None:
    print(f"{PROG}: warning: {text}", file=sys.stderr, flush=True)
