"""The CLI's modules import each other in one direction only (issue 12).

Command modules share helpers through ``app.cli.common``; none imports another's
private names, and no import hides a cycle inside a function. The only imports inside
functions are the ones that load Qt, which a command that does not paint must not pay for.
"""

from __future__ import annotations

import ast
from pathlib import Path

import app.cli

CLI = Path(app.cli.__file__).parent

# Imported inside a function on purpose: Qt loads only for the window and the labels.
QT_LOADERS = {"app.ui.app", "app.reports.labels"}


def _module_name(path: Path) -> str:
    return "app.cli." + path.stem if path.stem != "__init__" else "app.cli"


def _imports(node: ast.AST) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for each import under ``node``."""
    found: list[tuple[str, list[str], int]] = []
    for child in ast.walk(node):
        if isinstance(child, ast.Import):
            found.extend((alias.name, [], child.lineno) for alias in child.names)
        elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            names = [alias.name for alias in child.names]
            if child.module == "app.cli":
                # `from app.cli import commands` imports the module app.cli.commands.
                found.extend((f"app.cli.{name}", [], child.lineno) for name in names)
            else:
                found.append((child.module, names, child.lineno))
    return found


def _trees() -> dict[str, ast.Module]:
    return {
        _module_name(path): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(CLI.glob("*.py"))
    }


def _graph() -> dict[str, set[str]]:
    trees = _trees()
    return {
        name: {target for target, _, _ in _imports(tree) if target in trees and target != name}
        for name, tree in trees.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of modules, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_the_graph_sees_the_cli_modules() -> None:
    graph = _graph()
    assert {"app.cli.main", "app.cli.commands", "app.cli.common"} <= set(graph)
    assert "app.cli.common" in graph["app.cli.commands"]
    assert "app.cli.commands" in graph["app.cli.main"]


def test_cli_has_no_import_cycle() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]


def test_no_module_imports_private_names_of_another_cli_module() -> None:
    private = [
        f"{name}:{line} imports {target}.{imported}"
        for name, tree in _trees().items()
        for target, names, line in _imports(tree)
        if target.startswith("app.cli")
        for imported in names
        if imported.startswith("_")
    ]
    assert private == []


def test_command_modules_import_no_other_command_module() -> None:
    """Only ``commands`` (which registers them all) and ``main`` know the command modules."""
    trees = _trees()
    command_modules = {name for name in trees if name.endswith("_commands")}
    crossing = [
        f"{name} imports {target}"
        for name in command_modules | {"app.cli.common", "app.cli.output"}
        for target, _, _ in _imports(trees[name])
        if target in command_modules | {"app.cli.commands", "app.cli.main"}
    ]
    assert crossing == []


def test_no_function_level_import_but_qt() -> None:
    inner = [
        f"{name}:{line} imports {target}"
        for name, tree in _trees().items()
        for top in tree.body
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        for target, _, line in _imports(top)
        if target not in QT_LOADERS
    ]
    assert inner == []
