"""Fault injection for the local org: the failures a real org produces, on demand.

Theory of operation: ``OrgFaults`` is a plain description of what should go wrong;
``FaultInjector`` applies it to each API call. Two styles, combinable:

* one-shot counters (``next_unavailable=2``: the next two matching calls get a 503),
  which make precise, deterministic tests;
* probabilities drawn from a ``random.Random(seed)``, for soak and chaos runs that
  still replay the same way with the same seed.

Faults apply to API calls under /services/data whose kind is in ``only`` (empty means
every kind). Kinds: ``query`` (query, queryAll, query pages), ``read`` (GET a record),
``write`` (insert, update, delete, composite), ``describe``, ``limits``. The whole-call
lock failure applies to writes only; ``locked_record_ids`` and ``record_lock_rate`` fail
single records inside a composite write (and a single-record write) with
UNABLE_TO_LOCK_ROW. ``daily_api_limit`` caps DailyApiRequests: past it every API call is
answered 403 REQUEST_LIMIT_EXCEEDED, as a real org does.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

FaultKind = Literal["invalid_session", "unavailable", "lock_row", "request_limit"]
CALL_KINDS = frozenset({"query", "read", "write", "describe", "limits"})


@dataclass(frozen=True)
class OrgFaults:
    seed: int | None = None
    latency_ms: float = 0.0
    invalid_session_rate: float = 0.0
    unavailable_rate: float = 0.0
    lock_row_rate: float = 0.0
    record_lock_rate: float = 0.0
    request_limit_rate: float = 0.0
    next_invalid_session: int = 0
    next_unavailable: int = 0
    next_lock_row: int = 0
    next_request_limit: int = 0
    locked_record_ids: tuple[str, ...] = ()
    daily_api_limit: int | None = None
    only: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("invalid_session_rate", "unavailable_rate", "lock_row_rate",
                     "record_lock_rate", "request_limit_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        unknown = set(self.only) - CALL_KINDS
        if unknown:
            raise ValueError(f"unknown call kinds in only: {sorted(unknown)}")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrgFaults:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        values = dict(data)
        for name in ("locked_record_ids", "only"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


class FaultInjector:
    """Decides, call by call, which fault (if any) the org answers with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults = OrgFaults()
        self._random = random.Random()

    def set(self, faults: OrgFaults) -> None:
        with self._lock:
            self._faults = faults
            self._random = random.Random(faults.seed)

    def clear(self) -> None:
        self.set(OrgFaults())

    @property
    def current(self) -> OrgFaults:
        return self._faults

    def latency_seconds(self) -> float:
        return max(self._faults.latency_ms, 0.0) / 1000.0

    def daily_api_limit(self, default: int) -> int:
        limit = self._faults.daily_api_limit
        return default if limit is None else limit

    def draw(self, call_kind: str) -> FaultKind | None:
        """The call-level fault for this call, consuming one-shot counters."""
        with self._lock:
            f = self._faults
            if f.only and call_kind not in f.only:
                return None
            candidates: list[tuple[FaultKind, str, float]] = [
                ("invalid_session", "next_invalid_session", f.invalid_session_rate),
                ("request_limit", "next_request_limit", f.request_limit_rate),
                ("unavailable", "next_unavailable", f.unavailable_rate),
            ]
            if call_kind == "write":
                candidates.append(("lock_row", "next_lock_row", f.lock_row_rate))
            for kind, counter, _rate in candidates:
                remaining = getattr(f, counter)
                if remaining > 0:
                    self._faults = replace(f, **{counter: remaining - 1})
                    return kind
            for kind, _counter, rate in candidates:
                if rate > 0 and self._random.random() < rate:
                    return kind
            return None

    def record_locked(self, record_id: str | None) -> bool:
        """Whether one record in a write fails with UNABLE_TO_LOCK_ROW."""
        with self._lock:
            f = self._faults
            if record_id and any(record_id[:15] == r[:15] for r in f.locked_record_ids):
                return True
            return f.record_lock_rate > 0 and self._random.random() < f.record_lock_rate
