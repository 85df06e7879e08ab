"""setup() and cloudwatch_handler() take the exporter's options by name, so a type checker sees a typo;
these tests keep the three signatures from drifting apart, and flush_after from hiding a handler's.

(tests/typing/user_code.py is the same seen by ``mypy --strict``: a misspelt option is an error there.)
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from otel_cw_exporter import CloudWatchLogRecordExporter, ConfigError, cloudwatch_handler, setup
from otel_cw_exporter.aws_lambda import flush_after


def exporter_parameters() -> dict[str, inspect.Parameter]:
    parameters = dict(inspect.signature(CloudWatchLogRecordExporter.__init__).parameters)
    parameters.pop("self")
    return parameters


@pytest.mark.parametrize(
    ("function", "renamed"),
    [(setup, {}), (cloudwatch_handler, {"log_stream_name": "stream_name"})],
    ids=["setup", "cloudwatch_handler"],
)
def test_every_exporter_option_is_a_keyword_with_the_same_type_and_default(
    function: Any, renamed: dict[str, str]
) -> None:
    parameters = inspect.signature(function).parameters
    assert not [p for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]  # no **options
    for name, expected in exporter_parameters().items():
        found = parameters[renamed.get(name, name)]
        assert found.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert found.default is None, name
        if name not in renamed:
            assert found.annotation == expected.annotation, name


def test_an_unknown_option_is_refused_at_the_call() -> None:
    with pytest.raises(TypeError, match="log_groop_name"):
        setup(log_groop_name="integrates")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="retention_day"):
        cloudwatch_handler(stream_name="s", retention_day=7)  # type: ignore[call-arg]


def test_cloudwatch_handler_passes_every_option_on() -> None:
    with pytest.raises(ConfigError, match=r"endpoint_url='127\.0\.0\.1:4599' has no scheme"):
        cloudwatch_handler(stream_name="s", log_group_name="g", client=object(), endpoint_url="127.0.0.1:4599")
    handler = cloudwatch_handler(
        stream_name="s", log_group_name="g", client=object(), retention_days=7, tags="team=platform", timeout=3
    )
    try:
        config = handler.exporter.config  # type: ignore[attr-defined]
        assert (config.log_stream_name, config.retention_days, config.tags, config.timeout) == (
            "s",
            7,
            {"team": "platform"},
            3,
        )
    finally:
        handler.close()


def test_flush_after_keeps_the_handlers_signature_and_name() -> None:
    def handler(event: dict[str, Any], context: object = None) -> str:
        """Handles."""
        return "ok"

    for decorated in (flush_after(handler), flush_after(timeout=0.5)(handler)):
        assert inspect.signature(decorated) == inspect.signature(handler)
        assert (decorated.__name__, decorated.__doc__) == ("handler", "Handles.")
        assert decorated({}) == "ok"
