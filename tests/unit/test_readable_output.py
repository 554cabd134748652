"""Output people can read: terminal width, names, quiet logs, one-line errors."""

from __future__ import annotations

import io
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sf_stripe_sync.cli import main
from sf_stripe_sync.cli.preview_commands import preview_plans, render_preview
from sf_stripe_sync.config import Settings
from sf_stripe_sync.logs import configure_logging
from sf_stripe_sync.run_report import OrderOutcome, RunReport
from sf_stripe_sync.sources.file_source import FileOrderSource
from sf_stripe_sync.summary import print_dry_run

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-org.json"
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
WONKA_PROPERTY = "801000000000009AAA"


def demo_plans(*ids: str) -> tuple[list, dict[str, str]]:  # type: ignore[type-arg]
    settings = Settings()
    source = FileOrderSource(DEMO, fields=settings.fields, rules=settings.rules)
    return preview_plans(source, list(ids), settings, AS_OF)


def test_the_preview_table_fits_80_columns_when_columns_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    plans, labels = demo_plans()
    text = render_preview(plans, labels, "table", as_of=AS_OF, color=False)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "automatic" in text and "Globex Industries" in text


def test_a_wider_terminal_gets_wider_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    plans, labels = demo_plans("801000000000005AAA")
    monkeypatch.setenv("COLUMNS", "160")
    wide = render_preview(plans, labels, "table", as_of=AS_OF, color=False)
    monkeypatch.setenv("COLUMNS", "80")
    narrow = render_preview(plans, labels, "table", as_of=AS_OF, color=False)
    assert len(wide.splitlines()) < len(narrow.splitlines())


def test_a_property_conflict_reads_as_words_not_python() -> None:
    (plan,), _ = demo_plans(WONKA_PROPERTY)
    messages = " ".join(e.message for e in plan.errors)
    assert "None" not in messages and "'" not in messages
    assert "has send_invoice" in messages and "has none" in messages


def test_the_dry_run_shows_account_and_product_names(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    plans, labels = demo_plans("801000000000002AAA")
    report = RunReport(run_id="run-x", dry_run=True, plans=plans, labels=labels,
                       outcomes=[OrderOutcome("801000000000002AAA", "create", plans[0])])
    print_dry_run(report, json_output=False)
    out = capsys.readouterr().out
    assert "Globex Industries" in out and "Product B" in out


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("verbose", "tty", "level"), [
    (False, True, logging.WARNING), (True, True, logging.DEBUG), (False, False, logging.INFO)])
def test_info_logs_stay_off_the_terminal_unless_verbose(
    monkeypatch: pytest.MonkeyPatch, verbose: bool, tty: bool, level: int
) -> None:
    monkeypatch.setattr("sys.stderr", Terminal() if tty else io.StringIO())
    root = logging.getLogger()
    before = root.level
    try:
        configure_logging("human", verbose=verbose)
        assert root.level == level
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_sf_stripe_sync", False)]:
            root.removeHandler(handler)
        root.setLevel(before)


@pytest.mark.parametrize("argv", [["preview"], ["sync", "--format", "xml"],
                                  ["cancel"], ["nonsense"]])
def test_usage_errors_name_the_program_once_and_point_to_help(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sf-stripe-sync: error: ")
    assert "error: sf-stripe-sync" not in err and "--help" in err
    assert "Traceback" not in err and os.linesep == "\n"


@pytest.mark.parametrize("extra", [
    ["--stripe-emulator-url", "http://example.com:1"],
    ["--stripe-emulator-url", "http://127.0.0.1:1", "--read-stripe"],
])
def test_preview_reads_stripe_only_from_loopback_or_the_configured_accounts(
    capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert main(["preview", "--source", str(DEMO), *extra]) == 2
    assert "error: " in capsys.readouterr().err


def test_the_table_lists_every_drifted_field(monkeypatch: pytest.MonkeyPatch) -> None:
    from sf_stripe_sync.core.drift import drift_issue
    from sf_stripe_sync.core.models import DriftChange

    monkeypatch.setenv("COLUMNS", "80")
    (plan,), labels = demo_plans("801000000000002AAA")
    changes = (DriftChange(phase=2, field="item price_A quantity", stripe="7", salesforce="1"),
               DriftChange(phase=1, field="default_payment_method", stripe="pm_x",
                           salesforce=None))
    drifted = plan.model_copy(update={
        "drift": changes, "issues": (drift_issue(changes, order_id=plan.order_id),)})
    text = render_preview([drifted], labels, "table", as_of=AS_OF, color=False)
    assert "item price_A quantity" in text and "default_payment_method" in text
    assert "pm_x" in text and "nothing" in text
