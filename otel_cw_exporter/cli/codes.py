"""The command line's exit codes: one rule for every command, read before anything heavy is imported."""

PROG = "otel-cw-exporter"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: The rule, as the module's docstring, ``--help`` and the README state it.
EXIT_CODES = (
    "Exit codes, the same for every command, doctor included: 0 ok; 1 an AWS call or a check failed "
    "(access denied, a missing log group or stream, an unreachable endpoint...); 2 a usage or configuration "
    "error (bad arguments, an invalid option or variable, no log group, no region, no credentials or "
    "credentials AWS rejects); 130 interrupted, except tail and local, which Ctrl-C (or SIGTERM) ends with 0, "
    "as it ends demo --keep once the demo has run."
)

#: Commands that Ctrl-C (or SIGTERM) ends normally: exit code 0, not 130.
STOPPED_BY_CTRL_C = frozenset({"tail", "local"})
