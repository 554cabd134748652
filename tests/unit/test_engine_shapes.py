"""The engine speaks in domain terms: Salesforce and Stripe shapes stay at the edges.

Walks the engine modules with ``ast`` and fails on any string literal (docstrings aside)
that is a Salesforce field or sObject name, a Stripe schedule status, or one of the
metadata keys the engine writes on Stripe objects, and on any use of a configured field
name (``fields.order_schedule``). Those belong to ``salesforce/`` (``ports.OrgRecords``
reads the ``FieldMap``), ``stripe/`` (``RemoteSchedule.is_finished``) and
``core.metadata_keys`` (each key defined once, checked below too).

The write-back that builds the sObject records from the ``FieldMap`` is the Salesforce
adapter's (``salesforce/writeback.py``); the engine hands it results in domain terms.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import sf_stripe_sync
from sf_stripe_sync.core import metadata_keys
from sf_stripe_sync.core.rules import FieldMap

PACKAGE_DIR = Path(sf_stripe_sync.__file__).parent
ENGINE_MODULES = (
    "engine.py", "applying.py", "executor.py", "reading.py", "page_runner.py", "failures.py",
    "resume.py", "run_leases.py", "pipeline.py", "planning.py", "run_report.py",
    "operations.py", "concurrency.py", "order_step.py", "engine_settings.py",
    "preview_stream.py", "plan_file.py",
    "queue/intake.py", "queue/worker.py",
)
"""The engine: what runs a sync between the ports (not the adapters behind them)."""

SF_FIELD_PATTERN = re.compile(
    r"\b\w+__(c|r|mdt|e)\b"
    r"|\b(SystemModstamp|LastModifiedDate|CreatedDate|ContractId|AccountId|OrderId"
    r"|OrderItems|OrderItem|PricebookEntryId|Pricebook2Id|Product2Id|EffectiveDate)\b")
SF_EXACT_NAMES = frozenset({"Id", "Order", "Contract", "Account", "Product2", "PricebookEntry",
                            "Status", "Name", "EndDate", "StartDate"})
STRIPE_STATUSES = frozenset({"canceled", "released", "completed", "active", "not_started"})
FIELD_MAP_NAMES = frozenset(FieldMap.model_fields)
FIELD_MAP_HOLDERS = frozenset({"fields", "field_map", "f"})
"""What code calls a ``FieldMap`` (``settings.fields``, ``f = self.fields``)."""
METADATA_KEYS = frozenset(value for name, value in vars(metadata_keys).items()
                          if name.startswith("META_"))


def _docstrings(tree: ast.AST) -> set[int]:
    """Ids of string constants that are bare expression statements (docstrings)."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)}


def shape_violations(source: str) -> list[str]:
    """Every Salesforce name, Stripe status or metadata key named in one module's code."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in FIELD_MAP_NAMES:
            holder = node.value
            name = holder.attr if isinstance(holder, ast.Attribute) else getattr(holder, "id", "")
            if name in FIELD_MAP_HOLDERS:
                found.append(f"line {node.lineno}: configured field name {node.attr}")
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in skip:
            continue
        text, where = node.value, f"line {node.lineno}"
        if text in SF_EXACT_NAMES or SF_FIELD_PATTERN.search(text):
            found.append(f"{where}: Salesforce name {text!r}")
        if text in STRIPE_STATUSES:
            found.append(f"{where}: Stripe status {text!r}")
        if text in METADATA_KEYS:
            found.append(f"{where}: metadata key {text!r}")
    return found


def test_every_engine_module_listed_exists() -> None:
    assert [m for m in ENGINE_MODULES if not (PACKAGE_DIR / m).is_file()] == []


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_module_names_no_salesforce_field_stripe_status_or_metadata_key(
        module: str) -> None:
    assert shape_violations((PACKAGE_DIR / module).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        'x = bundle.order.get("ContractId")',
        'x = record["Stripe_Sync_Status__c"]',
        'for name in ("SystemModstamp", "LastModifiedDate"):\n    pass',
        'x = bundle.order["Id"]',
        'x = f"SELECT Id FROM OrderItems WHERE {w}"',
        'FINISHED = frozenset({"canceled", "released", "completed"})',
        'if schedule.status == "active":\n    pass',
        'x = {"salesforce_account_id": account}',
        'x = metadata.get("sf_sync_fingerprint")',
        "x = bundle.order.get(self.settings.fields.order_schedule)",
        "f = self.fields\nx = {f.sync_status: status}",
    ],
)
def test_the_shape_checker_catches_a_planted_violation(snippet: str) -> None:
    assert shape_violations(snippet) != []


def test_the_shape_checker_accepts_domain_code_and_docstrings() -> None:
    clean = (
        '"""Reads ``ContractId`` and ``SystemModstamp`` through the port; "canceled"."""\n'
        "def f(records, bundle, schedule):\n"
        '    """The Order\'s Stripe_Sync_Status__c, as a docstring may say."""\n'
        "    if schedule.is_finished:\n"
        '        return "order {} is done".format(records.contract_key(bundle))\n'
        "    normalize(bundle, fields=settings.fields, status=schedule.status)\n"
        "    return records.modstamp(bundle)\n"
    )
    assert shape_violations(clean) == []


def test_each_metadata_key_is_spelled_once_in_the_package() -> None:
    """``core.metadata_keys`` is the one home: no module repeats a key's string."""
    spelled: dict[str, list[str]] = {key: [] for key in METADATA_KEYS}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if "sandbox" in path.relative_to(PACKAGE_DIR).parts:
            continue  # the emulators stand in for Stripe and Salesforce, not the engine
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and id(node) not in skip
                    and node.value in spelled):
                spelled[str(node.value)].append(str(path.relative_to(PACKAGE_DIR)))
    assert {key: where for key, where in spelled.items()
            if where != ["core/metadata_keys.py"]} == {}


ADAPTER_IMPORTS_ALLOWED = {
    # The composition point: the Salesforce adapter's defaults when none is given.
    "engine.py": {"sf_stripe_sync.salesforce.records", "sf_stripe_sync.salesforce.writeback"},
    "reading.py": {"sf_stripe_sync.salesforce.records"},
    # The Salesforce sync status values an operation's row names.
    "operations.py": {"sf_stripe_sync.salesforce.writeback"},
    # A plan file lists the Stripe requests a plan will send (imported when one is written).
    "plan_file.py": {"sf_stripe_sync.stripe.convert", "sf_stripe_sync.stripe.params",
                     "sf_stripe_sync.stripe.planned"},
    "queue/intake.py": {"sf_stripe_sync.salesforce.records"},
}
"""Where an engine module may name an adapter module; everything else goes through
``ports`` (the steps take the write-back as ``ports.WriteBackRecorder``)."""


def adapter_imports(source: str) -> set[str]:
    """The ``sf_stripe_sync.salesforce`` / ``sf_stripe_sync.stripe`` modules imported."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        found |= {n for n in names if n.split(".")[:2] in (["sf_stripe_sync", "salesforce"],
                                                          ["sf_stripe_sync", "stripe"])}
    return found


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_module_imports_no_adapter_beyond_its_allowance(module: str) -> None:
    source = (PACKAGE_DIR / module).read_text(encoding="utf-8")
    extra = adapter_imports(source) - ADAPTER_IMPORTS_ALLOWED.get(module, set())
    assert not extra, f"{module} imports {sorted(extra)}: go through sf_stripe_sync.ports"


def test_the_adapter_import_check_sees_a_planted_import() -> None:
    planted = "from sf_stripe_sync.salesforce.writeback import WriteBackBatch\n"
    assert adapter_imports(planted) == {"sf_stripe_sync.salesforce.writeback"}
    assert adapter_imports("from sf_stripe_sync.ports import WriteBackRecorder\n") == set()
