"""One vocabulary for statuses, results, roles and case states, and the schema agrees (issue 12)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, Table

import app.vocabulary
from app.db.models import OOT_DISPOSITIONS, Base
from app.vocabulary import (
    APPROVALS,
    CASE_STATES,
    CHECK_RESULTS,
    FIELD_KINDS,
    LIFECYCLES,
    MAINTENANCE_KINDS,
    PROVIDER_KINDS,
    REQUIREMENTS,
    RESULTS,
    ROLES,
    SCHEDULE_ROW_KINDS,
)

# (table, column) -> the values its CHECK constraint must allow, exactly and in order.
SCHEMA_VOCABULARIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("instrument", "status"): LIFECYCLES,
    ("instrument", "calibration_requirement"): REQUIREMENTS,
    ("calibration_record", "result"): RESULTS,
    ("calibration_record", "provider_kind"): PROVIDER_KINDS,
    ("user_account", "role"): ROLES,
    ("oot_case", "status"): CASE_STATES,
    ("type_field", "kind"): FIELD_KINDS,
    ("provider", "approval"): APPROVALS,
    # "" until the certificate is recorded (issue 15's receiving compare).
    ("sendout_item", "provider_result"): ("", *RESULTS),
    ("sendout_item", "lab_result"): ("", *RESULTS),
    ("maintenance_event", "kind"): MAINTENANCE_KINDS,
    ("instrument_schedule", "kind"): SCHEDULE_ROW_KINDS,
    ("intermediate_check", "result"): CHECK_RESULTS,
    # Not yet in the vocabulary (empty until a case is closed), but held to its tuple too.
    ("oot_case", "disposition"): ("", *OOT_DISPOSITIONS),
}

_IN_LIST = re.compile(r"^\s*(\w+)\s+IN\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)


def _allowed(table: Table, column: str) -> tuple[str, ...]:
    """The values of the one ``column IN ('a', 'b')`` constraint on ``table``."""
    found: list[tuple[str, ...]] = []
    for constraint in table.constraints:
        if not isinstance(constraint, CheckConstraint):
            continue
        match = _IN_LIST.match(str(constraint.sqltext))
        if match and match.group(1) == column:
            items = [item.strip() for item in match.group(2).split(",")]
            assert all(re.fullmatch(r"'[a-z_]*'", item) for item in items), items
            found.append(tuple(item.strip("'") for item in items))
    assert len(found) == 1, f"{table.name}.{column}: {len(found)} IN constraints"
    return found[0]


@pytest.mark.parametrize(("table", "column"), sorted(SCHEMA_VOCABULARIES))
def test_check_constraint_lists_exactly_the_vocabulary(table: str, column: str) -> None:
    assert _allowed(Base.metadata.tables[table], column) == SCHEMA_VOCABULARIES[table, column]


def test_every_in_list_constraint_is_covered() -> None:
    # A new closed list in the schema gets its vocabulary here too, or this fails.
    covered = {
        (table.name, match.group(1))
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
        and (match := _IN_LIST.match(str(constraint.sqltext)))
    }
    # Signature meanings are not a status the window or the services choose from a list.
    assert covered - {("signature", "meaning")} == set(SCHEMA_VOCABULARIES)


def test_vocabulary_is_a_leaf() -> None:
    tree = ast.parse(Path(app.vocabulary.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert imported <= {"__future__", "typing"}
