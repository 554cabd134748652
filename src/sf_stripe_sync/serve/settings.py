"""The ``[serve]`` configuration section: the trigger endpoint's knobs.

Theory of operation: a plain frozen pydantic model read by ``config.Settings`` like the
other sections (TOML, then ``SF_STRIPE_SYNC__SERVE__...``). The trigger secret itself is
never here: ``trigger_secret_env`` names the variable that holds it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServeSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger_secret_env: str = "SF_STRIPE_SYNC_TRIGGER_SECRET"
    """Environment variable (or secrets-file key) holding the HMAC secret of ``X-Signature``."""
    replay_window_seconds: int = Field(default=300, ge=1)
    """A signature older (or further in the future) than this is refused."""
    max_ids: int = Field(default=200, ge=1, le=2000)
    """Most Order ids one request may carry."""
    organization_id: str | None = None
    """The org whose Outbound Messages are accepted (00D...); None refuses them all."""
    batch_size: int = Field(default=50, ge=1, le=200)
    """Most queued ids one triggered run syncs."""
    poll_seconds: float = Field(default=2.0, gt=0)
    """How often the runner looks for ids enqueued by another process."""
    retry_delay_seconds: float = Field(default=30.0, ge=0)
    """How long an id whose sync failed transiently waits before it is tried again."""
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
