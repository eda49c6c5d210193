"""What ops watch and steer: figures (`status`), the broker and workers (`broker`), the
verdict (`health`), one prospect's history (`history`), Prometheus (`metrics`)."""

from __future__ import annotations

from nurture.ops.broker import ping_workers, queue_depths
from nurture.ops.health import assess, snapshot
from nurture.ops.status import collect_status

__all__ = ["assess", "collect_status", "ping_workers", "queue_depths", "snapshot"]
