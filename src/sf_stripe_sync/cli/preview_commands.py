"""Command handlers that read and show, never write: ``preview``.

Theory of operation: ``run_preview`` is the dry-run path a person uses before anything is
billed. It loads settings, opens the order source (a snapshot file, or the Salesforce
org through ``salesforce.source.open_source``), reads the clock once to default
``--as-of`` to today (00:00 UTC; the core never reads the clock), plans every asked
order through the engine's dry-run (the very planning a real sync does), and renders
the plans as a table, the preview JSON, or a self-contained HTML page, to stdout or
``--output``.

What is known of a schedule comes from the Order and Contract schedule id fields; with
``--stripe-emulator-url`` or ``--read-stripe`` the schedules are also read (never
written) from Stripe, for the applied state and the drift. What a price bills comes
from Stripe then, else from ``--stripe-catalog FILE`` (Stripe price objects, as the
emulator's seed holds them), else from the PricebookEntry's ``UnitPrice`` and the
Product2's billing frequency (``core.pricing``). An order id that the source
does not have is reported as an ``invalid_record`` error for that order, not a crash.
Exit code 1 when any previewed order has errors, else 0; bad input (missing file, bad
JSON, bad ``--as-of``) is a ``UsageError`` that the CLI turns into exit code 2.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sf_stripe_sync.cli import inputs
from sf_stripe_sync.cli.exits import failed_if
from sf_stripe_sync.config import Settings, StripeAccountSettings
from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.models import OrderPlan, PriceCatalog
from sf_stripe_sync.core.plan import not_found_plan
from sf_stripe_sync.core.render import preview_document
from sf_stripe_sync.errors import ConfigError, UsageError
from sf_stripe_sync.ports import BillingGateway, OrderSource

SALESFORCE_SOURCE = "salesforce"
log = logging.getLogger("sf_stripe_sync.preview")


# --------------------------------------------------------------------------- preview


def preview_as_of(value: str | None, *, now: datetime | None = None) -> datetime:
    """``--as-of`` parsed, or today at 00:00 UTC (the one place the clock is read)."""
    parsed = inputs.as_of(value)
    if parsed is not None:
        return parsed
    today = (now or datetime.now(UTC)).astimezone(UTC)
    return today.replace(hour=0, minute=0, second=0, microsecond=0)


def open_preview_source(source: str, settings: Settings) -> OrderSource:
    """A snapshot file, or the org named in settings when ``source`` is ``salesforce``."""
    if source == SALESFORCE_SOURCE:
        try:
            from sf_stripe_sync.salesforce.source import open_source
        except ImportError as exc:
            raise ConfigError("the Salesforce source is not available in this install") from exc
        opened: OrderSource = open_source(settings)
        return opened
    from sf_stripe_sync.sources.file_source import FileOrderSource

    return FileOrderSource(Path(source), fields=settings.fields, rules=settings.rules)


def preview_plans(
    source: OrderSource,
    order_ids: Sequence[str],
    settings: Settings,
    as_of: datetime,
    *,
    gateway_for: Callable[[StripeAccountSettings], BillingGateway] | None = None,
    prices: PriceCatalog | None = None,
) -> tuple[list[OrderPlan], dict[str, str]]:
    """Plans for the asked orders (every activated order when none asked) + display names.

    The engine's own dry-run plans them (one planning path); ``gateway_for`` lets it read
    the schedules from Stripe (or the emulator), for drift and the applied state."""
    from sf_stripe_sync.engine import Engine, RunOptions
    from sf_stripe_sync.engine_settings import EngineSettings

    wanted = list(dict.fromkeys(order_ids)) if order_ids else source.activated_order_ids()
    engine = Engine(settings=EngineSettings.of(settings), source=source, writer=None,
                    gateway_for=gateway_for, store=None, clock=lambda: as_of, source_name="preview",
                    price_catalog=prices)
    report = engine.run(RunOptions(order_ids=wanted, dry_run=True, as_of=as_of,
                                   mode="preview"))
    by_id = {o.order_id: o.plan for o in report.outcomes if o.plan is not None}
    plans = [by_id.get(i) or not_found_plan(i, stripe_account=settings.default_stripe_account)
             for i in wanted]
    return plans, dict(report.labels)


def preview_features(
    source: OrderSource, plans: Sequence[OrderPlan], settings: Settings
) -> dict[str, list[list[str]]]:
    """Per order, per phase: the entitlement feature lookup keys the phase's products carry
    (``catalog.features_field`` on Product2)."""
    from sf_stripe_sync.catalog.features import FeatureLookup

    scheduled = [p for p in plans if p.schedule is not None and p.schedule.phases]
    if not scheduled:
        return {}
    wanted = sorted({i for p in scheduled for i in (p.order_id, *p.covers_order_ids)})
    bundles = list(source.orders_by_id(wanted))
    for contract_id in sorted({p.contract_key for p in scheduled} - set(wanted)):
        bundles.extend(source.contract_orders(contract_id))
    lookup = FeatureLookup(settings.catalog.features_field).add(bundles)
    return {p.order_id: lookup.keys_for(p) for p in scheduled}


def render_preview(
    plans: Sequence[OrderPlan], labels: dict[str, str], fmt: str, *, as_of: datetime,
    color: bool, features: Mapping[str, list[list[str]]] | None = None,
) -> str:
    """The preview in one of the CLI formats, as text (``features``: per order, per
    phase, the entitlement lookup keys; shown in the JSON as ``phases[].features``)."""
    if fmt == "json":
        document: dict[str, Any] = preview_document(plans, labels)
        for order in document.get("orders", []):
            per_phase = (features or {}).get(str(order.get("order_id")))
            if per_phase is not None:
                for phase, keys in zip(order.get("phases", []), per_phase, strict=False):
                    phase["features"] = keys
        document["as_of"] = iso_z(as_of)
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "html":
        from sf_stripe_sync.render_html import render_html

        return render_html(plans, labels, as_of=as_of)
    from rich.console import Console

    from sf_stripe_sync.render_terminal import render_table
    from sf_stripe_sync.summary import output_width

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=output_width(),
                      color_system="standard" if color else None, emoji=False,
                      highlight=False)
    render_table(plans, console, labels)
    return buffer.getvalue()


def load_price_catalog(path: Path | None) -> PriceCatalog | None:
    """Price facts from a JSON file of Stripe price objects (``{"prices": [...]}``)."""
    if path is None:
        return None
    from sf_stripe_sync.stripe.prices import facts_from_stripe

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        prices = [facts_from_stripe(p) for p in data.get("prices") or []]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"--stripe-catalog {path}: not a file of Stripe prices ({exc})") \
            from exc
    return PriceCatalog(prices={p.id: p for p in prices})


def _write_output(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc


def _report_orphans(source: OrderSource) -> None:
    orphans = getattr(source, "orphan_items", None)
    if not callable(orphans):
        return
    for item in orphans():
        log.warning("OrderItem %s names Order %s, which is not in the source: left out",
                    item.get("Id"), item.get("OrderId"))


def _stripe_reader(
    args: argparse.Namespace, settings: Settings
) -> tuple[Settings, Callable[[StripeAccountSettings], BillingGateway] | None]:
    """The gateway the preview reads schedules through, if asked: an emulator or Stripe."""
    url = getattr(args, "stripe_emulator_url", None)
    if url is not None and getattr(args, "read_stripe", False):
        raise UsageError("give --stripe-emulator-url or --read-stripe, not both")
    from sf_stripe_sync import runtime

    if url is not None:
        runtime.loopback_address(url, "--stripe-emulator-url")
        return runtime.emulator_gateways(settings, url)
    if getattr(args, "read_stripe", False):
        return settings, runtime.real_gateways(settings)
    return settings, None


def _stream_json(
    source: OrderSource, order_ids: list[str], settings: Settings, as_of: datetime,
    output: Path | None, gateway_for: Callable[[StripeAccountSettings], BillingGateway] | None,
    prices: PriceCatalog | None = None,
) -> int:
    """The JSON preview, written page by page as it is planned (``preview_stream``)."""
    from sf_stripe_sync.preview_stream import write_preview_json

    if output is None:
        errors = write_preview_json(source, order_ids, settings, as_of, sys.stdout,
                                    gateway_for=gateway_for, prices=prices)
        sys.stdout.flush()
    else:
        try:
            with output.open("w", encoding="utf-8") as out:
                errors = write_preview_json(source, order_ids, settings, as_of, out,
                                            gateway_for=gateway_for, prices=prices)
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc
    return failed_if(errors)


def run_preview(args: argparse.Namespace) -> int:
    """``sf-stripe-sync preview``: show the phases orders would become; writes nothing."""
    from sf_stripe_sync.logs import configure_logging

    configure_logging(getattr(args, "log_format", "human"),
                      verbose=bool(getattr(args, "verbose", False)))
    as_of = preview_as_of(getattr(args, "as_of", None))
    settings = inputs.settings(args)
    settings, gateway_for = _stripe_reader(args, settings)
    source = open_preview_source(args.source, settings)
    _report_orphans(source)
    prices = load_price_catalog(getattr(args, "stripe_catalog", None))
    fmt = getattr(args, "format", "table") or "table"
    if fmt == "json":
        return _stream_json(source, list(args.order_ids or []), settings, as_of,
                            getattr(args, "output", None), gateway_for, prices)
    plans, labels = preview_plans(source, list(args.order_ids or []), settings, as_of,
                                  gateway_for=gateway_for, prices=prices)
    color = fmt == "table" and getattr(args, "output", None) is None and sys.stdout.isatty()
    features = preview_features(source, plans, settings) if fmt == "json" else None
    _write_output(render_preview(plans, labels, fmt, as_of=as_of, color=color,
                                 features=features),
                  getattr(args, "output", None))
    return failed_if(any(p.errors for p in plans))
