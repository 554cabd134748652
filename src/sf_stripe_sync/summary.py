"""What a run prints: the end-of-run summary, the dry-run plans, the ``status`` table.

Theory of operation: presentation only. The engine's ``RunReport`` and the store's
status document are rendered as rich tables for people or as one JSON document for
machines (``--log-format json``). The dry-run prints the same plans a real run would
execute, through the preview renderer.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sf_stripe_sync.engine import RunReport
from sf_stripe_sync.run_report import COUNTED


def output_width() -> int:
    """The terminal's width (``COLUMNS`` first); 100 when there is no terminal."""
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def _console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=output_width())


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
    console.print(f"[bold]sync finished[/bold] against {where}")
    console.print(f"  {_counts_line(report.counts)}")
    console.print(f"  Stripe writes {report.stripe_writes}  "
                  f"Salesforce API calls {report.salesforce_calls}")
    _print_failed(console, [(o.order_id, o.code or "", o.message or "") for o in report.failed])
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


def print_dry_run(report: RunReport, *, json_output: bool) -> None:
    from sf_stripe_sync.core.render import preview_document
    from sf_stripe_sync.render_terminal import render_table

    if json_output:
        json.dump(preview_document(report.plans), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    console = _console()
    render_table(report.plans, console, report.labels)
    console.print(f"[bold]dry run[/bold] (nothing sent): {_counts_line(report.counts)}")


def print_status(document: dict[str, Any]) -> None:
    console = _console()
    last = document.get("last_run") or {}
    if not last:
        console.print("no run recorded yet")
    else:
        console.print(f"[bold]last run[/bold] {last.get('run_id', '')} "
                      f"{last.get('mode', '')} finished {last.get('finished_at', '')}")
        console.print(f"  {_counts_line(last.get('counts', {}))}")
        console.print(f"  Stripe writes {last.get('stripe_writes', 0)}")
    console.print(f"watermark: {document.get('watermark') or 'none yet'}")
    journal = document.get("journal") or {}
    if journal:
        console.print("journal: " + "  ".join(f"{k} {v}" for k, v in sorted(journal.items())))
    _print_failed(console, [(str(row.get("order_id")), str(row.get("code")),
                             str(row.get("message")))
                            for row in document.get("failed_orders") or []])


def _counts_line(counts: Mapping[str, int]) -> str:
    return "  ".join(f"{name} {counts.get(name, 0)}" for name in COUNTED)


def _print_failed(console: Console, rows: Sequence[tuple[str, str, str]]) -> None:
    """Failed orders as (order id, code, message); messages are shown verbatim."""
    if not rows:
        return
    table = Table(title="failed orders", title_style="bold red")
    for column in ("order", "code", "message"):
        table.add_column(column, overflow="fold")
    for order_id, code, message in rows:
        table.add_row(order_id, code, escape(message))
    console.print(table)
