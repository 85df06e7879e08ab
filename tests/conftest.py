"""Shared fixtures: the local CloudWatch Logs endpoint comes from the library's own pytest plugin."""

pytest_plugins = ["otel_cw_exporter.testing"]
