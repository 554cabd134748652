"""What a run prints: the end-of-run summary, the dry-run plans, the ``status`` table.

Theory of operation: presentation only. The engine's ``RunReport`` and the store's
status document are rendered as rich tables for people or as one JSON document for
machines (``--log-format json``). The dry-run prints the same plans a real run would
execute, through the preview renderer.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sf_stripe_sync.engine import RunReport

ORDER = ("create", "amend", "replace", "cancel", "noop", "skip", "failed")


def _console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def report_document(report: RunReport) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "dry_run": report.dry_run,
        "counts": report.counts,
        "stripe_writes": report.stripe_writes,
        "salesforce_calls": report.salesforce_calls,
        "failed_orders": [{"order_id": o.order_id, "code": o.code, "message": o.message}
                          for o in report.failed],
        "pending_orders": [o.order_id for o in report.pending],
        "notes": report.notes,
    }


def print_summary(report: RunReport, *, where: str, json_output: bool) -> None:
    if json_output:
        json.dump(report_document(report), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    console = _console()
    counts = report.counts
    console.print(f"[bold]sync finished[/bold] against {where}")
    line = "  ".join(f"{name} {counts.get(name, 0)}" for name in ORDER)
    console.print(f"  {line}")
    console.print(f"  Stripe writes {report.stripe_writes}  "
                  f"Salesforce API calls {report.salesforce_calls}")
    if report.failed:
        table = Table(title="failed orders", title_style="bold red")
        for column in ("order", "code", "message"):
            table.add_column(column, overflow="fold")
        for outcome in report.failed:
            table.add_row(outcome.order_id, outcome.code or "", escape(outcome.message or ""))
        console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


def print_dry_run(report: RunReport, *, json_output: bool) -> None:
    from sf_stripe_sync.core.render import preview_document, render_table

    if json_output:
        json.dump(preview_document(report.plans), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    console = _console()
    render_table(report.plans, console)
    counts = report.counts
    console.print("[bold]dry run[/bold] (nothing sent): "
                  + "  ".join(f"{n} {counts.get(n, 0)}" for n in ORDER))


def print_status(document: dict[str, Any]) -> None:
    console = _console()
    last = document.get("last_run") or {}
    if not last:
        console.print("no run recorded yet")
    else:
        counts = last.get("counts", {})
        console.print(f"[bold]last run[/bold] {last.get('run_id', '')} "
                      f"{last.get('mode', '')} finished {last.get('finished_at', '')}")
        console.print("  " + "  ".join(f"{n} {counts.get(n, 0)}" for n in ORDER))
        console.print(f"  Stripe writes {last.get('stripe_writes', 0)}")
    console.print(f"watermark: {document.get('watermark') or 'none yet'}")
    journal = document.get("journal") or {}
    if journal:
        console.print("journal: " + "  ".join(f"{k} {v}" for k, v in sorted(journal.items())))
    failed = document.get("failed_orders") or []
    if failed:
        table = Table(title="failed orders", title_style="bold red")
        for column in ("order", "code", "message"):
            table.add_column(column, overflow="fold")
        for row in failed:
            table.add_row(str(row.get("order_id")), str(row.get("code")),
                          escape(str(row.get("message"))))
        console.print(table)
