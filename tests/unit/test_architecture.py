"""The pure core stays pure: no I/O libraries, no clock, no environment, no files.

Walks every module of ``sf_stripe_sync/core`` with ``ast`` (DESIGN 4), so a forbidden
import or call fails the suite wherever it is added.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import sf_stripe_sync.core

CORE_DIR = Path(sf_stripe_sync.core.__file__).parent
FORBIDDEN_MODULES = {
    "stripe", "simple_salesforce", "requests", "os", "time", "socket", "http", "urllib",
    "subprocess", "pathlib", "random", "sqlite3", "shutil", "tempfile", "httpx",
}
FORBIDDEN_CALLS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("os", "getenv"), ("environ", "get"), ("os", "environ"),
}
FORBIDDEN_NAMES = {"open", "getenv", "environ"}


def core_modules() -> list[Path]:
    return sorted(CORE_DIR.glob("*.py"))


def _dotted(node: ast.expr) -> list[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return list(reversed(parts))


def violations(source: str) -> list[str]:
    """Every forbidden import, call or name use in one module's source."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names
                      if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if len(dotted) >= 2 and tuple(dotted[-2:]) in FORBIDDEN_CALLS:
                found.append(".".join(dotted))
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(node.id)
    return found


def test_the_core_package_has_modules_to_check() -> None:
    names = {p.stem for p in core_modules()}
    assert {"models", "dates", "money", "normalize", "consolidate", "amend"} <= names


@pytest.mark.parametrize("module", core_modules(), ids=lambda p: p.name)
def test_core_module_does_no_io_and_reads_no_clock(module: Path) -> None:
    assert violations(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import stripe",
        "import os.path",
        "from urllib.request import urlopen",
        "from simple_salesforce import Salesforce",
        "import random",
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.datetime.utcnow()",
        "from datetime import date\nx = date.today()",
        "x = open('f')",
        "from os import environ\nx = environ['A']",
        "import time\nx = time.time()",
    ],
)
def test_the_checker_catches_each_kind_of_violation(snippet: str) -> None:
    assert violations(snippet) != []


def test_the_checker_accepts_pure_code() -> None:
    pure = "from datetime import UTC, datetime\nfrom decimal import Decimal\n" \
           "x = datetime(2025, 1, 1, tzinfo=UTC)\n"
    assert violations(pure) == []


# ------------------------------------------------------------------ third-party imports

CORE_MAY_IMPORT = frozenset(sys.stdlib_module_names) | {"pydantic", "sf_stripe_sync"}
"""The core is the standard library, pydantic and itself: no rich, no stripe, no httpx."""


def third_party_imports(source: str) -> list[str]:
    """Every absolute import of a package the core may not use."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [n for n in names if n.split(".")[0] not in CORE_MAY_IMPORT]
    return found


@pytest.mark.parametrize("module", core_modules(), ids=lambda p: p.name)
def test_core_module_imports_only_the_stdlib_pydantic_and_the_core(module: Path) -> None:
    assert third_party_imports(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("module", core_modules(), ids=lambda p: p.name)
def test_core_module_imports_nothing_of_the_project_outside_the_core(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    outside = [node.module for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
               and node.module.startswith("sf_stripe_sync")
               and not node.module.startswith("sf_stripe_sync.core")]
    assert outside == []


@pytest.mark.parametrize(
    "snippet",
    ["import rich", "from rich.table import Table", "import stripe", "import httpx",
     "def f():\n    from rich.console import Console\n", "import hypothesis.strategies"],
)
def test_the_import_rule_catches_third_party_packages(snippet: str) -> None:
    assert third_party_imports(snippet) != []


def test_the_import_rule_accepts_stdlib_pydantic_and_the_project() -> None:
    allowed = ("import ast\nfrom collections.abc import Mapping\nfrom pydantic import BaseModel\n"
               "from sf_stripe_sync.core.models import Order\nimport decimal\n")
    assert third_party_imports(allowed) == []
