"""What a run prints for people: counts, and failed orders with their codes verbatim."""

from __future__ import annotations

import pytest

from sf_stripe_sync.run_report import OrderOutcome, RunReport
from sf_stripe_sync.summary import print_status, print_summary


def test_summary_shows_counts_and_failure_messages_with_their_bracketed_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = RunReport(run_id="run-1", dry_run=False, stripe_writes=3, outcomes=[
        OrderOutcome("801A", "create"),
        OrderOutcome("801B", "failed", code="gap", message="[gap] nothing is billed"),
    ])

    print_summary(report, where="the sandboxes", json_output=False)

    out = capsys.readouterr().out
    assert "create 1" in out and "failed 1" in out and "Stripe writes 3" in out
    assert "[gap] nothing is billed" in out
    assert "801B" in out


def test_status_lists_failed_orders_from_the_store_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_status({"last_run": {"run_id": "run-2", "counts": {"noop": 4}},
                  "failed_orders": [{"order_id": "801C", "code": "quantity_conflict",
                                     "message": "[quantity_conflict] 5 vs 3"}]})

    out = capsys.readouterr().out
    assert "noop 4" in out
    assert "801C" in out and "[quantity_conflict] 5 vs 3" in out
