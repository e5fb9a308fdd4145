"""No import cycle among Omnicord's modules, found from the source with ast.

An edge is a module-level ``import omnicord.x`` or ``from omnicord.x import y`` (``y`` counts as
a module when it is one), including those under ``try`` or ``if``, but not under ``if
TYPE_CHECKING:`` (never run) nor inside functions: an import in a function runs when it is
called, long after every module it needs has finished loading, so it cannot deadlock a load.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.test_architecture import module_name, sources

#: Cycles already known, each owned by whoever owns its modules; none may be added.
KNOWN_CYCLES: set[frozenset[str]] = set()


def _module_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements run when the module loads: the body, into if/try/with, not TYPE_CHECKING."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                pending += node.body
            pending += node.orelse
        elif isinstance(node, ast.Try):
            pending += [*node.body, *node.orelse, *node.finalbody]
            pending += [stmt for handler in node.handlers for stmt in handler.body]
        elif isinstance(node, ast.With):
            pending += node.body


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from`` import names (relative ones too)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[:len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def import_graph() -> dict[str, set[str]]:
    """Each Omnicord module and the Omnicord modules it imports when it loads."""
    paths = {module_name(path): path for path in sources()}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        edges: set[str] = set()
        for node in _module_level(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(module, path, node)
                edges.add(source)
                edges.update(f"{source}.{alias.name}" for alias in node.names)
        graph[module] = {name for name in edges if name in paths and name != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_module_level_imports_only() -> None:
    graph = import_graph()
    assert "omnicord.settings" in graph["omnicord.services"]
    assert "omnicord.cli.commands" in graph["omnicord.cli.parser"]
    assert "omnicord.services" not in graph["omnicord.cli.commands.ask"]  # in its handler


def test_no_module_imports_itself_back_when_loading() -> None:
    found = set(cycles(import_graph()))
    assert sorted(map(sorted, found - KNOWN_CYCLES)) == []
