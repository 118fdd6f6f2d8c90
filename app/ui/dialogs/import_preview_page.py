"""The import wizard's dry run: what each row would do, what is wrong with which, and
the Import button (the wizard's commit button) that saves all rows or none.

The values nothing maps are listed once each above the rows (one line per value, not
one per row). Rows whose old history contradicts itself are kept and flagged for QA
review, or left out, as chosen here; the dry run then runs again.

Unticking rows re-runs the dry run after a short pause (several ticks make one run);
Import stays disabled while a row that is taken in has an error, while the check is
running, or when its result is older than the choices on screen.
"""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QTableView,
    QVBoxLayout,
    QWizardPage,
)

from app.services.transfer_model import ImportPreview
from app.ui.dialogs.form import notice_box
from app.ui.dialogs.import_state import ImportHost
from app.ui.jobs import BusyBar
from app.ui.look import status_color
from app.ui.models.import_preview_table import (
    COL_ACTION,
    COL_IMPORT,
    COL_LINE,
    COL_NOTES,
    COL_TAG,
    ImportPreviewTableModel,
    row_detail,
)

RECHECK_MS = 600
# The kinds whose rows may update what is already stored.
UPDATING = ("instruments", "schedules", "providers")


def counts_text(preview: ImportPreview) -> str:
    counts = preview.counts()
    parts = [
        f"{counts['add']:,} to add",
        *([f"{counts['update']:,} to update"] if preview.kind in UPDATING else []),
        *([f"{counts['unchanged']:,} unchanged"] if counts["unchanged"] else []),
        f"{counts['error']:,} with errors",
        *([f"{counts['excluded']:,} left out"] if counts["excluded"] else []),
        *([f"{counts['not checked']:,} not checked"] if counts["not checked"] else []),
        # kept as recorded, their dates contradicting each other: QA reviews them
        *([f"{counts['flagged']:,} flagged for QA review"] if counts["flagged"] else []),
    ]
    return " · ".join(parts)


class PreviewPage(QWizardPage):
    """The dry run's rows, errors first, with ticks to leave rows out."""

    def __init__(self, host: ImportHost) -> None:
        super().__init__()
        self.host = host
        self.setTitle("Check")
        self.setSubTitle(
            "Every row was saved and then rolled back, so this is exactly what Import "
            "does. Nothing is written until you press Import."
        )
        self.setCommitPage(True)
        self.counts = QLabel()
        self.counts.setObjectName("detailTitle")
        self.counts.setAccessibleName("Counts")
        self.checked = QLabel()
        self.checked.setWordWrap(True)
        self.checked.setAccessibleName("How the rows were checked")
        self.problems = QLabel()
        self.problems.setObjectName("fieldError")
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.PlainText)
        self.problems.setAccessibleName("Problems with the file")
        self.problems.hide()
        self.value_problems = QLabel()
        self.value_problems.setObjectName("fieldError")
        self.value_problems.setWordWrap(True)
        self.value_problems.setTextFormat(Qt.TextFormat.PlainText)
        self.value_problems.setAccessibleName("Values not mapped")
        self.value_problems.hide()
        self.warnings = notice_box("Warnings")

        # Old history that contradicts itself: kept and flagged (the default), or left out.
        self.inconsistent_label = QLabel("Old history that contradicts itself:")
        self.inconsistent_label.setToolTip(
            "A next due date before the last calibration, a calibration in the future, "
            "a 1970-01-01 placeholder"
        )
        self.flag = QRadioButton("&Keep as recorded and flag for QA review")
        self.flag.setToolTip(
            "The rows are imported as the file has them; each instrument is marked "
            "“data to review” with the reason, for QA to clear"
        )
        self.leave_out_inconsistent = QRadioButton("Lea&ve those rows out")
        self.flag.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.flag)
        group.addButton(self.leave_out_inconsistent)
        self.flag.toggled.connect(self._inconsistent_changed)
        self.inconsistent_label.setBuddy(self.flag)
        inconsistent = QHBoxLayout()
        inconsistent.addWidget(self.inconsistent_label)
        inconsistent.addWidget(self.flag)
        inconsistent.addWidget(self.leave_out_inconsistent)
        inconsistent.addStretch(1)

        self.model = ImportPreviewTableModel(self)
        self.model.exclusions_changed.connect(self._exclusions_changed)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Rows of the file")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        for col, width in (
            (COL_IMPORT, 64),
            (COL_LINE, 56),
            (COL_ACTION, 96),
            (COL_TAG, 120),
            (COL_NOTES, 440),
        ):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().currentRowChanged.connect(lambda _c, _p: self._show_row())
        self.model.modelReset.connect(self._first_row)
        self.row_detail = QLabel()
        self.row_detail.setWordWrap(True)
        self.row_detail.setAccessibleName("The selected row")
        self.row_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.row_detail.hide()
        self.only_problems = QCheckBox("Show only rows with &errors (and those left out)")
        self.only_problems.toggled.connect(self.model.set_only_problems)
        self.leave_out = QPushButton("&Leave out every row with errors")
        self.leave_out.setToolTip("Untick every row that has an error; the check runs again")
        self.leave_out.clicked.connect(self.leave_out_errors)
        self.take_all = QPushButton("&Take every row in")
        self.take_all.clicked.connect(lambda: self.model.set_excluded(()))
        filters = QHBoxLayout()
        filters.addWidget(self.only_problems)
        filters.addStretch(1)
        filters.addWidget(self.leave_out)
        filters.addWidget(self.take_all)
        self.why = QLabel()
        self.why.setWordWrap(True)
        self.why.setAccessibleName("Why Import is not possible yet")
        self.again = QPushButton("C&heck again")
        self.again.clicked.connect(lambda: self.host.run_check())
        self.again.hide()
        why_row = QHBoxLayout()
        why_row.addWidget(self.why, 1)
        why_row.addWidget(self.again)

        self._recheck = QTimer(self)
        self._recheck.setSingleShot(True)
        self._recheck.setInterval(RECHECK_MS)
        self._recheck.timeout.connect(lambda: self.host.run_check())
        self.busy_bar = BusyBar(host.stop)
        host.add_busy_bar(self.busy_bar)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addWidget(self.checked)
        layout.addWidget(self.problems)
        layout.addWidget(self.value_problems)
        layout.addWidget(self.warnings)
        layout.addLayout(inconsistent)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.row_detail)
        layout.addLayout(why_row)
        layout.addWidget(self.busy_bar)
        self._shown: ImportPreview | None = None

    # -- QWizardPage -----------------------------------------------------------------

    def initializePage(self) -> None:
        self.refresh()
        if not self.host.state.check_fresh and not self.host.busy:
            self.host.run_check()

    def cleanupPage(self) -> None:
        """Back keeps the ticks; a change on an earlier page runs the check again."""
        self._recheck.stop()

    def isComplete(self) -> bool:
        return not self.reason_not_ready()

    def validatePage(self) -> bool:
        if self.host.state.result is not None:
            return True
        if self.isComplete():
            self.host.start_commit()
        return False  # the wizard moves on by itself once the commit is saved

    # -- showing ---------------------------------------------------------------------

    def reason_not_ready(self) -> str:
        """Why Import is disabled ("" when it is not)."""
        state = self.host.state
        if self.host.committing:
            return "Saving…"
        if self.host.busy or self._recheck.isActive():
            return "Checking the rows…"
        loaded = state.loaded
        if loaded is None or not state.check_fresh:
            stopped = f" {state.error}" if state.error else ""
            return f"The rows have not been checked with these choices yet.{stopped}"
        preview = loaded.preview
        if preview.problems:
            return (
                "Import is possible once the problems above are solved: go Back to change "
                "how the file is read or which column is which."
            )
        if preview.value_issues:
            n = len(preview.value_issues)
            return (
                f"Import is possible once every value is mapped: {n:,} "
                f"value{'s' if n != 1 else ''} above {'are' if n != 1 else 'is'} not. Go Back "
                "to the Values page to choose what they mean, or untick their rows."
            )
        if preview.error_lines:
            n = len(preview.error_lines)
            return (
                f"Import is possible once no row that is taken in has an error: {n:,} "
                f"row{'s' if n != 1 else ''} still {'have' if n != 1 else 'has'} one. Fix "
                "the file and check it again, or untick those rows to leave them out."
            )
        counts = preview.counts()
        if not counts["add"] + counts["update"]:
            return "Nothing to import: every row is left out or unchanged."
        return ""

    def refresh(self) -> None:
        state = self.host.state
        loaded = state.loaded
        preview = loaded.preview if loaded is not None else None
        self.flag.setChecked(state.inconsistent == "flag")
        self.leave_out_inconsistent.setChecked(state.inconsistent == "leave_out")
        if preview is not self._shown:
            self._shown = preview
            self.model.set_preview(preview)
            self.leave_out.setEnabled(bool(preview and preview.error_lines))
        if preview is None:
            self.counts.setText("Not checked yet")
            self.checked.setText("")
        else:
            self.counts.setText(counts_text(preview))
            mode = ""
            if preview.kind == "instruments":
                mode = (
                    " Registered instruments are updated."
                    if preview.update_existing
                    else " Registered instruments are refused (add new only)."
                )
            how = preview.checked
            if not how.startswith("not checked"):
                how = f"checked {how}"
            self.checked.setText(
                f"{preview.source}: {preview.counts()['rows']:,} rows, {how}." + mode
            )
            problems = [str(p) for p in preview.problems]
            self.problems.setText("\n".join(problems))
            self.problems.setVisible(bool(problems))
            values = [str(p) for p in preview.value_issues]
            self.value_problems.setText("\n".join(values))
            self.value_problems.setVisible(bool(values))
            self.warnings.setText("\n".join(preview.warnings))
            self.warnings.setVisible(bool(preview.warnings))
        reason = self.reason_not_ready()
        self.why.setText(reason)
        color = status_color("overdue" if preview is not None and preview.issues else "retired")
        self.why.setStyleSheet(f"color: {color.name()}")
        self.why.setVisible(bool(reason))
        stale = not state.check_fresh and not self.host.busy and not self._recheck.isActive()
        self.again.setVisible(stale and state.result is None)
        self.completeChanged.emit()

    # -- choices ---------------------------------------------------------------------

    def _inconsistent_changed(self, _on: bool) -> None:
        how: Literal["flag", "leave_out"] = "flag" if self.flag.isChecked() else "leave_out"
        if how == self.host.state.inconsistent:
            return
        self.host.state.set_inconsistent(how)
        self._recheck.start()
        self.refresh()

    def leave_out_errors(self) -> None:
        loaded = self.host.state.loaded
        if loaded is not None:
            self.model.set_excluded(self.model.excluded() | set(loaded.preview.error_lines))

    def _exclusions_changed(self, lines: frozenset[int]) -> None:
        self.host.state.set_excluded(lines)
        self._recheck.start()  # a few ticks in a row make one check
        self.refresh()

    def _first_row(self) -> None:
        if self.model.rowCount():
            self.table.selectRow(0)
        self._show_row()

    def _show_row(self) -> None:
        index = self.table.selectionModel().currentIndex()
        row = self.model.row_at(index.row()) if index.isValid() else None
        self.row_detail.setText(row_detail(row) if row is not None else "")
        self.row_detail.setVisible(row is not None)
