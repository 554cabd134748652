"""Shared pieces of the reliability suite: the figures every test adds to.

Each test records what it did (operations run, faults injected by kind, crashes
survived, bad inputs tried, duplicates and losses found) in the session's ``Figures``;
the totals are printed at the end of the run and, when ``SF_STRIPE_SYNC_RELIABILITY_FIGURES``
names a file, written there as JSON (docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.rig import Rig, running

FIGURES_ENV = "SF_STRIPE_SYNC_RELIABILITY_FIGURES"


@dataclass
class Figures:
    operations: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    crashes_survived: Counter[str] = field(default_factory=Counter)
    bad_inputs: int = 0
    runs: int = 0
    aborted_runs: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    stripe_requests: int = 0
    salesforce_calls: int = 0
    duplicates: int = 0
    losses: int = 0

    def add_rig(self, rig: Rig) -> None:
        """Fold in what one rig saw: its runs, their operations and every injected fault."""
        self.runs += len(rig.reports) + rig.aborted_runs
        self.aborted_runs += rig.aborted_runs
        for report in rig.reports:
            for outcome in report.outcomes:
                # a transient failure or a lease held elsewhere is retried by a later run
                self.operations["pending" if outcome.transient else outcome.result] += 1
        self.faults.update(rig.counts)
        self.retries.update(rig.retries)
        self.faults.update(rig.stripe_fault_counts())
        self.stripe_requests += len(rig.emulator.requests())
        self.salesforce_calls += sum(r.salesforce_calls for r in rig.reports)

    def as_json(self) -> dict[str, Any]:
        return {
            "operations": dict(sorted(self.operations.items())),
            "operations_total": sum(self.operations.values()),
            "faults": dict(sorted(self.faults.items())),
            "faults_total": sum(self.faults.values()),
            "retries": dict(sorted(self.retries.items())),
            "stripe_requests": self.stripe_requests,
            "salesforce_calls": self.salesforce_calls,
            "crashes_survived": dict(sorted(self.crashes_survived.items())),
            "bad_inputs": self.bad_inputs, "runs": self.runs,
            "aborted_runs": self.aborted_runs,
            "duplicates": self.duplicates, "losses": self.losses,
        }


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return _FIGURES


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with running(tmp_path / "state") as made:
        yield made


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES.runs and not _FIGURES.bad_inputs:
        return
    document = _FIGURES.as_json()
    terminalreporter.write_sep("-", "reliability figures")
    terminalreporter.write_line(json.dumps(document, indent=1))
    target = os.environ.get(FIGURES_ENV)
    if target:
        Path(target).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
