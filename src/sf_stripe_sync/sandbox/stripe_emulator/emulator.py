"""``StripeEmulator``: the Python face of the local Stripe API (tests, CLI, demos).

Theory of operation: the emulator owns the clock, the object store, the idempotency
ledger, the fault injector and the request log, all behind one lock (``ApiCore``), and
serves them over a threaded loopback HTTP server (``server``). ``start`` binds (port 0
picks a free port) and serves in a daemon thread; ``stop`` shuts down and, with a state
file, saves. The state file (objects, coupon redemptions, saved idempotent results) is
written atomically about a second after a change (``persistence``: one write covers
every change made meanwhile), on ``stop``, on ``reset`` and when asked (``save_state``,
``POST /_emulator/save``); a killed process loses at most the last second of changes.
Reading objects brings schedule statuses up to the emulator clock first. With
``search_lag_seconds`` search trails writes by that long on the emulator clock
(``search_index``), as Stripe's eventually consistent search does. Schedules are
billed (invoices, events) as their customer's test clock advances; with
``bill_without_test_clock`` the others are billed in the emulator's own time too, caught
up whenever the clock is set or advanced and before invoices, subscriptions or events
are read. Webhook endpoints (``/v1/webhook_endpoints``, loopback URLs only) get their
events POSTed and signed by a background thread (``webhooks``); ``deliver_webhooks``
delivers what is pending at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.api import ApiCore, snapshot
from sf_stripe_sync.sandbox.stripe_emulator.clock import EmulatorClock
from sf_stripe_sync.sandbox.stripe_emulator.faults import FaultConfig, FaultInjector
from sf_stripe_sync.sandbox.stripe_emulator.idempotency import (
    DEFAULT_TTL_SECONDS,
    IdempotencyLedger,
)
from sf_stripe_sync.sandbox.stripe_emulator.persistence import (
    DEFAULT_SAVE_DELAY_SECONDS,
    DebouncedSaver,
)
from sf_stripe_sync.sandbox.stripe_emulator.resources import coupons, schedules
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import Context
from sf_stripe_sync.sandbox.stripe_emulator.search_index import SearchIndex
from sf_stripe_sync.sandbox.stripe_emulator.seed import apply_seed, load_seed
from sf_stripe_sync.sandbox.stripe_emulator.server import make_server
from sf_stripe_sync.sandbox.stripe_emulator.store import (
    JSON,
    KINDS,
    PLATFORM,
    ObjectStore,
    write_text_atomically,
)
from sf_stripe_sync.sandbox.stripe_emulator.webhooks import WebhookDispatcher

STATE_VERSION = 1


class StripeEmulator:
    """A stateful local Stripe API for the official SDK (``base_addresses={"api": url}``)."""

    def __init__(
        self,
        seed: dict[str, Any] | Path | None = None,
        state_file: Path | None = None,
        now: int | None = None,
        *,
        faults: FaultConfig | None = None,
        idempotency_ttl: int = DEFAULT_TTL_SECONDS,
        save_delay: float = DEFAULT_SAVE_DELAY_SECONDS,
        search_lag_seconds: int = 0,
        bill_without_test_clock: bool = False,
    ) -> None:
        self.clock = EmulatorClock(now)
        self.state_file = Path(state_file) if state_file is not None else None
        self._seed = load_seed(seed)
        self._initial_faults = faults or FaultConfig()
        self._saver = DebouncedSaver(self._write_state, save_delay)
        persist = self._saver.changed if self.state_file is not None else _nothing
        self.core = ApiCore(self.clock, ObjectStore(), IdempotencyLedger(idempotency_ttl),
                            FaultInjector(self._initial_faults), persist,
                            SearchIndex(search_lag_seconds))
        self.core.store.bill_without_test_clock = bill_without_test_clock
        self.webhooks = WebhookDispatcher(self.core)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        with self.core.lock:
            self._load_state()
            apply_seed(self.core.store, self._seed, self.clock.now())

    # lifecycle -----------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> StripeEmulator:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._server = make_server(self, host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="stripe-emulator", daemon=True)
        self._thread.start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        self.webhooks.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._saver.cancel()
        self.save_state()

    @contextmanager
    def running(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[StripeEmulator]:
        self.start(host, port)
        try:
            yield self
        finally:
            self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # clock and faults -------------------------------------------------------------------
    def now(self) -> int:
        return self.clock.now()

    def set_now(self, ts: int) -> None:
        self.clock.set_now(ts)
        self._bill_up_to_now()

    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self._bill_up_to_now()

    def _bill_up_to_now(self) -> None:
        """Billing without test clocks follows the emulator's clock: catch up at once."""
        if not self.core.store.bill_without_test_clock:
            return
        with self.core.lock:
            for account in self.core.store.accounts():
                schedules.refresh_all(Context(self.core.store, account, self.clock.now(), {}))
        self.core.persist()

    def set_faults(self, config: FaultConfig) -> None:
        self.core.faults.configure(config)

    def set_search_lag(self, seconds: int) -> None:
        """How long a write takes to reach search (emulator-clock seconds; 0: at once)."""
        self.core.search_index.configure(seconds)

    def clear_faults(self) -> None:
        self.core.faults.configure(FaultConfig())

    def faults_config(self) -> FaultConfig:
        return self.core.faults.config

    def deliver_webhooks(self) -> int:
        """Deliver every event webhook endpoints are waiting for, now (see ``webhooks``)."""
        return self.webhooks.deliver()

    # inspection -----------------------------------------------------------------------------
    def requests(self) -> list[JSON]:
        with self.core.lock:
            return [dict(snapshot(entry)) for entry in self.core.log]

    def clear_requests(self) -> None:
        with self.core.lock:
            self.core.log.clear()

    def objects(self, kind: str, account: str | None = None) -> list[JSON]:
        """Stored objects of a kind, oldest first (schedule statuses brought up to now)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        with self.core.lock:
            ctx = Context(self.core.store, account or PLATFORM, self.clock.now(), {})
            found = ctx.all(kind)
            if kind == "subscription_schedule":
                found = [schedules.refresh(ctx, s) for s in found]
            if kind == "coupon":
                found = [coupons.refresh_validity(c, ctx.now) for c in found]
            return [dict(snapshot(o)) for o in found]

    def reset(self) -> None:
        """Forget every object, key, request and fault; reload the seed."""
        with self.core.lock:
            self.core.store.clear()
            self.core.ledger.clear()
            self.core.log.clear()
            self.core.search_index.clear()
            self.core.faults.configure(self._initial_faults)
            apply_seed(self.core.store, self._seed, self.clock.now())
        self.save_state()  # outside the lock: a timed save takes it after its own

    # persistence ------------------------------------------------------------------------
    def _load_state(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"{self.state_file}: unsupported state version {data.get('version')}")
        self.core.store.load_json(data.get("store", {}))
        self.core.ledger.load_json(data.get("idempotency", []))

    def save_state(self) -> None:
        """Write the state file now (nothing without one)."""
        if self.state_file is not None:
            self._saver.save_now()

    @property
    def unsaved_changes(self) -> bool:
        """Whether a change is waiting for the state file's next write."""
        return self._saver.dirty

    def _write_state(self) -> None:
        if self.state_file is None:
            return
        with self.core.lock:  # serialised under the lock, written outside it
            text = json.dumps({"version": STATE_VERSION, "store": self.core.store.to_json(),
                               "idempotency": self.core.ledger.to_json()})
        write_text_atomically(self.state_file, text)


def _nothing() -> None:
    """The change hook of an emulator without a state file."""
