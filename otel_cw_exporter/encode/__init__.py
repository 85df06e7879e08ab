"""Record -> event JSON, the first stage of the pipeline. Pure: no I/O, no threads.

- :mod:`.event`: :class:`EventEncoder`, the event's fields in the schema's order (``event-schema.md``);
- :mod:`.jsonsafe`: any Python value as valid JSON text (orjson when installed, the stdlib else);
- :mod:`.redaction`: secrets masked before anything leaves the process;
- :mod:`.truncation`: an event over CloudWatch's 1 MB cut so it fits and stays one JSON object.
"""

from otel_cw_exporter.encode.event import Event, EventEncoder
from otel_cw_exporter.encode.redaction import Redactor

__all__ = ["Event", "EventEncoder", "Redactor"]
