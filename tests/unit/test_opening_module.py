"""Opening a database is a use case of its own; the composition root only wires (issue 12)."""

from __future__ import annotations

import ast
from pathlib import Path

import app.bootstrap
import app.services.opening


def _tree(module: object) -> ast.Module:
    return ast.parse(Path(str(getattr(module, "__file__", ""))).read_text(encoding="utf-8"))


def test_opening_stays_below_the_window_and_the_command_line() -> None:
    imported = {
        node.module
        for node in ast.walk(_tree(app.services.opening))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not {
        name
        for name in imported
        if name.startswith(("app.ui", "app.cli", "app.bootstrap", "PySide6"))
    }


def test_the_composition_root_makes_no_decisions() -> None:
    """Its functions neither branch nor loop: opening decides, in app.services.opening.

    (``CalTrack.close`` gives back what was opened; that is the open database's end, not
    a decision about opening it.)
    """
    functions = [node for node in _tree(app.bootstrap).body if isinstance(node, ast.FunctionDef)]
    assert {f.name for f in functions} >= {"open_caltrack", "_wire"}
    statements = [
        f"{function.name}, line {node.lineno}: {type(node).__name__}"
        for function in functions
        for node in ast.walk(function)
        if isinstance(node, (ast.If, ast.For, ast.While, ast.Match))
    ]
    assert statements == []
