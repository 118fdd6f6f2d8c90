"""The shape of the code: no import cycle, no import inside a function, no ``assert``.

A function-level import hides a circle between modules until the function runs; a
circle means neither module can be read (or changed) without the other. An ``assert``
in production code vanishes under ``python -O`` (a bundle may run optimised), so the app
checks with an explicit ``if`` and a clear error instead. All are read from the source
with ``ast``, so the checks need no import and see every module.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The packages held to these rules. Outside the services a function may import a heavy
# third-party module it alone needs (alembic, psycopg, Qt for a command that paints), so
# only the cycle check covers the whole app: it reads imports inside functions too, so a
# late import cannot hide a circle from it.
CHECKED = ("app/services",)
CYCLES_CHECKED = ("app", *CHECKED)


@dataclass(frozen=True)
class Module:
    """One source file: its dotted name and parsed tree."""

    name: str
    path: Path
    tree: ast.Module


def modules(package: str) -> dict[str, Module]:
    found: dict[str, Module] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        found[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return found


def _package_of(module: Module) -> str:
    name = module.name
    return name if module.path.name == "__init__.py" else name.rpartition(".")[0]


def imported(module: Module, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The dotted names an import statement may load (a module or a name in one)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        package = _package_of(module).split(".")
        anchor = ".".join(package[: len(package) - node.level + 1])
        base = f"{anchor}.{base}" if base else anchor
    # ``from a import b`` loads a.b when b is a module, else a.
    return {base} | {f"{base}.{alias.name}" for alias in node.names}


def import_graph(found: dict[str, Module]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, module in found.items():
        edges: set[str] = set()
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= {target for target in imported(module, node) if target in found}
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop(0)
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def function_imports(module: Module) -> list[str]:
    """``module:line`` of every import statement inside a function or lambda."""
    found: list[str] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found.append(f"{module.name}:{inner.lineno}")
    return sorted(set(found), key=lambda s: (s.split(":")[0], int(s.split(":")[1])))


@pytest.mark.parametrize("package", CYCLES_CHECKED)
def test_no_import_cycle(package: str) -> None:
    graph = import_graph(modules(package))
    circles = cycles(graph)
    described = [
        ", ".join(f"{m} -> {sorted(t for t in graph[m] if t in group)}" for m in group)
        for group in circles
    ]
    assert not circles, f"import cycles in {package}: " + " | ".join(described)


@pytest.mark.parametrize("package", CHECKED)
def test_no_import_inside_a_function(package: str) -> None:
    inside = [where for module in modules(package).values() for where in function_imports(module)]
    assert not inside, f"imports inside functions in {package}: {', '.join(inside)}"


def test_the_checks_see_a_cycle_and_a_function_import() -> None:
    """The checks themselves: a made-up circle and a hidden import are both caught."""
    a = Module("pkg.a", Path("pkg/a.py"), ast.parse("from pkg.b import x\n"))
    b = Module(
        "pkg.b",
        Path("pkg/b.py"),
        ast.parse("x = 1\ndef f() -> None:\n    from pkg import a\n"),
    )
    c = Module("pkg.c", Path("pkg/c.py"), ast.parse("from . import a\n"))
    found = {m.name: m for m in (a, b, c)}
    graph = import_graph(found)
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    assert function_imports(b) == ["pkg.b:3"]
    assert function_imports(a) == []


def asserts(module: Module) -> list[str]:
    """``module:line`` of every ``assert`` statement and ``raise AssertionError``."""
    found: list[str] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Assert):
            found.append(f"{module.name}:{node.lineno}")
        elif isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(raised, ast.Name) and raised.id == "AssertionError":
                found.append(f"{module.name}:{node.lineno}")
    return sorted(found, key=lambda s: (s.split(":")[0], int(s.split(":")[1])))


def test_no_assert_in_the_app() -> None:
    found = [where for module in modules("app").values() for where in asserts(module)]
    assert not found, f"assert in production code (gone under -O): {', '.join(found)}"


def test_the_assert_check_sees_both_kinds() -> None:
    tree = ast.parse("assert x\nif y:\n    raise AssertionError('no')\nraise AssertionError\n")
    assert asserts(Module("pkg.m", Path("pkg/m.py"), tree)) == ["pkg.m:1", "pkg.m:3", "pkg.m:4"]
