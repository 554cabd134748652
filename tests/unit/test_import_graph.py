"""The package's import graph has no cycles.

Read with ``ast`` (nothing is imported): every ``import`` and ``from ... import`` of a
module under ``src/sf_stripe_sync`` that names another module of the package is an
edge. ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
``pkg`` (its ``__init__``). Two graphs are checked:

* module level: what runs when the module is imported (including imports under
  ``if``/``try`` at the top). A cycle here is an import-order bug waiting to happen.
* with deferred imports: imports inside functions too. They are deferred only to keep
  start-up fast (``--help``), so they are still dependencies, and a cycle among them is
  the same tangle (``run_cli`` in the sandbox servers was one). A command handler
  named as ``Deferred("module", "function")`` (``cli/registry.py``) is such an import.

Imports under ``if TYPE_CHECKING:`` are exempt from both: they never run, and typing a
back-reference (a server typing the emulator it serves) is not a dependency.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "sf_stripe_sync"
ROOT = Path(__file__).resolve().parents[2] / "src" / PACKAGE


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(body: list[ast.stmt], *, deferred: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run: at module level, or anywhere with ``deferred``."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.orelse, deferred=deferred)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if deferred:
                yield from _imports(node.body, deferred=deferred)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _imports([child], deferred=deferred)
                elif isinstance(child, ast.excepthandler):
                    yield from _imports(child.body, deferred=deferred)


def _known(name: str) -> str | None:
    """The package module ``name`` is, or is inside (``a.b.C`` -> ``a.b``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield from filter(None, [_known(alias.name)])
        return
    base = node.module or ""
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    for alias in node.names:
        target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else _known(base)
        if target is not None:
            yield target


def _deferred_handlers(tree: ast.Module) -> Iterator[str]:
    """The modules a ``Deferred(module, function)`` handler imports when its command runs."""
    constants = {target.id: node.value.value for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                 and isinstance(node.value.value, str)
                 for target in node.targets if isinstance(target, ast.Name)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "Deferred" and node.args):
            continue
        first = node.args[0]
        name = first.value if isinstance(first, ast.Constant) else (
            constants.get(first.id) if isinstance(first, ast.Name) else None)
        if isinstance(name, str) and (known := _known(name)) is not None:
            yield known


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _graph(*, deferred: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = _tree(path)
        edges = {t for node in _imports(tree.body, deferred=deferred)
                 for t in _targets(module, node)}
        if deferred:
            edges |= set(_deferred_handlers(tree))
        graph[module] = edges - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path back to its start) for each strongly connected component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan; the package is small enough to recurse
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_back(graph, component) for component in components]


def _path_back(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & component):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError("a strongly connected component without a cycle")


def _shown(cycles: list[list[str]]) -> str:
    return "\n".join(" -> ".join(m.removeprefix(PACKAGE + ".") for m in c) for c in cycles)


@pytest.mark.parametrize("deferred", [False, True], ids=["module-level", "with-deferred"])
def test_the_package_imports_have_no_cycle(deferred: bool) -> None:
    cycles = _cycles(_graph(deferred=deferred))
    assert not cycles, f"import cycles:\n{_shown(cycles)}"


def test_the_cycle_check_names_a_cycle_it_is_given() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_imports_inside_functions_and_not_type_checking_ones() -> None:
    module_level = _graph(deferred=False)
    with_deferred = _graph(deferred=True)
    cli_app = f"{PACKAGE}.cli.app"
    # the handlers are imported only when their command runs ...
    assert f"{PACKAGE}.cli.sync_commands" not in module_level[f"{PACKAGE}.cli.sync"]
    assert f"{PACKAGE}.cli.sync_commands" in with_deferred[f"{PACKAGE}.cli.sync"]
    assert f"{PACKAGE}.cli.sync" in module_level[cli_app]
    # ... and the server's TYPE_CHECKING import of the emulator is no edge
    server = f"{PACKAGE}.sandbox.stripe_emulator.server"
    assert f"{PACKAGE}.sandbox.stripe_emulator.emulator" not in with_deferred[server]


def test_only_the_command_line_imports_the_command_line() -> None:
    """``cli`` is the top layer: the engine, adapters and stand-ins never reach back into it."""
    cli = f"{PACKAGE}.cli"
    inward = sorted(f"{module} -> {target}"
                    for module, targets in _graph(deferred=True).items()
                    for target in targets
                    if (target == cli or target.startswith(cli + "."))
                    and not (module == cli or module.startswith(cli + "."))
                    and module != f"{PACKAGE}.__main__")
    assert not inward, "imports of the command line from below it:\n" + "\n".join(inward)
