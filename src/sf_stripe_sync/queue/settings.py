"""``[queue]`` settings: the task queue's schedule, retries, and how stalls are noticed.

Theory of operation: the queue needs ``state.url`` (the queue's tables live in the
store's PostgreSQL database). ``schedule`` is the cron of the periodic scheduled sync
(it only enqueues; workers do the work). A job whose contract is busy, or that failed
for a transient reason, is retried ``retry_wait_seconds`` later, up to
``max_attempts`` times. A worker beats every ``heartbeat_seconds``; one silent for
``stalled_after_seconds`` is taken for dead, and its running jobs go back to the queue
(its contract leases then expire after ``state.lease_ttl_seconds``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class QueueSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "sf-stripe-sync"
    """The procrastinate queue the jobs go to and the workers listen on."""
    schedule: str = "*/5 * * * *"
    """Cron of the periodic scheduled sync (every five minutes by default); empty: none
    (only ``sync --enqueue`` and triggers bring work)."""
    concurrency: int = Field(default=1, ge=1)
    """Jobs one worker process runs at once (each job also uses ``concurrency`` threads)."""
    retry_wait_seconds: float = Field(default=10.0, ge=0)
    max_attempts: int = Field(default=50, ge=1)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    stalled_after_seconds: float = Field(default=30.0, gt=0)
    poll_seconds: float = Field(default=2.0, gt=0)
    """How often an idle worker looks for jobs besides listening for notifications."""
