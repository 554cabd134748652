"""The preflight's findings, how they read, and whether the run may start.

Theory of operation: every check appends ``Finding`` values to one ``PreflightReport``
and never stops at the first problem, so a person fixing a configuration sees the whole
list at once. A finding is ``ok`` (shown for orientation: mode, account, version),
``warning`` (works, but something is left out) or ``problem`` (the run must not start).
``ready`` is true when there is no problem (``check`` exits 0 then, else 2: DESIGN 3).
Messages never hold a secret: they name variables and settings, never values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warning", "problem"]


@dataclass(frozen=True)
class Finding:
    area: str
    """``config``, ``secrets``, ``stripe:<account>``, ``salesforce``, ``salesforce.fields``."""
    status: Status
    message: str
    subject: str | None = None
    """What the finding is about: ``Order.Stripe_Sync_Status__c``, ``STRIPE_API_KEY`` ..."""
    expected: str | None = None
    """The type or value that would be right (``Text(255)``, ``sk_test_...``)."""


@dataclass
class PreflightReport:
    findings: list[Finding] = field(default_factory=list)
    stripe: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per configured Stripe account what was learnt: ``key`` (secret/restricted),
    ``mode`` (test/live), ``account`` (acct_...), for machines reading the JSON."""

    def note_stripe(self, name: str, **facts: str) -> None:
        self.stripe.setdefault(name, {}).update(facts)

    def add(self, area: str, status: Status, message: str, *, subject: str | None = None,
            expected: str | None = None) -> None:
        self.findings.append(Finding(area, status, message, subject, expected))

    def ok(self, area: str, message: str, **more: str | None) -> None:
        self.add(area, "ok", message, **more)

    def warn(self, area: str, message: str, **more: str | None) -> None:
        self.add(area, "warning", message, **more)

    def problem(self, area: str, message: str, **more: str | None) -> None:
        self.add(area, "problem", message, **more)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "problem"]

    @property
    def ready(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "problems": len(self.problems),
            "warnings": sum(1 for f in self.findings if f.status == "warning"),
            "stripe_accounts": self.stripe,
            "findings": [asdict(f) for f in self.findings],
        }

    def lines(self, *, only_problems: bool = False) -> list[str]:
        """The report as text lines, grouped by area in the order they were checked."""
        marks = {"ok": "ok  ", "warning": "warn", "problem": "FAIL"}
        shown = self.problems if only_problems else self.findings
        out: list[str] = []
        area = None
        for finding in shown:
            if finding.area != area:
                area = finding.area
                out.append(f"{area}:")
            expected = f" (expected {finding.expected})" if finding.expected else ""
            out.append(f"  {marks[finding.status]}  {finding.message}{expected}")
        verdict = ("ready" if self.ready else
                   f"not ready: {len(self.problems)} problem(s) to fix")
        out.append(verdict)
        return out
