"""The CloudWatch Logs API limits the exporter must respect, in one place.

Source: botocore's service model for ``logs`` (2014-03-28) and the PutLogEvents documentation.
"""

from __future__ import annotations

#: Bytes CloudWatch adds to every event's UTF-8 message length when sizing a request.
EVENT_OVERHEAD = 26
#: Largest PutLogEvents request: sum of (message UTF-8 bytes + 26) over its events.
MAX_REQUEST_BYTES = 1_048_576
#: Largest single event, counted the same way (message bytes + 26).
MAX_EVENT_BYTES = 1_048_576
#: Most events in one PutLogEvents request.
MAX_REQUEST_EVENTS = 10_000
#: Most time between the first and last event of one request, in milliseconds.
MAX_REQUEST_SPAN_MS = 24 * 3600 * 1000
#: Events older than this are rejected by CloudWatch.
MAX_EVENT_AGE_MS = 14 * 24 * 3600 * 1000
#: Events further ahead than this are rejected by CloudWatch.
MAX_EVENT_AHEAD_MS = 2 * 3600 * 1000

#: Log group and stream names: 1..512 characters.
MAX_NAME_LENGTH = 512
#: Characters a log group name may hold (besides ASCII letters and digits).
GROUP_NAME_EXTRA_CHARS = "._-/#"
#: Characters a log stream name may not hold.
STREAM_NAME_FORBIDDEN_CHARS = ":*"

#: The only values PutRetentionPolicy accepts.
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
#: Tags per log group.
MAX_TAGS = 50
#: A tag's key: 1..128 characters; its value: 0..256.
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
#: Characters a tag key or value may hold besides Unicode letters, digits and spaces.
TAG_EXTRA_CHARS = "_.:/=+-@"
#: A KMS key id or ARN: at most 256 characters.
MAX_KMS_KEY_ID_LENGTH = 256
