"""The package's version, in one place: ``pyproject.toml``, ``__version__`` and the user agent read it."""

__version__ = "0.1.0"
#: What the exporter adds to botocore's user agent, so its calls can be told apart in CloudTrail.
USER_AGENT = f"otel-cw-exporter/{__version__}"
