"""How the exporter creates a log group: its retention, tags and KMS key, applied once, never to one that existed.

``doctor`` creates a missing group exactly this way, so what it checks is what the exporter would do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from otel_cw_exporter.config import ExporterConfig


@dataclass(frozen=True)
class GroupSettings:
    """Applied once to a log group the exporter creates, never to one that already existed."""

    retention_days: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    kms_key_id: str | None = None

    @classmethod
    def of(cls, config: ExporterConfig) -> GroupSettings:
        return cls(config.retention_days, dict(config.tags), config.kms_key_id)

    def create_log_group_kwargs(self, group: str) -> dict[str, Any]:
        """CreateLogGroup's arguments (retention is a call of its own: PutRetentionPolicy)."""
        kwargs: dict[str, Any] = {"logGroupName": group}
        if self.tags:
            kwargs["tags"] = dict(self.tags)
        if self.kms_key_id:
            kwargs["kmsKeyId"] = self.kms_key_id
        return kwargs
