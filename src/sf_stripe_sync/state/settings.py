"""``[state]`` settings: where the state store lives and how its leases behave.

Theory of operation: with no ``url`` the store is the SQLite file in ``state_dir``
(nothing to install, one host). ``url = "postgresql://user@host/db"`` (or the
environment variable ``SF_STRIPE_SYNC__STATE__URL``) makes it a PostgreSQL store that
many hosts and workers share; put the password in ``PGPASSWORD`` or ``~/.pgpass`` rather
than in the URL (it is redacted from every message either way).

A contract lease lasts ``lease_ttl_seconds`` and its holder renews it every third of
that while it lives (``run_leases.LeaseKeeper``): a host killed anywhere frees its
contracts at most one TTL later, and any host may then take them over.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StateSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = None
    """``postgresql://...`` for a shared store; None keeps SQLite in the state dir."""
    lease_ttl_seconds: float = Field(default=60.0, gt=0)
    """How long a contract lease outlives its holder's last heartbeat."""
    busy_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long a write waits for another writer before giving up (transient)."""
    pool_size: int = Field(default=8, ge=2)
    """Postgres connections per process (the engine's threads plus the heartbeat)."""

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (leave it unset for SQLite)")
        return value or None
