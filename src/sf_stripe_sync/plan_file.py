"""Plans as artifacts: ``sync --dry-run --out PLAN.json`` and ``sync --plan PLAN.json``.

Theory of operation (Terraform's ``plan -out`` / ``apply``): a dry-run that records its
basis keeps, per order, what the plan was computed from: the ``SystemModstamp`` of the
order and of every order of its contract (the desired state is the contract's), a digest
of the order's own records (a stamp has one-second precision in some orgs), and the
state of the Stripe schedule it read (a digest of its status, phases and metadata). The
plan file is that, plus the plan itself and the exact Stripe writes it will make
(``stripe.planned``), as versioned JSON (``docs/plan-file.md``).

Applying: the orders whose entries change Stripe are planned again (a dry-run at the
file's ``as_of``) and each fresh entry is compared with the saved one: a different
stamp, Stripe state, operation or fingerprint makes the entry stale and the whole plan
is refused (exit 2, naming the orders), before anything is sent. Otherwise the run
executes those orders only, each refusing at execution time a plan whose idempotency
key is not the saved one (a change that landed in between).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.fingerprint import fingerprint
from sf_stripe_sync.core.models import Order, OrderPlan
from sf_stripe_sync.core.render import issue_json
from sf_stripe_sync.core.rules import SyncRules
from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.operations import SENDING
from sf_stripe_sync.ports import RemoteScheduleLike
from sf_stripe_sync.run_report import OrderOutcome, RunReport

PLAN_FORMAT = "sf-stripe-sync-plan"
PLAN_VERSION = 1


def schedule_state(remote: RemoteScheduleLike | None) -> str | None:
    """A digest of what the planner read of a Stripe schedule (None: nothing read)."""
    if remote is None:
        return None
    return fingerprint({
        "id": remote.id, "status": remote.status, "metadata": dict(remote.metadata),
        "current_phase_start": remote.current_phase_start,
        "phases": [p.model_dump(mode="python") for p in remote.phases],
    })


def basis_for(
    rules: SyncRules, plan: OrderPlan, order: Order, stamps: Mapping[str, datetime | None],
    own_stamp: datetime | None, remote: RemoteScheduleLike | None, records: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What ``plan`` was computed from, and the Stripe writes it will make."""
    from sf_stripe_sync.executor import op_key_for
    from sf_stripe_sync.stripe.convert import RemoteSchedule
    from sf_stripe_sync.stripe.params import proration_behavior
    from sf_stripe_sync.stripe.planned import planned_requests

    seen = {**stamps, order.id: own_stamp}
    op_key = op_key_for(plan) if plan.operation.value in SENDING else None
    basis = {
        "salesforce": {k: iso_z(v) if v is not None else None for k, v in sorted(seen.items())},
        "salesforce_records": records,
        "stripe": {"schedule_id": remote.id if remote is not None else None,
                   "state": schedule_state(remote)},
        "idempotency_key": op_key,
    }
    if op_key is None:
        return basis, []
    current = remote if isinstance(remote, RemoteSchedule) else None
    requests = planned_requests(
        plan, account_name=plan.stripe_account, op_key=op_key, current=current,
        proration_behavior=proration_behavior(rules.proration_behavior),
        customer_name=order.account_name)
    return basis, requests


def entry_json(outcome: OrderOutcome) -> dict[str, Any]:
    plan = outcome.plan
    basis = outcome.basis or {}
    data: dict[str, Any] = {
        "order_id": outcome.order_id,
        "operation": outcome.result if plan is None else _operation(outcome),
        "contract_key": plan.contract_key if plan else None,
        "stripe_account": plan.stripe_account if plan else None,
        "schedule_id": plan.schedule_id if plan else None,
        "fingerprint": (plan.fingerprint or None) if plan else None,
        "idempotency_key": basis.get("idempotency_key"),
        "salesforce": basis.get("salesforce", {}),
        "salesforce_records": basis.get("salesforce_records"),
        "stripe": basis.get("stripe", {"schedule_id": None, "state": None}),
        "requests": outcome.requests or [],
        "drift": [c.as_json() for c in plan.drift] if plan and plan.drift is not None else None,
        "warnings": [issue_json(i) for i in plan.warnings] if plan else [],
        "errors": [issue_json(i) for i in plan.errors] if plan else [],
        "plan": plan.model_dump(mode="json") if plan else None,
    }
    if outcome.result == "failed" and not data["errors"]:
        data["errors"] = [{"code": outcome.code, "message": outcome.message,
                           "order_item_ids": []}]
    return data


def _operation(outcome: OrderOutcome) -> str:
    return "fail" if outcome.result == "failed" else outcome.result


def plan_document(report: RunReport, *, as_of: datetime, created_at: datetime) -> dict[str, Any]:
    return {
        "format": PLAN_FORMAT,
        "version": PLAN_VERSION,
        "run_id": report.run_id,
        "created_at": iso_z(created_at),
        "as_of": iso_z(as_of),
        "counts": report.counts,
        "orders": [entry_json(o) for o in report.outcomes],
    }


def write_plan(document: Mapping[str, Any], path: Path) -> None:
    try:
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n",
                        encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the plan to {path}: {exc.strerror or exc}") from exc


def load_plan(path: Path) -> dict[str, Any]:
    """Read and check a plan file; every problem is a ``UsageError`` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"plan file {path} not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"plan file {path} cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"plan file {path} is not valid JSON (line {exc.lineno})") from exc
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise UsageError(f"{path} is not an sf-stripe-sync plan file")
    if data.get("version") != PLAN_VERSION:
        raise UsageError(f"plan file {path} has version {data.get('version')!r}; this "
                         f"sf-stripe-sync reads version {PLAN_VERSION}")
    if not isinstance(data.get("orders"), list) or not isinstance(data.get("as_of"), str):
        raise UsageError(f"plan file {path} has no orders or no as_of")
    return data


def to_apply(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entries that change Stripe, in the file's order."""
    return [e for e in document["orders"] if e.get("operation") in SENDING]


def stale_entries(
    saved: Sequence[Mapping[str, Any]], fresh: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """``order id: why`` for every saved entry the fresh planning no longer agrees with."""
    stale: list[str] = []
    for entry in saved:
        order_id = str(entry.get("order_id"))
        now = fresh.get(order_id)
        if now is None:
            stale.append(f"{order_id}: no longer planned")
            continue
        reasons = []
        if (now.get("salesforce"), now.get("salesforce_records")) != (
                entry.get("salesforce"), entry.get("salesforce_records")):
            reasons.append("Salesforce records changed")
        if now.get("stripe") != entry.get("stripe"):
            reasons.append("Stripe schedule changed")
        if (now.get("operation"), now.get("fingerprint")) != (
                entry.get("operation"), entry.get("fingerprint")):
            reasons.append(f"its plan changed (now {now.get('operation')})")
        if reasons:
            stale.append(f"{order_id}: {', '.join(reasons)}")
    return stale
