"""The import wizard's column mapping: one row per column of the file, the field it
feeds, where that choice came from; the required fields nothing feeds yet; and how
rows that meet registered data are treated.

Choices here are checked locally (required fields, one column per field) so that Next
says at once what is missing; the dry run on the next page applies every other rule.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from app.services.transfer_mapping import COLUMNS, INTERVAL_FIELDS, looks_like_other_kind
from app.services.transfer_model import ColumnMap
from app.storage.tables import Cell
from app.ui.dialogs.import_state import KIND_NAMES, ImportHost
from app.ui.jobs import BusyBar

MAP_COLUMNS = ("Column in the file", "First values", "Imported as", "From")
COL_HEADER, COL_SAMPLES, COL_FIELD, COL_SOURCE = range(len(MAP_COLUMNS))
NOT_IMPORTED = "— not imported —"
SOURCE_NAMES = {"remembered": "remembered", "guessed": "guessed", "given": "yours"}
SAMPLES = 3


def _cell_text(value: Cell) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return " ".join(str(value).split())


class MappingPage(QWizardPage):
    """Which column becomes which field (guessed, remembered, or yours)."""

    def __init__(self, host: ImportHost) -> None:
        super().__init__()
        self.host = host
        self._filling = False
        self._columns: list[ColumnMap] = []
        self.setTitle("Columns")
        self.setSubTitle(
            "Check which field each column of the file feeds. Your choices are remembered "
            "for files with the same columns once the import is saved."
        )
        self.problem = QLabel()
        self.problem.setObjectName("fieldError")
        self.problem.setWordWrap(True)
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        self.problem.setAccessibleName("Missing fields")
        self.problem.hide()
        self.table = QTableWidget(0, len(MAP_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(MAP_COLUMNS))
        self.table.setAccessibleName("Column mapping")
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_SAMPLES, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_HEADER, 200), (COL_FIELD, 260), (COL_SOURCE, 130)):
            self.table.setColumnWidth(col, width)
        label = QLabel("&Mapping (one row per column of the file):")
        label.setBuddy(self.table)

        self.mode_box = QGroupBox("Rows whose asset tag is already registered")
        self.add_only = QRadioButton(
            "&Add new instruments only (refuse the rows of registered ones)"
        )
        self.add_or_update = QRadioButton(
            "Add new ones and &update the registered ones with the file's values"
        )
        self.add_only.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.add_only)
        group.addButton(self.add_or_update)
        self.add_or_update.toggled.connect(self._mode_changed)
        self.keep_status = QCheckBox(
            "&History of instruments whose status is already registered: a failure in it "
            "does not take the instrument out of service (a failed calibration still opens "
            "its out-of-tolerance case)"
        )
        self.keep_status.toggled.connect(self._mode_changed)
        box = QVBoxLayout(self.mode_box)
        box.addWidget(self.add_only)
        box.addWidget(self.add_or_update)
        box.addWidget(self.keep_status)

        self.busy_bar = BusyBar(host.stop)
        host.add_busy_bar(self.busy_bar)
        layout = QVBoxLayout(self)
        layout.addWidget(self.problem)
        layout.addWidget(label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.mode_box)
        layout.addWidget(self.busy_bar)

    # -- QWizardPage -----------------------------------------------------------------

    def initializePage(self) -> None:
        self.refresh()

    def cleanupPage(self) -> None:
        """Back keeps every choice made here."""

    def validatePage(self) -> bool:
        # Which page comes next (values or check) is known once these choices are checked.
        if self.host.state.check_fresh:
            return True
        self.host.run_check(then=self.host.next)
        return False

    def isComplete(self) -> bool:
        return (
            not self.host.busy
            and self.host.state.read_fresh
            and not self._missing()
            and not self._clashes()
        )

    # -- showing ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Show the newest dry run's mapping with the user's own choices on top."""
        state = self.host.state
        loaded = state.loaded
        instruments = state.kind == "instruments"
        self.mode_box.setTitle(
            "Rows whose asset tag is already registered"
            if instruments
            else f"{KIND_NAMES[state.kind].capitalize()} and the instruments' status"
        )
        # Schedules, providers and custody and send-out history change no instrument's
        # status: nothing to choose.
        self.mode_box.setVisible(
            state.kind not in ("schedules", "providers", "custody", "sendouts")
        )
        self._filling = True
        try:
            self.add_only.setVisible(instruments)
            self.add_or_update.setVisible(instruments)
            self.keep_status.setVisible(not instruments)
            self.add_or_update.setChecked(state.update_existing)
            self.add_only.setChecked(not state.update_existing)
            self.keep_status.setChecked(state.keep_status)
            columns = list(loaded.preview.mapping.columns) if loaded else []
            if columns != self._columns or self.table.rowCount() != len(columns):
                self._columns = columns
                self._fill()
            else:
                self._update_sources()
        finally:
            self._filling = False
        self._show_problems()
        self.completeChanged.emit()

    def _samples(self, index: int) -> str:
        loaded = self.host.state.loaded
        if loaded is None or loaded.preview.header_line is None:
            return ""
        found: list[str] = []
        for row in loaded.table.rows:
            if row.line <= loaded.preview.header_line or index >= len(row.cells):
                continue
            text = _cell_text(row.cells[index])
            if text:
                found.append(text if len(text) <= 40 else text[:39] + "…")
            if len(found) >= SAMPLES:
                break
        return " · ".join(found)

    def _fill(self) -> None:
        kind = self.host.state.kind
        specs = [s for s in COLUMNS[kind] if not s.informational]
        seen: set[str] = set()
        self.table.setRowCount(len(self._columns))
        for row, column in enumerate(self._columns):
            name = column.header or f"(column {column.index + 1}, no name)"
            header_item = QTableWidgetItem(name)
            header_item.setToolTip(f"Column {column.index + 1} of the file: {name}")
            self.table.setItem(row, COL_HEADER, header_item)
            samples = self._samples(column.index)
            sample_item = QTableWidgetItem(samples or "(empty)")
            sample_item.setToolTip(samples)
            self.table.setItem(row, COL_SAMPLES, sample_item)
            combo = QComboBox()
            combo.setAccessibleName(f"Imported as, for column {name}")
            combo.addItem(NOT_IMPORTED, "")
            for spec in specs:
                combo.addItem(spec.label + (" (required)" if spec.required else ""), spec.field)
                combo.setItemData(combo.count() - 1, spec.describes, Qt.ItemDataRole.ToolTipRole)
            chosen = self.host.state.overrides.get(column.header)
            if chosen is None:
                chosen = "" if column.informational else column.field or ""
            combo.setCurrentIndex(max(0, combo.findData(chosen)))
            if not column.header or column.header in seen:
                # A choice is kept by the column's name: a nameless or repeated one cannot be.
                combo.setEnabled(False)
                combo.setToolTip(
                    "This column has no name of its own in the file; name it there to import it"
                )
            seen.add(column.header)
            combo.currentIndexChanged.connect(
                lambda _i, h=column.header, c=combo: self._field_chosen(h, c)
            )
            self.table.setCellWidget(row, COL_FIELD, combo)
            self.table.setItem(row, COL_SOURCE, QTableWidgetItem(""))
        self._update_sources()

    def _source_of(self, column: ColumnMap) -> str:
        if column.header in self.host.state.overrides:
            return "yours"
        if column.informational:
            return "export bookkeeping"
        if column.source == "remembered" or column.field:
            return SOURCE_NAMES.get(column.source, "—")
        return "—"

    def _update_sources(self) -> None:
        for row, column in enumerate(self._columns):
            item = self.table.item(row, COL_SOURCE)
            if item is not None:
                item.setText(self._source_of(column))
                item.setToolTip(
                    {
                        "yours": "You chose this here",
                        "remembered": "Confirmed by you for a file with the same columns",
                        "guessed": "Guessed from the column's name",
                        "export bookkeeping": "Written by CalTrack's export; not imported",
                    }.get(item.text(), "Nothing is read from this column")
                )

    def chosen(self) -> list[tuple[str, str]]:
        """(header, field) per column as the combos show them now."""
        found: list[tuple[str, str]] = []
        for row, column in enumerate(self._columns):
            combo = self.table.cellWidget(row, COL_FIELD)
            if isinstance(combo, QComboBox):
                found.append((column.header, str(combo.currentData() or "")))
        return found

    def combo_for(self, header: str) -> QComboBox | None:
        for row, column in enumerate(self._columns):
            if column.header == header:
                combo = self.table.cellWidget(row, COL_FIELD)
                return combo if isinstance(combo, QComboBox) else None
        return None

    def _missing(self) -> list[str]:
        if not self._columns:
            return []
        fields = {f for _h, f in self.chosen()}
        return [
            s.label.lower()
            for s in COLUMNS[self.host.state.kind]
            if s.required and s.field not in fields
        ]

    def _clashes(self) -> list[str]:
        chosen = [(h, f) for h, f in self.chosen() if f]
        counts = Counter(f for _h, f in chosen)
        labels = {s.field: s.label.lower() for s in COLUMNS[self.host.state.kind]}
        found = [
            f"{labels.get(f, f)} comes from " + " and ".join(repr(h) for h, g in chosen if g == f)
            for f, n in counts.items()
            if n > 1
        ]
        intervals = [h for h, f in chosen if f in INTERVAL_FIELDS]
        if len(intervals) > 1 and not any(counts[f] > 1 for f in INTERVAL_FIELDS):
            found.append(
                "the calibration interval comes from " + " and ".join(map(repr, intervals))
            )
        return found

    def _show_problems(self) -> None:
        lines: list[str] = []
        missing = self._missing()
        if missing:
            lines.append(
                "Required, and no column is imported as it: "
                + ", ".join(missing)
                + ". Choose the column that holds it."
            )
            loaded = self.host.state.loaded
            other = looks_like_other_kind(self.host.state.kind, loaded.headers) if loaded else None
            if other:
                lines.append(
                    f"This looks like a file of {other}: go Back and import it as "
                    f"{'calibration history' if other == 'calibrations' else other}."
                )
        clashes = self._clashes()
        if clashes:
            lines.append("One column per field: " + "; ".join(clashes) + ". Leave one of them out.")
        self.problem.setText("\n".join(lines))
        self.problem.setVisible(bool(lines))

    # -- choices ---------------------------------------------------------------------

    def _field_chosen(self, header: str, combo: QComboBox) -> None:
        if self._filling:
            return
        self.host.state.set_override(header, str(combo.currentData() or ""))
        self._update_sources()
        self._show_problems()
        self.completeChanged.emit()

    def _mode_changed(self, _on: bool) -> None:
        if self._filling:
            return
        self.host.state.set_mode(
            update_existing=self.add_or_update.isChecked(), keep_status=self.keep_status.isChecked()
        )
