"""``python -m otel_cw_exporter``: the same as the ``otel-cw-exporter`` command."""

from otel_cw_exporter.cli import main

raise SystemExit(main())
