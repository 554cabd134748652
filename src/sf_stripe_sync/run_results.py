"""What a ``sync`` or ``cancel`` run did, for machines: ``--format json`` and ``run_results.json``.

Theory of operation (dbt's ``run_results.json``): one document per run, built from the
engine's ``RunReport``: per order the operation planned, the outcome, the schedule id,
the Stripe request ids of its writes and its errors and warnings, plus the counts. The
same document is printed by ``--format json`` and written, after every run, to
``run_results.json`` in the state directory (replaced atomically, so a reader never sees
half a file). Its shape is documented in ``docs/json-output.md`` and checked against
the JSON Schemas in ``docs/schemas/`` by the tests.

Outcome of an order: ``applied`` (Stripe was changed, or found already changed),
``unchanged`` (a noop), ``skipped``, ``failed``, or ``planned`` in a dry run.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.render import issue_json
from sf_stripe_sync.run_report import OrderOutcome, RunReport

RUN_RESULTS_FILE = "run_results.json"
RESULTS_VERSION = 1


def _outcome(outcome: OrderOutcome, dry_run: bool) -> str:
    if outcome.result == "failed":
        return "failed"
    if outcome.result == "skip":
        return "skipped"
    if outcome.result == "noop":
        return "unchanged"
    return "planned" if dry_run else "applied"


def order_json(outcome: OrderOutcome, *, dry_run: bool) -> dict[str, Any]:
    plan = outcome.plan
    operation = plan.operation.value if plan is not None else (
        None if outcome.result == "failed" else outcome.result)
    errors = [issue_json(i) for i in plan.errors] if plan is not None else []
    if outcome.result == "failed" and not errors:
        errors = [{"code": outcome.code or "error", "message": outcome.message or "",
                   "order_item_ids": []}]
    return {
        "order_id": outcome.order_id,
        "operation": operation,
        "outcome": _outcome(outcome, dry_run),
        "schedule_id": outcome.schedule_id,
        "stripe_request_ids": list(outcome.request_ids),
        "stripe_writes": outcome.writes,
        "errors": errors,
        "warnings": [issue_json(i) for i in plan.warnings] if plan is not None else [],
        "message": outcome.message,
        "retry_next_run": outcome.transient,
    }


def run_document(
    report: RunReport, *, command: str, finished_at: datetime, where: str | None = None
) -> dict[str, Any]:
    return {
        "version": RESULTS_VERSION,
        "command": command,
        "run_id": report.run_id,
        "dry_run": report.dry_run,
        "finished_at": iso_z(finished_at),
        "target": where,
        "counts": report.counts,
        "stripe_writes": report.stripe_writes,
        "salesforce_calls": report.salesforce_calls,
        "orders": [order_json(o, dry_run=report.dry_run) for o in report.outcomes],
        "failed_orders": [{"order_id": o.order_id, "code": o.code, "message": o.message}
                          for o in report.failed],
        "pending_orders": [o.order_id for o in report.pending],
        "notes": list(report.notes),
    }


def write_run_results(document: dict[str, Any], state_dir: Path) -> Path:
    """Write ``run_results.json`` in ``state_dir`` (atomically: temp file, then rename)."""
    target = state_dir / RUN_RESULTS_FILE
    temp = state_dir / f".{RUN_RESULTS_FILE}.{os.getpid()}"
    temp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    os.replace(temp, target)
    return target
