"""Field lengths live in a leaf module the window may import (issue 12)."""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import String

import app.limits
import app.ui
from app.db.models import Base, Instrument, UserAccount


def _imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_limits_is_a_leaf() -> None:
    tree = ast.parse(Path(app.limits.__file__).read_text(encoding="utf-8"))
    assert _imported_modules(tree) <= {"__future__"}


def test_the_window_never_imports_the_tables() -> None:
    ui = Path(app.ui.__file__).parent
    importing = [
        str(path.relative_to(ui))
        for path in sorted(ui.rglob("*.py"))
        if any(
            name == "app.db" or name.startswith("app.db.")
            for name in _imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        )
    ]
    assert importing == []


def _length(model: type[Base], column: str) -> int | None:
    kind = model.__table__.c[column].type
    assert isinstance(kind, String)
    return kind.length


def test_the_columns_use_the_limits() -> None:
    assert _length(Instrument, "asset_tag") == app.limits.TAG_LEN
    assert _length(Instrument, "description") == app.limits.TEXT_LEN
    assert _length(Instrument, "model") == app.limits.SHORT_LEN
    assert _length(UserAccount, "login") == app.limits.USER_LEN
