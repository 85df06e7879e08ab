"""The application side: what a service calls, in its own threads and event loops. Never raises into it.

- :mod:`.configure`: ``setup()``, the one call that builds resource, exporter, processor and provider;
- :mod:`.stdlib`: :class:`OTelHandler`, stdlib ``logging`` into OTel;
- :mod:`.dictconfig`: ``cloudwatch_handler``, one handler per stream for ``dictConfig``;
- :mod:`.audit`: ``cloudwatch_log``, a security or audit event with the caller's identity;
- :mod:`.identity`: :class:`JWTIdentityResolver`, the user from a verified JWT;
- :mod:`.aws_lambda`: flush at the end of every Lambda invocation.

The public homes of these are ``otel_cw_exporter`` itself and its modules ``stdlib``, ``audit`` and
``aws_lambda``.
"""
