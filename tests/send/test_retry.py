"""Error classification and backoff (pure)."""

from __future__ import annotations

from otel_cw_exporter.send.retry import Backoff


def test_backoff_is_exponential_with_full_jitter() -> None:
    import random

    backoff = Backoff(base=0.1, cap=2.0, rng=random.Random(1))
    for attempt in range(12):
        ceiling = min(2.0, 0.1 * 2**attempt)
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2  # spread over the whole range


def test_classification() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError

    from otel_cw_exporter.send.retry import Verdict, classify

    def client_error(code: str, status: int = 400, message: str = "") -> ClientError:
        return ClientError(
            {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
            "PutLogEvents",
        )

    assert classify(client_error("ThrottlingException")) is Verdict.THROTTLED
    assert classify(client_error("ServiceUnavailableException", 503)) is Verdict.RETRY
    assert classify(client_error("SomethingNew", 500)) is Verdict.RETRY
    assert classify(client_error("ResourceNotFoundException")) is Verdict.MISSING
    assert classify(client_error("InvalidParameterException", message="Log event too large")) is Verdict.INVALID
    assert (
        classify(client_error("InvalidParameterException", message="Value at 'logStreamName' failed")) is Verdict.FATAL
    )
    assert classify(client_error("AccessDeniedException")) is Verdict.FATAL
    assert classify(client_error("UnrecognizedClientException")) is Verdict.FATAL
    assert classify(client_error("ExpiredTokenException")) is Verdict.FATAL
    assert classify(NoCredentialsError()) is Verdict.FATAL
    assert classify(EndpointConnectionError(endpoint_url="http://x")) is Verdict.UNREACHABLE
    assert classify(ReadTimeoutError(endpoint_url="http://x")) is Verdict.RETRY
