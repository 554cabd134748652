"""Wire the engine to real systems or to the local stand-ins, and tear it all down.

Theory of operation: ``open_runtime`` returns a context manager yielding a ``Runtime``
(settings, source, writer, gateway factory, state store, call counters). With
``SandboxOptions`` it first starts the local Salesforce org and the Stripe emulator
in-process on loopback and points the real adapters at them, so the demo exercises the
same code and the same HTTP as production. The sandboxes' own state (the org's records
with their written-back fields, Stripe's objects) is saved in the state directory on
exit and loaded on the next start, so a second demo run shows the noop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from sf_stripe_sync.bundled_files import DEMO_CATALOG, bundled_path
from sf_stripe_sync.config import Settings, StripeAccountSettings, resolve_secret
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.engine import Engine
from sf_stripe_sync.engine_settings import EngineSettings
from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.ports import BillingGateway, OrderSource, WriteBack
from sf_stripe_sync.salesforce.retry import RetryPolicy as SalesforceRetryPolicy
from sf_stripe_sync.state.store import StateStore, open_store
from sf_stripe_sync.stripe.retry import RetryPolicy as StripeRetryPolicy

if TYPE_CHECKING:
    from sf_stripe_sync.stripe.accounts import StripeAccounts
    from sf_stripe_sync.stripe.session import StripeSession

ORG_STATE_FILE = "sandbox-org.json"
STRIPE_STATE_FILE = "sandbox-stripe.json"


@dataclass(frozen=True)
class SandboxOptions:
    snapshot: Path | None = None
    """Run a local org from this snapshot (its saved state wins when present)."""
    stripe_emulator: bool = False
    stripe_seed: Path | None = None
    org: Any = None
    """An already running ``LocalOrg`` to use (tests); the runtime neither starts nor stops it."""
    emulator: Any = None
    """An already running ``StripeEmulator`` to use (tests); likewise left running."""
    salesforce_url: str | None = None
    """The plain ``http://`` address of a local org served by another process."""
    stripe_url: str | None = None
    """The address of a Stripe emulator served by another process."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    source: OrderSource
    writer: WriteBack
    gateway_for: Callable[[StripeAccountSettings], BillingGateway]
    store: StateStore
    salesforce_calls: Callable[[], int]
    describe: str
    salesforce: Any = None
    """The logged-in ``SalesforceConnection`` (the preflight describes through it)."""
    stripe_key: Callable[[StripeAccountSettings], SecretStr | None] = lambda _account: None
    """The key the gateway of an account would use, None when none is configured."""
    stripe_retry: StripeRetryPolicy | None = None
    stripe_session: Callable[[StripeAccountSettings], StripeSession] | None = None
    """Each Stripe account's one session, shared by its gateways and the catalog."""

    def engine(
        self,
        *,
        clock: Callable[[], datetime] = utc_now,
        price_resolver: Callable[[OrderBundle], OrderBundle] | None = None,
    ) -> Engine:
        """The engine wired to this runtime's source, writer, gateways and store."""
        return Engine(settings=EngineSettings.of(self.settings), source=self.source,
                      writer=self.writer,
                      gateway_for=self.gateway_for, store=self.store, clock=clock,
                      salesforce_calls=self.salesforce_calls, price_resolver=price_resolver)


def _load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{what} not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} {path} is not valid JSON: {exc.msg} "
                         f"(line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{what} {path} must hold a JSON object")
    return data


def _stripe_retry(settings: Settings) -> StripeRetryPolicy | None:
    """The Stripe waits ``settings.retry`` asks for; None keeps the gateway's defaults."""
    wanted = settings.retry
    if wanted.is_default:
        return None
    base = StripeRetryPolicy()
    policy = replace(
        base,
        initial_wait=_pick(wanted.initial_wait_seconds, base.initial_wait),
        max_wait=_pick(wanted.max_wait_seconds, base.max_wait),
        jitter=base.jitter if wanted.jitter_seconds is None else min(base.jitter,
                                                                     wanted.jitter_seconds),
    )
    if policy.max_wait == 0:
        policy = replace(policy, max_retry_after=0.0)
    return policy


def _salesforce_retry(settings: Settings) -> SalesforceRetryPolicy | None:
    """The Salesforce waits ``settings.retry`` asks for; None keeps the connection's defaults."""
    wanted = settings.retry
    if wanted.is_default:
        return None
    base = SalesforceRetryPolicy()
    return replace(
        base,
        initial_wait=_pick(wanted.initial_wait_seconds, base.initial_wait),
        max_wait=_pick(wanted.max_wait_seconds, base.max_wait),
        jitter=_pick(wanted.jitter_seconds, base.jitter),
    )


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value


def real_gateways(settings: Settings, store: StateStore | None = None) -> StripeAccounts:
    """The configured Stripe accounts: one session each, the gateway factory on them."""
    from sf_stripe_sync.stripe.accounts import StripeAccounts

    return StripeAccounts(settings, store=store, retry=_stripe_retry(settings))


@dataclass(frozen=True)
class _RemoteOrg:
    """A local org served by another process, reached by its plain-HTTP address."""

    host: str
    port: int
    session_id: str

    @property
    def instance_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def requests_session(self) -> requests.Session:
        from sf_stripe_sync.sandbox.salesforce_org.transport import local_org_session

        return local_org_session(self.host, self.port)


LOCAL_ORG_SESSION_ID = "00Dlocal!session"
"""The session id a ``LocalOrg`` hands out unless it was built with another one."""


def loopback_address(url: str, what: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost") or (
            parts.port is None):
        raise UsageError(f"{what} must be a loopback address like http://127.0.0.1:12112, "
                         f"not {url!r}")
    return parts.hostname, parts.port


def _remote_org(url: str, settings: Settings) -> _RemoteOrg:
    host, port = loopback_address(url, "--salesforce-sandbox-url")
    secret = resolve_secret(settings.salesforce.session_id_env, settings, required=False)
    session_id = secret.get_secret_value() if secret is not None else LOCAL_ORG_SESSION_ID
    return _RemoteOrg(host=host, port=port, session_id=session_id)


@contextmanager
def open_runtime(settings: Settings, sandbox: SandboxOptions | None = None) -> Iterator[Runtime]:
    """The runtime of ``settings``, on the stand-ins ``sandbox`` asks for; everything
    it started is stopped (and the in-process sandboxes' state saved) on exit."""
    sandbox = sandbox or SandboxOptions()
    with ExitStack() as stack:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.state, settings.state_dir)
        stack.callback(store.close)
        parts: list[str] = []
        session: requests.Session | None = None
        environ: dict[str, str] | None = None
        org = _org(sandbox, settings, stack)
        if org is not None:
            https_url = org.instance_url.replace("http://", "https://")
            settings = settings.model_copy(update={"salesforce": settings.salesforce.model_copy(
                update={"auth": "session", "instance_url": https_url})})
            session = org.requests_session()
            environ = {settings.salesforce.session_id_env: org.session_id}
            parts.append(f"local Salesforce org at {org.instance_url}")
        emulator_url = _emulator_url(sandbox, settings, stack)
        gateway_for: StripeAccounts
        stripe_key: Callable[[StripeAccountSettings], SecretStr | None]
        if emulator_url is not None:
            settings, gateway_for = emulator_gateways(settings, emulator_url, store)
            parts.append(f"Stripe emulator at {emulator_url}")
            stripe_key = gateway_for.key
        else:
            gateway_for = real_gateways(settings, store)
            stripe_key = _configured_key(settings)
        from sf_stripe_sync.salesforce.auth import connect
        from sf_stripe_sync.salesforce.source import SalesforceOrderSource
        from sf_stripe_sync.salesforce.writer import SalesforceWriteBack

        conn = connect(settings, session=session, environ=environ,
                       retry=_salesforce_retry(settings))
        source = SalesforceOrderSource(conn, fields=settings.fields, rules=settings.rules)
        yield Runtime(
            settings=settings, source=source, writer=SalesforceWriteBack(conn),
            gateway_for=gateway_for, store=store,
            salesforce_calls=lambda: int(conn.api_calls),
            describe=", ".join(parts) or "Salesforce and Stripe as configured",
            salesforce=conn, stripe_key=stripe_key, stripe_retry=_stripe_retry(settings),
            stripe_session=gateway_for.session,
        )


def _org(sandbox: SandboxOptions, settings: Settings, stack: ExitStack) -> Any:
    """The local org to use: given, served elsewhere, or started here from a snapshot
    (its state saved in the state directory on exit and preferred on the next start)."""
    if sandbox.org is not None:
        return sandbox.org
    if sandbox.salesforce_url is not None:
        return _remote_org(sandbox.salesforce_url, settings)
    if sandbox.snapshot is None:
        return None
    from sf_stripe_sync.sandbox.salesforce_org import LocalOrg

    saved = settings.state_dir / ORG_STATE_FILE
    org = LocalOrg(_load_json(saved if saved.exists() else sandbox.snapshot, "org snapshot"))
    org.start(host="127.0.0.1", port=0)
    stack.callback(org.stop)
    stack.callback(lambda: saved.write_text(json.dumps(org.snapshot(), indent=1),
                                            encoding="utf-8"))
    return org


def _emulator_url(sandbox: SandboxOptions, settings: Settings, stack: ExitStack) -> str | None:
    """The Stripe emulator's address: one given, one started here (its state kept in the
    state directory), or one served elsewhere; None for the real Stripe."""
    emulator = sandbox.emulator
    if emulator is None and sandbox.stripe_emulator:
        from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

        stripe_state = settings.state_dir / STRIPE_STATE_FILE
        seed_path = sandbox.stripe_seed or bundled_path(DEMO_CATALOG)
        seed = None if stripe_state.exists() else _load_json(seed_path, "Stripe seed")
        emulator = StripeEmulator(seed=seed, state_file=stripe_state)
        emulator.start(host="127.0.0.1", port=0)
        stack.callback(emulator.stop)
    if emulator is not None:
        url: str = emulator.url
        return url
    if sandbox.stripe_url is not None:
        loopback_address(sandbox.stripe_url, "--stripe-emulator-url")
    return sandbox.stripe_url


def _configured_key(settings: Settings) -> Callable[[StripeAccountSettings], SecretStr | None]:
    return lambda account: resolve_secret(account.api_key_env, settings, required=False)


def emulator_gateways(
    settings: Settings, url: str, store: StateStore | None = None
) -> tuple[Settings, StripeAccounts]:
    """Settings whose Stripe accounts all point at the emulator at ``url``, and their
    sessions and gateway factory (paced in the store when it is shared)."""
    from sf_stripe_sync.stripe.accounts import StripeAccounts

    accounts = tuple(a.model_copy(update={"api_base": url}) for a in settings.stripe_accounts)
    settings = settings.model_copy(update={"stripe_accounts": accounts})
    return settings, StripeAccounts(settings, store=store, retry=_stripe_retry(settings),
                                    emulator=True)
