"""``otel-cw-exporter doctor``: whether a configuration can deliver, checked step by step before a deploy.

Configuration, credentials (and whose), region, endpoint, log group, log stream, each route's destination,
an optional test event, retention. It creates nothing the exporter would not create. It is bounded in
time: it says what it waits for before an endpoint's first call, each call has short timeouts and no
retry, and no call starts after :data:`CALL_LIMIT` seconds, so a run ends within :data:`RUN_LIMIT`.
"""

from __future__ import annotations

import argparse
import json
import os
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from otel_cw_exporter.cli.aws import (
    InvalidConfiguration,
    check_endpoint_variables,
    configured_routes,
    exporter_config,
    is_loopback,
    make_session,
    name_ahead,
    refused_region,
    region_source,
)
from otel_cw_exporter.cli.errors import (
    ACCESS_DENIED,
    BAD_CREDENTIALS,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CliError,
    describe_error,
    hint,
    region_fix,
)
from otel_cw_exporter.cli.render import as_text, terminal_width
from otel_cw_exporter.config import PREFIX, ExporterConfig, env_name
from otel_cw_exporter.send.groups import GroupSettings
from otel_cw_exporter.send.retry import error_code

Status = Literal["PASS", "FAIL", "SKIP"]

#: Seconds each AWS call of doctor waits to connect, then for an answer (with no retry).
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
#: Seconds after doctor began when it starts no more AWS calls (the checks left are SKIP and the run fails).
CALL_LIMIT = 10.0
#: What the whole run takes at most: no call after CALL_LIMIT, and one call waits CONNECT + READ at most.
RUN_LIMIT = CALL_LIMIT + CONNECT_TIMEOUT + READ_TIMEOUT + 2.0


def call_config() -> Config:
    return Config(retries={"total_max_attempts": 1}, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)


class NoTimeLeft(Exception):
    """Raised instead of an AWS call once :data:`CALL_LIMIT` seconds have passed."""


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    exit_code: int = EXIT_FAILED
    """What a FAIL of this check exits with: EXIT_USAGE for the configuration, credentials and region."""

    def lines(self, width: int) -> list[str]:
        head = f"  {self.status}  {self.name:<13} {self.detail}"
        out = textwrap.wrap(head, width, subsequent_indent=" " * 22, break_on_hyphens=False) or [head]
        if self.fix:
            out.extend(
                textwrap.wrap(
                    f"fix: {self.fix}",
                    width,
                    initial_indent=" " * 22,
                    subsequent_indent=" " * 27,
                    break_on_hyphens=False,
                )
            )
        return out


@dataclass(frozen=True)
class Outcome:
    """What looking at one log group or stream found."""

    status: Status
    detail: str
    fix: str = ""

    @property
    def usable(self) -> bool:
        """Whether what comes after (the stream in the group, the event in the stream) can be checked."""
        return self.status != "FAIL"


@dataclass(frozen=True)
class Destination:
    """Where the records of one route go, as name templates (the exporter's own where the route sets none)."""

    label: str
    when: str
    group: str
    stream: str


def _credentials_source(credentials: Any) -> str:
    method = str(getattr(credentials, "method", "") or "unknown source")
    try:
        key = str(credentials.access_key or "")
    except Exception:
        key = ""
    masked = f"{key[:4]}****{key[-4:]}" if len(key) >= 12 else "****"
    return f"{method}, access key {masked}"


def _when_text(when: Mapping[str, Any]) -> str:
    def values(value: Any) -> str:
        return "|".join(as_text(v) for v in value) if isinstance(value, tuple) else as_text(value)

    return ", ".join(f"{key}={values(value)}" for key, value in when.items())


def destinations(config: ExporterConfig, routes: Sequence[Any]) -> list[Destination]:
    """The routes' destinations other than the exporter's own, each once (labelled by its first route)."""
    seen = {(config.log_group_name, config.log_stream_name)}
    found: list[Destination] = []
    for index, route in enumerate(routes):
        key = (route.log_group_name or config.log_group_name, route.log_stream_name or config.log_stream_name)
        if key in seen:
            continue
        seen.add(key)
        found.append(Destination(f"route [{index}]", _when_text(route.when), *key))
    return found


def _ahead_text(kind: str, template: str, why: str) -> str:
    return f'not checked ahead: the {kind} name comes from the template "{template}" and {why}'


class Doctor:
    """The checks of ``doctor``, run in order; each later one needs the earlier ones to pass."""

    def __init__(self, args: argparse.Namespace, out: Callable[[str], None]) -> None:
        self.args = args
        self.out = out
        self.width = terminal_width()
        self.checks: list[Check] = []
        self.config: ExporterConfig | None = None
        self.group_info: dict[str, Any] | None = None
        self.destinations: list[Destination] = []
        self._groups: dict[str, Outcome] = {}
        self._main_group = ""
        self._began = time.monotonic()
        self._asked: set[str] = set()
        self.out_of_time = False

    def client(self, session: Any, service: str, region: str, endpoint: str | None = None) -> Any:
        """A client with doctor's timeouts, that makes no call once :data:`CALL_LIMIT` has passed."""
        client = session.client(service, region_name=region, endpoint_url=endpoint or None, config=call_config())
        client.meta.events.register("before-call", self._before_call)
        return client

    def _before_call(self, **_: Any) -> None:
        if time.monotonic() - self._began > CALL_LIMIT:
            self.out_of_time = True
            raise NoTimeLeft(f"not checked: doctor starts no AWS call after {CALL_LIMIT:g} s, and the calls were slow")

    def waiting(self, name: str, url: str, what: str = "") -> None:
        """Before the first call to ``url``: what doctor waits for, and how long at most."""
        if url in self._asked:
            return
        self._asked.add(url)
        text = (
            f"  ....  {name:<13} waiting for {url}{what} (at most {CONNECT_TIMEOUT:g} s to connect, "
            f"{READ_TIMEOUT:g} s to answer)"
        )
        for line in textwrap.wrap(text, self.width, subsequent_indent=" " * 22, break_on_hyphens=False):
            self.out(line)

    def failure(self, error: BaseException, prefix: str = "", **where: Any) -> Outcome:
        """What an exception from a call says: SKIP when the time was up, else FAIL with the fix."""
        if isinstance(error, NoTimeLeft):
            return Outcome("SKIP", str(error))
        problem = describe_error(error, **where)
        return Outcome("FAIL", prefix + problem.message, problem.fix)

    def report(self, check: Check) -> Check:
        self.checks.append(check)
        for line in check.lines(self.width):
            self.out(line)
        return check

    def skip(self, names: Iterable[str], why: str) -> None:
        for name in names:
            self.report(Check(name, "SKIP", f"not checked: {why}"))

    def run(self) -> int:
        args = self.args
        config_error: CliError | None = None
        group = stream = group_why = stream_why = ""
        routes: list[Any] = []
        try:
            if not (args.endpoint_url or os.environ.get(env_name("endpoint_url"), "").strip()):
                check_endpoint_variables()
            self.config = exporter_config(args, args.group)
            if self.config is not None:
                group, group_why = name_ahead(self.config.log_group_name, "group")
                stream, stream_why = name_ahead(self.config.log_stream_name, "stream")
                routes = configured_routes(self.config)
                self.destinations = destinations(self.config, routes)
        except CliError as error:
            config_error = error
            self.config = None
        config = self.config
        intro = f"Checking the exporter's configuration (arguments, then {PREFIX}* variables, then boto3's chain):"
        for line in textwrap.wrap(intro, self.width):
            self.out(line)
        if config is not None:
            count = len(routes)
            self.report(
                Check(
                    "configuration",
                    "PASS",
                    f'group "{group}"'
                    + _name_note(config.log_group_name, group, config.create_log_group)
                    + f', stream "{stream}"'
                    + _name_note(config.log_stream_name, stream, config.create_log_stream)
                    + (f", {count} route{'s' if count != 1 else ''}" if count else ""),
                )
            )
        else:
            assert config_error is not None
            self.report(Check("configuration", "FAIL", config_error.message, config_error.fix, EXIT_USAGE))
        later = ("log group", "log stream", *(d.label for d in self.destinations), "test event", "retention")
        if isinstance(config_error, InvalidConfiguration):  # no call with a value the exporter refuses
            self.skip(("credentials", "region", "endpoint", *later), "needs a valid configuration")
            return self.finish()

        session: Any = None
        try:
            session = make_session(args.profile)
        except CliError as error:
            self.report(Check("credentials", "FAIL", error.message, error.fix, EXIT_USAGE))
            self.skip(("region", "endpoint", *later), "no AWS profile")
            return self.finish()
        region = args.region or (config.region_name if config else None) or session.region_name
        refused = refused_region(region, region_source(args)) if region else None
        credentials = None
        try:
            credentials = session.get_credentials()
        except BotoCoreError as error:
            self.report(
                Check(
                    "credentials",
                    "FAIL",
                    f"could not load credentials: {error}",
                    hint("NoCredentialsError"),
                    EXIT_USAGE,
                )
            )
        if credentials is None:
            if not any(c.name == "credentials" for c in self.checks):
                self.report(
                    Check("credentials", "FAIL", "no AWS credentials found", hint("NoCredentialsError"), EXIT_USAGE)
                )
        else:
            self.report(self.check_identity(session, credentials, None if refused else region, config))
        if refused is not None:
            self.report(Check("region", "FAIL", refused.message, refused.fix, EXIT_USAGE))
        elif region:
            unknown = "" if _known_region(session, region) else "; not a region botocore knows for CloudWatch Logs"
            self.report(Check("region", "PASS", f"{region} (from {region_source(args)}{unknown})"))
        else:
            self.report(Check("region", "FAIL", "no AWS region configured", region_fix(), EXIT_USAGE))
        if credentials is None or not region or refused is not None:
            self.skip(("endpoint", *later), "needs credentials and a region")
            return self.finish()
        endpoint = (
            args.endpoint_url or (config.endpoint_url if config else None) or os.environ.get(env_name("endpoint_url"))
        )
        client = self.client(session, "logs", region, endpoint)
        if not self.check_endpoint(client, group or "-"):
            self.skip(later, "needs the endpoint")
            return self.finish()
        if config is None:
            self.skip(later, "needs a log group")
            return self.finish()
        stream_ok = False
        if group_why:
            self.report(Check("log group", "SKIP", _ahead_text("group", config.log_group_name, group_why)))
            self.skip(("log stream",), "the log group is known only when a record arrives")
        else:
            outcome = self.group_outcome(client, config, group, region, main=True)
            self.report(Check("log group", outcome.status, outcome.detail, outcome.fix))
            if not outcome.usable:
                self.skip(("log stream",), "needs the log group")
            elif stream_why:
                self.report(Check("log stream", "SKIP", _ahead_text("stream", config.log_stream_name, stream_why)))
            else:
                found = self.stream_outcome(client, config, group, stream, region)
                self.report(Check("log stream", found.status, found.detail, found.fix))
                stream_ok = found.status == "PASS"
        for destination in self.destinations:
            self.report(self.check_destination(client, config, destination, region))
        if not args.put_test_event:
            self.report(Check("test event", "SKIP", "not sent: pass --put-test-event to store one test event"))
        elif not stream_ok:
            self.skip(("test event",), "needs the log stream")
        else:
            self.check_put(client, group, stream, region)
        if group_why:
            self.skip(("retention",), "the log group is known only when a record arrives")
        else:
            self.check_retention(config, group)
        return self.finish()

    def finish(self) -> int:
        """The summary line; the exit code: the most severe failed check's (EXIT_USAGE over EXIT_FAILED)."""
        failed = [c for c in self.checks if c.status == "FAIL"]
        passed = sum(c.status == "PASS" for c in self.checks)
        skipped = sum(c.status == "SKIP" for c in self.checks)
        self.out("")
        if self.out_of_time:
            self.out(
                f"Doctor's time limit was reached (no AWS call after {CALL_LIMIT:g} s): {passed} passed, "
                f"{len(failed)} failed, {skipped} not checked."
            )
            return max((c.exit_code for c in failed), default=EXIT_FAILED)
        if failed:
            self.out(f"{len(failed)} of {len(self.checks)} checks failed ({passed} passed, {skipped} not checked).")
        else:
            self.out(f"All checks passed ({passed} passed, {skipped} not checked).")
        return max((c.exit_code for c in failed), default=EXIT_OK)

    def check_identity(
        self, session: Any, credentials: Any, region: str | None, config: ExporterConfig | None
    ) -> Check:
        source = _credentials_source(credentials)
        if not region:
            return Check("credentials", "PASS", f"found ({source}); caller identity not checked: no usable region")
        logs_endpoint = self.args.endpoint_url or (config.endpoint_url if config else None)
        if logs_endpoint is None:
            logs_endpoint = session.client("logs", region_name=region).meta.endpoint_url
        sts = self.client(session, "sts", region)
        if is_loopback(logs_endpoint) and not is_loopback(sts.meta.endpoint_url):
            return Check(
                "credentials",
                "PASS",
                f"found ({source}); caller identity not asked: the logs endpoint is local "
                "(set AWS_ENDPOINT_URL_STS to ask a local STS)",
            )
        self.waiting("credentials", sts.meta.endpoint_url, " (STS: whose credentials)")
        try:
            arn = sts.get_caller_identity().get("Arn", "?")
        except ClientError as error:
            code = error_code(error)
            if code in BAD_CREDENTIALS:
                return Check(
                    "credentials",
                    "FAIL",
                    f"found ({source}) but AWS rejected them ({code})",
                    hint(code, "check the credentials, their account and the region"),
                    EXIT_USAGE,
                )
            return Check(
                "credentials", "PASS", f"found ({source}); caller identity unknown: sts:GetCallerIdentity {code}"
            )
        except Exception as error:
            why = "no time left" if isinstance(error, NoTimeLeft) else type(error).__name__
            return Check("credentials", "PASS", f"found ({source}); caller identity unknown ({why})")
        return Check("credentials", "PASS", f"found ({source}); caller {arn}")

    def check_endpoint(self, client: Any, group: str) -> bool:
        url = client.meta.endpoint_url
        self.waiting("endpoint", url)
        started = time.monotonic()
        try:
            client.describe_log_groups(logGroupNamePrefix=group, limit=1)
        except ClientError:
            pass  # an answer all the same: the endpoint is there (the group check says more)
        except ReadTimeoutError:
            self.report(
                Check(
                    "endpoint",
                    "FAIL",
                    f"{url} took the connection but sent no answer in {READ_TIMEOUT:g} s (ReadTimeoutError)",
                    "check that this is a CloudWatch Logs endpoint and that it runs (not stopped or stuck), "
                    "then --endpoint-url (or AWS_ENDPOINT_URL_CLOUDWATCH_LOGS) and any proxy",
                )
            )
            return False
        except Exception as error:
            outcome = self.failure(error, endpoint=url)
            self.report(Check("endpoint", outcome.status, outcome.detail, outcome.fix))
            return False
        elapsed = (time.monotonic() - started) * 1000
        self.report(Check("endpoint", "PASS", f"{url} answered in {elapsed:.0f} ms"))
        return True

    def group_outcome(
        self, client: Any, config: ExporterConfig, group: str, region: str, *, main: bool = False
    ) -> Outcome:
        """Whether ``group`` exists, or was created as the exporter would (create_log_group); once per group."""
        if group in self._groups:
            return self._groups[group]
        outcome, info = self._look_at_group(client, config, group, region)
        self._groups[group] = outcome
        if main:
            self.group_info = info
            self._main_group = group
        return outcome

    def _look_at_group(
        self, client: Any, config: ExporterConfig, group: str, region: str
    ) -> tuple[Outcome, dict[str, Any] | None]:
        try:
            answer = client.describe_log_groups(logGroupNamePrefix=group, limit=5)
        except ClientError as error:
            code = error_code(error)
            if code in ACCESS_DENIED:
                return Outcome(
                    "SKIP",
                    f'"{group}" not checked: logs:DescribeLogGroups is not allowed ({code}); the exporter does '
                    "not need it, the stream check shows whether the group exists",
                ), None
            return self.failure(error, group=group, region=region), None
        except Exception as error:
            return self.failure(error, group=group, region=region), None
        info = next((g for g in answer.get("logGroups", []) if g.get("logGroupName") == group), None)
        if info is not None:
            return Outcome("PASS", f'"{group}" exists; it keeps {_retention_text(info)}'), info
        if not config.create_log_group:
            return Outcome(
                "FAIL",
                f'"{group}" does not exist in {region}',
                f"create it (aws logs create-log-group --log-group-name {group} --region {region}), or set "
                f"{env_name('create_log_group')}=true (or pass --create-group) to let the exporter create it",
            ), None
        settings = GroupSettings.of(config)
        try:  # as the exporter creates it
            client.create_log_group(**settings.create_log_group_kwargs(group))
            if config.retention_days:
                client.put_retention_policy(logGroupName=group, retentionInDays=config.retention_days)
        except Exception as error:
            return self.failure(
                error, f'"{group}" does not exist and cannot be created: ', group=group, region=region
            ), None
        info = {"logGroupName": group, "retentionInDays": config.retention_days}
        return Outcome("PASS", f'"{group}" did not exist: created it, as the exporter would'), info

    def stream_outcome(self, client: Any, config: ExporterConfig, group: str, stream: str, region: str) -> Outcome:
        """Whether the exporter can write to ``stream``: it exists, or (create_log_stream) it can be created.
        With create_log_stream off the stream is only looked up, never created."""
        if not config.create_log_stream:
            return self._look_up_stream(client, group, stream, region)
        try:
            client.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as error:
            if error_code(error) == "ResourceAlreadyExistsException":
                return Outcome("PASS", f'"{stream}" exists')
            return self.failure(error, f'"{stream}" cannot be created: ', group=group, stream=stream, region=region)
        except Exception as error:
            return self.failure(error, group=group, stream=stream, region=region)
        return Outcome("PASS", f'"{stream}" can be created (created it, as the exporter would)')

    def _look_up_stream(self, client: Any, group: str, stream: str, region: str) -> Outcome:
        variable = env_name("create_log_stream")
        try:
            answer = client.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream, limit=5)
        except ClientError as error:
            code = error_code(error)
            problem = describe_error(error, group=group, stream=stream, region=region)
            if code in ACCESS_DENIED:
                return Outcome(
                    "SKIP",
                    f'"{stream}" not checked: {problem.message}; the exporter does not need '
                    f"logs:DescribeLogStreams ({variable} is false: it only writes to the stream)",
                )
            return Outcome("FAIL", problem.message, problem.fix)
        except Exception as error:
            return self.failure(error, group=group, stream=stream, region=region)
        if any(s.get("logStreamName") == stream for s in answer.get("logStreams", [])):
            return Outcome("PASS", f'"{stream}" exists ({variable} is false: the exporter creates no stream)')
        return Outcome(
            "FAIL",
            f'"{stream}" does not exist in "{group}", and the exporter will not create it ({variable} is false)',
            f"create it (aws logs create-log-stream --log-group-name {group} --log-stream-name {stream} "
            f"--region {region}), or set {variable}=true",
        )

    def check_destination(self, client: Any, config: ExporterConfig, destination: Destination, region: str) -> Check:
        """One line for one route's destination: its group, then its stream, as the exporter would meet them."""
        group, group_why = name_ahead(destination.group, "group")
        stream, stream_why = name_ahead(destination.stream, "stream")
        shown_group = destination.group if group_why else group
        shown_stream = destination.stream if stream_why else stream
        head = f'{destination.when} -> group "{shown_group}", stream "{shown_stream}": '
        label = destination.label
        if group_why:
            return Check(label, "SKIP", head + _ahead_text("group", destination.group, group_why))
        if group == self._main_group and not self._groups[group].usable:
            return Check(label, "SKIP", f"{head}not checked: needs the log group")
        found = self.group_outcome(client, config, group, region)
        if found.status == "SKIP" and self.out_of_time:
            return Check(label, "SKIP", head + found.detail)
        if not found.usable:
            return Check(label, "FAIL", head + "log group " + found.detail, found.fix)
        group_text = "log group as above" if group == self._main_group else "log group " + found.detail
        if stream_why:
            return Check(
                label, "SKIP", f"{head}{group_text}; stream " + _ahead_text("stream", destination.stream, stream_why)
            )
        written = self.stream_outcome(client, config, group, stream, region)
        return Check(label, written.status, f"{head}{group_text}; stream {written.detail}", written.fix)

    def check_put(self, client: Any, group: str, stream: str, region: str) -> None:
        now = time.time()
        message = {
            "timestamp": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": "INFO",
            "message": f"{PROG} doctor: test event",
            "logger": "otel_cw_exporter.doctor",
        }
        try:
            answer = client.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": int(now * 1000), "message": json.dumps(message)}],
            )
        except Exception as error:
            outcome = self.failure(error, group=group, stream=stream, region=region)
            self.report(Check("test event", outcome.status, outcome.detail, outcome.fix))
            return
        rejected = answer.get("rejectedLogEventsInfo")
        if rejected:
            self.report(Check("test event", "FAIL", f"CloudWatch rejected it: {rejected}", "check the machine's clock"))
            return
        self.report(Check("test event", "PASS", f"stored one event in {group}/{stream}"))

    def check_retention(self, config: ExporterConfig, group: str) -> None:
        wanted = config.retention_days
        if self.group_info is None:
            if wanted is None:
                self.report(Check("retention", "PASS", "not configured (the group keeps its own retention)"))
            else:
                self.report(
                    Check("retention", "SKIP", f"not checked: the group's retention is unknown (wanted {wanted} days)")
                )
            return
        actual = self.group_info.get("retentionInDays")
        if wanted is None:
            self.report(
                Check(
                    "retention",
                    "PASS",
                    f"not configured; the group keeps {_retention_text(self.group_info)} "
                    f"({env_name('retention_days')} sets it on groups the exporter creates)",
                )
            )
        elif actual == wanted:
            self.report(Check("retention", "PASS", f"{wanted} days, as configured"))
        else:
            self.report(
                Check(
                    "retention",
                    "FAIL",
                    f"configured {wanted} days, but the group keeps {_retention_text(self.group_info)}",
                    f"aws logs put-retention-policy --log-group-name {group} --retention-in-days {wanted} "
                    "(the exporter sets retention only on groups it creates)",
                )
            )


def _name_note(template: str, rendered: str, create: bool) -> str:
    notes = [] if template == rendered else [f'from "{template}"']
    if rendered.startswith("unknown_service"):
        notes.append("set OTEL_SERVICE_NAME as your service does, or pass --stream")
    notes.append(f"create if missing: {'yes' if create else 'no'}")
    return f" ({'; '.join(notes)})"


def _known_region(session: Any, region: str) -> bool:
    """Whether botocore lists ``region`` for CloudWatch Logs in a partition (an older botocore may not
    know a new region: a note, never a failure)."""
    try:
        return any(
            region in session.get_available_regions("logs", partition_name=partition)
            for partition in session.get_available_partitions()
        )
    except Exception:  # nothing to tell from
        return True


def _retention_text(group: Mapping[str, Any]) -> str:
    days = group.get("retentionInDays")
    return f"events for {days} day{'' if days == 1 else 's'}" if days else "events forever (no retention policy)"


def cmd_doctor(args: argparse.Namespace) -> int:
    return Doctor(args, lambda line: print(line, flush=True)).run()
