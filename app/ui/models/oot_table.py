"""Out-of-tolerance cases as a Qt table model (a lab has tens of cases, not thousands).

The whole list arrives at once from ``OotService.list``; the status filter and the sort
are applied here, so switching between Open / Closed / All needs no database round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt

from app.services.dto import OotCaseView
from app.services.oot import DISPOSITION_LABELS
from app.ui.look import status_color
from app.ui.models.list_model import SortedListModel
from app.words import CASE_STATE_LABELS

ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

COLUMNS: tuple[str, ...] = (
    "Case",
    "Instrument",
    "Found on",
    "Last good",
    "Affected",
    "Disposition",
    "Status",
)
(
    COL_CASE,
    COL_INSTRUMENT,
    COL_FOUND,
    COL_LAST_GOOD,
    COL_AFFECTED,
    COL_DISPOSITION,
    COL_STATUS,
) = range(len(COLUMNS))
# Keyed by plain text: the filter and the case views look up whatever status they hold.
STATUS_LABELS: dict[str, str] = {state: text for state, text in CASE_STATE_LABELS.items()}
# The status filter's chips, in order; None is "All".
FILTERS: tuple[tuple[str | None, str], ...] = (*CASE_STATE_LABELS.items(), (None, "All"))


def status_counts(cases: Sequence[OotCaseView]) -> dict[str | None, int]:
    """How many cases per status, and in all (key None): the filter chips' numbers."""
    counts: dict[str | None, int] = {key: 0 for key, _label in FILTERS}
    for case in cases:
        counts[case.status] = counts.get(case.status, 0) + 1
    counts[None] = len(cases)
    return counts


def _display(case: OotCaseView, column: int) -> str:
    if column == COL_CASE:
        return f"OOT-{case.id}"
    if column == COL_INSTRUMENT:
        return f"{case.asset_tag} — {case.description}" if case.description else case.asset_tag
    if column == COL_FOUND:
        # Issue 15: a case a failing intermediate check opened says so in the list.
        by_check = " (check)" if case.check_id is not None else ""
        return case.found_on.isoformat() + by_check
    if column == COL_LAST_GOOD:
        return case.last_good_on.isoformat() if case.last_good_on else "none recorded"
    if column == COL_AFFECTED:
        return str(len(case.affected))
    if column == COL_DISPOSITION:
        return DISPOSITION_LABELS.get(case.disposition, "not assessed yet")
    return STATUS_LABELS.get(case.status, case.status)


def _sort_key(case: OotCaseView, column: int) -> Any:
    if column == COL_CASE:
        return case.id
    if column == COL_INSTRUMENT:
        return case.asset_tag
    if column == COL_FOUND:
        return case.found_on.toordinal()
    if column == COL_LAST_GOOD:
        return case.last_good_on.toordinal() if case.last_good_on else 0
    if column == COL_AFFECTED:
        return len(case.affected)
    return _display(case, column)


class OotTableModel(SortedListModel[OotCaseView]):
    """The cases of one status filter, sortable by any column."""

    COLUMNS = COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent, sort=(COL_FOUND, True))  # newest finding first
        self._all: list[OotCaseView] = []
        self._status: str | None = "open"

    # -- feeding ---------------------------------------------------------------------

    def set_cases(self, cases: Sequence[OotCaseView]) -> None:
        self._all = list(cases)
        self._refilter()

    def set_status(self, status: str | None) -> None:
        self._status = status
        self._refilter()

    @property
    def status(self) -> str | None:
        return self._status

    def counts(self) -> dict[str | None, int]:
        return status_counts(self._all)

    def case_at(self, row: int) -> OotCaseView | None:
        return self.item_at(row)

    def find(self, case_id: int) -> OotCaseView | None:
        """A case of the whole list, whatever the filter shows."""
        return next((c for c in self._all if c.id == case_id), None)

    def _refilter(self) -> None:
        self.beginResetModel()
        self._rows = [c for c in self._all if self._status is None or c.status == self._status]
        self._apply_sort()
        self.endResetModel()

    def sort_key(self, item: OotCaseView, column: int) -> Any:
        return _sort_key(item, column)

    # -- Qt model --------------------------------------------------------------------

    def cell(self, case: OotCaseView, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(case, column)
        if role == ID_ROLE:
            return case.id
        if role == SORT_ROLE:
            return _sort_key(case, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_LAST_GOOD and case.last_good_on is None:
                return "No earlier calibration left it in tolerance: everything before is suspect"
            if column == COL_FOUND and case.found_by:
                return f"Found by {case.found_by}"
            if column == COL_AFFECTED:
                tags = ", ".join(case.affected_instruments) or "none"
                return f"Calibrations it served in since the last good one; instruments: {tags}"
            return _display(case, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATUS:
            return status_color("overdue" if case.status == "open" else "retired")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{COLUMNS[column]}: {_display(case, column)}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_AFFECTED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
