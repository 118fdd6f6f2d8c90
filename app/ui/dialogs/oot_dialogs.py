"""Out-of-tolerance cases: the non-modal case window, and closing a case with a signature.

The window lists the cases with a status filter; the selected case shows what was
found, what it may have affected (reverse traceability), the verdicts its standard's
error would change (the Impact tab: ``OotService.impact``, computed in the background,
from which QA opens follow-up cases) and QA's impact assessment and disposition. An
unsaved assessment is kept per case while the window lives (switching cases or closing
the window loses nothing); it is saved with the version it started from, so someone
else's newer assessment leads to the conflict dialog.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.bootstrap import CalTrack
from app.errors import ConflictError, ValidationError
from app.services.accounts import ROLE_NAMES, ROLE_RANK
from app.services.dto import (
    OotCaseView,
    PointView,
    UserView,
)
from app.services.oot import DISPOSITION_LABELS, FollowUps
from app.services.oot_impact import CaseImpact
from app.ui import messages
from app.ui.dialogs.calibration_dialog import number_text
from app.ui.dialogs.conflict_dialog import resolve_conflict
from app.ui.dialogs.form import dialog_layout, enter_presses, notice_box
from app.ui.dialogs.sign_dialog import SigningBox, show_signing_failure, signature_line
from app.ui.modal import open_modal
from app.ui.models.impact_table import ImpactTableModel
from app.ui.models.oot_table import (
    COL_FOUND,
    FILTERS,
    ID_ROLE,
    STATUS_LABELS,
    OotTableModel,
)
from app.ui.tasks import Changes, TaskRunner, run_for
from app.words import count

Ok = Callable[[Any], None]
Fail = Callable[[BaseException], None]
# password, comment, return to service, ok, fail
CloseSubmit = Callable[[str, str, bool, Ok, Fail], None]
CASE_STATEMENT = (
    "Closing signs the case with the meaning “closed”. Your electronic signature is the "
    "legally binding equivalent of your handwritten signature (21 CFR 11.100); it shows "
    "your printed name, your login and the date and time in UTC (11.50), and it is bound "
    "to the assessment, the disposition and the list of affected calibrations as they are "
    "now (11.70). A closed case can no longer be changed."
)
AFFECTED_COLUMNS = ("Record", "Date", "Instrument", "Result", "Certificate", "Status now")
# Alt+P opens the tab and puts the keyboard in its list (a tab's own mnemonic would only
# switch tabs and leave the focus where it was).
IMPACT_TAB = "Impact"
IMPACT_KEY = "Alt+P"
# The case list's height while the Impact tab shows (pixels; about five cases).
IMPACT_LIST_ROOM = 220


def ask_discard(parent: QWidget, text: str) -> bool:
    """True when the user agrees to lose unsaved text (tests replace this)."""
    answer = messages.ask(
        parent,
        "Unsaved assessment",
        text,
        messages.Button.Discard | messages.Button.Cancel,
        messages.Button.Cancel,
    )
    return answer == messages.Button.Discard


def point_text(p: PointView) -> str:
    unit = f" {p.unit}" if p.unit else ""
    found = number_text(p.as_found) or "—"
    left = "" if p.as_left is None else f", left at {number_text(p.as_left)}{unit}"
    nominal, tolerance = number_text(p.nominal), number_text(p.tolerance)
    return f"{nominal}{unit}: found {found}{unit} (±{tolerance}{unit}){left}"


def impact_header(case: OotCaseView, impact: CaseImpact) -> str:
    """The lines above the impact list: when it was computed, its summary, the standard's
    errors it used and the method, all in the service's words."""
    if impact.frozen:
        when = "As stored when the case was closed" + (
            f" on {case.closed_at:%Y-%m-%d %H:%M} UTC" if case.closed_at else ""
        )
    elif case.status == "open":
        when = (
            "Computed now from the stored readings; closing the case stores this list "
            "with the signature"
        )
    elif case.status == "cancelled":
        when = "Computed now from the stored readings (the case is cancelled)"
    else:
        when = "Computed now: the case was closed before CalTrack stored impact lists"
    errors = "; ".join(f"{e.error} {e.unit} at {e.nominal} {e.unit}" for e in impact.errors)
    return (
        f"{when}.\n{impact.summary}.\n"
        f"Standard {impact.standard_tag}'s as-found error, from its {impact.error_source}: "
        f"{errors or 'none (no as-found readings)'}.\n"
        f"Method: {impact.method}."
    )


def follow_up_text(origin_id: int, done: FollowUps) -> str:
    """What opening follow-up cases did, naming the new cases and the instruments left."""
    if done.opened:
        opened = ", ".join(f"OOT-{c.id} ({c.asset_tag})" for c in done.opened)
        text = f"Opened {opened}: follow-up of OOT-{origin_id}, listed with the open cases."
    else:
        text = "No follow-up case opened."
    if done.skipped:
        text += " Skipped: " + "; ".join(done.skipped) + "."
    return text


class ImpactTableView(QTableView):
    """The impact list: Space (Qt's own) or Enter adds the current row to the
    selection or takes it out, so rows are picked by keyboard as by clicks."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        current = self.currentIndex()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and current.isValid():
            self.selectionModel().select(
                current,
                QItemSelectionModel.SelectionFlag.Toggle | QItemSelectionModel.SelectionFlag.Rows,
            )
            event.accept()
            return
        super().keyPressEvent(event)


@dataclass(frozen=True)
class Draft:
    """An assessment typed and not saved yet, with the case version it started from."""

    assessment: str
    disposition: str
    version: int


class CloseCaseDialog(QDialog):
    """Close an assessed case: optional return to service, comment, signing password."""

    def __init__(
        self,
        *,
        case: OotCaseView,
        signer: UserView,
        can_return: tuple[bool, str],
        submit: CloseSubmit,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._submit = submit
        self._busy_now = False
        self.closed: Any = None
        self.setWindowTitle(f"Close OOT-{case.id} — {case.asset_tag}")
        self.setMinimumWidth(600)
        self.banner = notice_box()

        what = QGroupBox("What you sign")
        facts = QFormLayout(what)
        for label, value in (
            ("Case:", f"OOT-{case.id}, {case.asset_tag} — {case.description}"),
            ("Found:", f"{case.found_text}: {case.summary}"),
            ("Affected:", f"{count(len(case.affected), 'calibration')} since the last good one"),
            ("Assessment:", case.impact_assessment or "—"),
            ("Disposition:", DISPOSITION_LABELS.get(case.disposition, "—")),
        ):
            text = QLabel(value)
            text.setWordWrap(True)
            facts.addRow(label, text)

        ok_to_return, why = can_return
        self.return_to_service = QCheckBox(f"&Return {case.asset_tag} to service")
        self.return_to_service.setEnabled(ok_to_return)
        self.return_to_service.setToolTip(why)
        self.return_to_service.setAccessibleDescription(why)
        self.return_note = QLabel(why)
        self.return_note.setWordWrap(True)
        self.return_error = QLabel()
        self.return_error.setObjectName("fieldError")
        self.return_error.setWordWrap(True)
        self.return_error.hide()

        self.comment = QPlainTextEdit()
        self.comment.setTabChangesFocus(True)
        self.comment.setFixedHeight(48)
        self.comment.setPlaceholderText("Optional comment, printed with the signature")
        self.comment.setAccessibleName("Comment")
        comment_label = QLabel("&Comment:")
        comment_label.setBuddy(self.comment)
        self.signing = SigningBox(signer, CASE_STATEMENT)
        self.signing.password_changed.connect(lambda _t: self._update_ok())

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("C&lose case", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._close_case)
        self.buttons.rejected.connect(self.reject)
        layout = dialog_layout(self)
        layout.addWidget(self.banner)
        layout.addWidget(what)
        layout.addWidget(self.return_to_service)
        layout.addWidget(self.return_note)
        layout.addWidget(self.return_error)
        layout.addWidget(comment_label)
        layout.addWidget(self.comment)
        layout.addWidget(self.signing)
        layout.addWidget(self.buttons)
        # Enter after the password closes the case.
        enter_presses(self, self.ok)
        self._update_ok()
        self.signing.password.setFocus()

    def _update_ok(self) -> None:
        self.ok.setEnabled(bool(self.signing.text()) and not self._busy_now)

    def _busy(self, busy: bool) -> None:
        self._busy_now = busy
        if busy:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        else:
            QGuiApplication.restoreOverrideCursor()
        self._update_ok()

    def _close_case(self) -> None:
        if not self.signing.text() or self._busy_now:
            return
        self.signing.clear_error()
        self.return_error.hide()
        self.banner.hide()
        self._busy(True)
        self._submit(
            self.signing.text(),
            self.comment.toPlainText().strip(),
            self.return_to_service.isChecked(),
            self._done,
            self._failed,
        )

    def _done(self, result: Any) -> None:
        self._busy(False)
        self.closed = result
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        show_signing_failure(
            self,
            exc,
            signing=self.signing,
            field=("return_to_service", self.return_error),
            banner=self.banner,
            not_done="Not closed",
            doing="closing the case",
        )


class OotWindow(QWidget):
    """The out-of-tolerance cases of this database (a window of its own, non-modal)."""

    instrument_wanted = Signal(str)  # show this asset tag in the register

    def __init__(
        self,
        *,
        app: CalTrack,
        runner: TaskRunner,
        editing: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setWindowTitle("Out-of-tolerance cases")
        self.setObjectName("ootWindow")
        self.resize(1180, 720)
        self._app = app
        self._runner = runner
        self._editing = editing
        self.case: OotCaseView | None = None
        self.drafts: dict[int, Draft] = {}
        self._wanted: int | None = None
        self._loading_editor = False
        self.loaded = False
        # The selected case's impact list and who reads it (the follow-up is QA's).
        self.impact: CaseImpact | None = None
        self.me: UserView | None = None
        self._following = False
        # The splitter's sizes before the Impact tab took room from the case list.
        self._list_sizes: list[int] | None = None

        self.model = OotTableModel(self)
        filter_bar = QWidget()
        filter_bar.setObjectName("filterBar")
        bar = QHBoxLayout(filter_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        self.filter_group = QButtonGroup(self)
        self.filter_buttons: dict[str | None, QToolButton] = {}
        for key, label in FILTERS:
            chip = QToolButton()
            chip.setCheckable(True)
            chip.setText(label)
            # Text only: the default (icon only) sizes the chip for an icon and elides
            # its words to "Op…0)".
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            chip.setAccessibleName(f"Show {label.lower()} cases")
            chip.clicked.connect(lambda _c=False, k=key: self.set_filter(k))
            self.filter_group.addButton(chip)
            self.filter_buttons[key] = chip
            bar.addWidget(chip)
        self.filter_buttons["open"].setChecked(True)
        bar.addStretch(1)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.reload)
        bar.addWidget(self.refresh_button)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Out-of-tolerance cases")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSortIndicator(COL_FOUND, Qt.SortOrder.DescendingOrder)
        self.table.setSortingEnabled(True)
        for col, width in enumerate((80, 300, 100, 100, 80, 300)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.empty = QLabel()
        self.empty.setWordWrap(True)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(filter_bar)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.empty)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self._build_case_panel())
        # The case list gets room for a dozen cases; the selected case's panel the rest
        # (its tables scroll, its assessment box grows).
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([350, 370])
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self, self.reload)
        self.show_case(None)
        # Every write in this window (and an import or a voided record elsewhere) is
        # announced by the runner; the list follows from that one signal.
        runner.changed.connect(self._data_changed)

    def _build_case_panel(self) -> QWidget:
        panel = QWidget()
        self.case_title = QLabel("No case selected")
        self.case_title.setObjectName("detailTitle")
        self.case_title.setWordWrap(True)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.setAccessibleName("Case facts")
        self.affected = QTableWidget(0, len(AFFECTED_COLUMNS))
        self.affected.setHorizontalHeaderLabels(list(AFFECTED_COLUMNS))
        self.affected.verticalHeader().hide()
        self.affected.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.affected.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.affected.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.affected.setAlternatingRowColors(True)
        self.affected.horizontalHeader().setStretchLastSection(True)
        self.affected.setAccessibleName("Calibrations it may have affected")
        self.affected.setToolTip("Double-click: show that instrument in the register")
        self.affected.itemDoubleClicked.connect(self._affected_clicked)
        self.affected_label = QLabel("May have affected:")
        self.affected_label.setBuddy(self.affected)

        affected_page = QWidget()
        affected_layout = QVBoxLayout(affected_page)
        affected_layout.setContentsMargins(4, 4, 4, 4)
        affected_layout.addWidget(self.affected_label)
        affected_layout.addWidget(self.affected, 1)
        # What the case may have affected, and what its standard's error changes: two
        # views of the same calibrations, side by side as tabs.
        self.tabs = QTabWidget()
        self.tabs.addTab(affected_page, "&Affected calibrations")
        self.tabs.addTab(self._build_impact_tab(), IMPACT_TAB)
        self.tabs.setTabToolTip(
            1, f"Which verdicts the standard's error would change ({IMPACT_KEY})"
        )
        QShortcut(QKeySequence(IMPACT_KEY), self, self.show_impact)
        self.tabs.currentChanged.connect(self._tab_changed)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.facts)
        left_layout.addWidget(self.tabs, 1)

        self.assessment = QPlainTextEdit()
        self.assessment.setTabChangesFocus(True)
        self.assessment.setAccessibleName("Impact assessment")
        self.assessment.setPlaceholderText(
            "What the error means for the calibrations listed: were their results still "
            "valid given their tolerances? Who was informed?"
        )
        self.assessment.textChanged.connect(self._editor_changed)
        self.disposition = QComboBox()
        self.disposition.setAccessibleName("Disposition")
        self.disposition.addItem("— choose a disposition —", "")
        for value, label in DISPOSITION_LABELS.items():
            self.disposition.addItem(label, value)
        self.disposition.currentIndexChanged.connect(lambda _i: self._editor_changed())
        self.unsaved = QLabel()
        self.unsaved.setAccessibleName("Unsaved changes")
        self.assess_error = QLabel()
        self.assess_error.setObjectName("fieldError")
        self.assess_error.setWordWrap(True)
        self.assess_error.hide()
        self.save_button = QPushButton("&Save assessment")
        self.save_button.clicked.connect(self.save_assessment)
        self.close_button = QPushButton("&Close case…")
        self.close_button.setToolTip("Close the case with your signature")
        self.close_button.clicked.connect(self.close_case)
        self.signatures = QLabel()
        self.signatures.setWordWrap(True)
        self.signatures.setAccessibleName("Signatures")
        self.signatures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_note = QLabel()
        self.state_note.setWordWrap(True)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        assess_label = QLabel("&Impact assessment:")
        assess_label.setBuddy(self.assessment)
        right_layout.addWidget(assess_label)
        right_layout.addWidget(self.assessment, 1)
        disposition_row = QHBoxLayout()
        disposition_label = QLabel("&Disposition:")
        disposition_label.setBuddy(self.disposition)
        disposition_row.addWidget(disposition_label)
        disposition_row.addWidget(self.disposition, 1)
        right_layout.addLayout(disposition_row)
        right_layout.addWidget(self.assess_error)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.unsaved, 1)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.state_note)
        right_layout.addWidget(self.signatures)

        columns = QSplitter(Qt.Orientation.Horizontal)
        columns.addWidget(left)
        columns.addWidget(right)
        columns.setStretchFactor(0, 2)
        columns.setStretchFactor(1, 1)
        columns.setSizes([780, 380])
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.case_title)
        layout.addWidget(columns, 1)
        return panel

    def _build_impact_tab(self) -> QWidget:
        page = QWidget()
        self.impact_model = ImpactTableModel(self)
        self.impact_note = QLabel()
        self.impact_note.setWordWrap(True)
        self.impact_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.impact_note.setAccessibleName("How the impact was computed")
        self.impact_table = ImpactTableView()
        self.impact_table.setModel(self.impact_model)
        self.impact_table.setAccessibleName("Verdicts the standard's error would change")
        self.impact_table.setAccessibleDescription(
            "Arrow keys move; Space or Enter selects a row for a follow-up case"
        )
        self.impact_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # A pick list: a click, Space or Enter adds a row or takes it out again.
        self.impact_table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        self.impact_table.setAlternatingRowColors(True)
        self.impact_table.setWordWrap(False)
        # Tab leaves the list for its buttons (it is read, not edited cell by cell).
        self.impact_table.setTabKeyNavigation(False)
        self.impact_table.verticalHeader().hide()
        header = self.impact_table.horizontalHeader()
        header.setStretchLastSection(True)
        # Left, over the text: a long reason in "Change" would push a centred title away.
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.impact_table.selectionModel().selectionChanged.connect(
            lambda _s, _d: self._update_impact_controls()
        )
        self.select_flipped_button = QPushButton("Selec&t all flipped")
        self.select_flipped_button.setToolTip("Select every reading whose verdict would change")
        self.select_flipped_button.clicked.connect(self.select_flipped)
        self.follow_up_button = QPushButton("Open &follow-up cases…")
        self.follow_up_button.clicked.connect(self.open_follow_ups)
        self.follow_up_note = QLabel()
        self.follow_up_note.setWordWrap(True)
        self.follow_up_note.setAccessibleName("Follow-up cases")
        self.follow_up_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.select_flipped_button)
        buttons.addWidget(self.follow_up_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.impact_note)
        layout.addWidget(self.impact_table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.follow_up_note)
        return page

    # -- running ---------------------------------------------------------------------

    def _run(
        self,
        fn: Callable[[], Any],
        done: Ok,
        fail: Fail,
        *,
        key: str | None = None,
        changes: Changes | None = None,
    ) -> None:
        run_for(self, self._runner, fn, done, fail, key=key, changes=changes)

    def _data_changed(self, changes: Changes) -> None:
        """A write succeeded: a hidden window reloads when it is shown again."""
        # A changed role changes who may open follow-up cases.
        if (changes.cases or changes.calibrations or changes.accounts) and self.isVisible():
            self.reload()

    # -- loading ---------------------------------------------------------------------

    def reload(self) -> None:
        service = self._app.oot
        self._run(
            service.list,
            self._loaded,
            lambda exc: messages.explain(self, exc, doing="loading the cases"),
            key="oot-cases",
        )

    def _loaded(self, cases: list[OotCaseView]) -> None:
        keep = self._wanted or (self.case.id if self.case is not None else None)
        self._wanted = None
        self.model.set_cases(cases)
        counts = self.model.counts()
        for key, label in FILTERS:
            self.filter_buttons[key].setText(f"{label} ({counts.get(key, 0)})")
        if keep is not None and self.model.row_of(keep) is None and self.model.find(keep):
            # Asked for a case the filter hides (a closed one, say): show them all.
            self.filter_buttons[None].setChecked(True)
            self.model.set_status(None)
        self.loaded = True
        self._update_empty()
        self._select(keep)

    def _update_empty(self) -> None:
        status = self.model.status
        if self.model.rowCount():
            self.empty.hide()
            return
        which = STATUS_LABELS.get(status or "", "").lower()
        self.empty.setText(f"No {which} out-of-tolerance cases." if which else "No cases yet.")
        self.empty.show()

    def _select(self, case_id: int | None) -> None:
        row = self.model.row_of(case_id) if case_id is not None else None
        if row is None and self.model.rowCount():
            row = 0
        if row is None:
            self.show_case(None)
            return
        self.table.selectRow(row)
        self.show_case(self.model.case_at(row))

    def set_filter(self, status: str | None) -> None:
        self.filter_buttons[status].setChecked(True)
        keep = self.case.id if self.case is not None else None
        self.model.set_status(status)
        self._update_empty()
        self._select(keep)

    def show_case_id(self, case_id: int) -> None:
        """Open on one case (from the detail pane or a notice): reload, then select it."""
        self._wanted = case_id
        self.reload()

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        case_id = current.data(ID_ROLE) if current.isValid() else None
        if case_id is None or (self.case is not None and self.case.id == case_id):
            return
        self.show_case(self.model.find(int(case_id)))

    def set_editing(self, editing: bool) -> None:
        self._editing = editing
        self._update_controls()

    # -- the case --------------------------------------------------------------------

    def show_case(self, case: OotCaseView | None) -> None:
        self.case = case
        self.assess_error.hide()
        if case is None:
            self.case_title.setText("No case selected")
            self.facts.clear()
            self.affected.setRowCount(0)
            self._set_editor("", "")
            self.signatures.clear()
            self._update_controls()
            self._clear_impact("")
            return
        status = STATUS_LABELS.get(case.status, case.status)
        self.case_title.setText(f"OOT-{case.id} · {case.asset_tag} — {case.description} · {status}")
        self.facts.setText(self._facts_html(case))
        self._fill_affected(case)
        draft = self.drafts.get(case.id)
        if draft is not None and case.status == "open":
            self._set_editor(draft.assessment, draft.disposition)
        else:
            self._set_editor(case.impact_assessment, case.disposition)
        self.signatures.setText("\n".join(signature_line(s) for s in case.signatures))
        self._update_controls()
        self._load_impact(case)

    def _facts_html(self, case: OotCaseView) -> str:
        def row(label: str, value: str) -> str:
            return f"<tr><td><b>{label}</b>&nbsp;&nbsp;</td><td>{value}</td></tr>"

        last_good = (
            str(case.last_good_on)
            if case.last_good_on
            else "none recorded — everything it served in before is suspect"
        )
        failing = "<br>".join(html.escape(point_text(p)) for p in case.failing_points) or "—"
        closed = ""
        if case.closed_at is not None:
            back = ", returned to service" if case.returned_to_service else ""
            closed = row(
                "Closed:", f"{case.closed_at:%Y-%m-%d %H:%M} UTC by {case.closed_by}{back}"
            )
        return (
            "<table>"
            + row("Found on:", html.escape(case.found_text))
            + row("Last good:", html.escape(last_good))
            + row("Summary:", html.escape(case.summary))
            + row("Failing points:", failing)
            + row(
                "Opened:", f"{case.opened_at:%Y-%m-%d %H:%M} UTC by {html.escape(case.opened_by)}"
            )
            + closed
            + "</table>"
        )

    def _fill_affected(self, case: OotCaseView) -> None:
        self.affected.setRowCount(len(case.affected))
        for r, a in enumerate(case.affected):
            cells = (
                f"#{a.record_id}",
                str(a.performed_on),
                f"{a.asset_tag} — {a.description}",
                a.result,
                a.certificate_number,
                a.instrument_lifecycle.replace("_", " "),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, a.asset_tag)
                item.setToolTip(text)
                self.affected.setItem(r, c, item)
        self.affected.resizeColumnsToContents()
        self.affected_label.setText(
            f"May have affected ({count(len(case.affected), 'calibration')} since the last "
            f"good one, {count(len(case.affected_instruments), 'instrument')}):"
        )

    def _affected_clicked(self, item: QTableWidgetItem) -> None:
        tag = item.data(Qt.ItemDataRole.UserRole)
        if tag:
            self.instrument_wanted.emit(str(tag))

    # -- the impact list and follow-up cases -----------------------------------------

    def _tab_changed(self, index: int) -> None:
        # The impact list needs rows more than the case list does: while it shows, the
        # case list keeps about five rows (its selected case in view), and gets its
        # room back with the other tab.
        sizes = self.splitter.sizes()
        if index == 1 and self._list_sizes is None and sizes[0] > IMPACT_LIST_ROOM:
            self._list_sizes = sizes
            self.splitter.setSizes([IMPACT_LIST_ROOM, sum(sizes) - IMPACT_LIST_ROOM])
            self.table.scrollTo(self.table.currentIndex())
        elif index == 0 and self._list_sizes is not None:
            self.splitter.setSizes(self._list_sizes)
            self._list_sizes = None

    def show_impact(self) -> None:
        """The Impact tab, with the keyboard in its list."""
        self.tabs.setCurrentIndex(1)
        self.impact_table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _clear_impact(self, note: str) -> None:
        self.impact = None
        self.impact_model.set_items([])
        self.impact_note.setText(note)
        self.follow_up_note.clear()
        self.tabs.setTabText(1, IMPACT_TAB)
        self._update_impact_controls()

    def _load_impact(self, case: OotCaseView) -> None:
        """Compute (open case) or read (closed case) the list in the background."""
        if self.impact is None or self.impact.case_id != case.id:
            self._clear_impact("Working out which verdicts the standard's error would change…")
        oot, accounts = self._app.oot, self._app.accounts
        case_id = case.id

        def load() -> tuple[CaseImpact, UserView]:
            return oot.impact(case_id), accounts.me()

        def failed(exc: BaseException) -> None:
            self._clear_impact("The impact list could not be computed; Refresh tries again.")
            messages.explain(self, exc, doing=f"computing the impact list of OOT-{case_id}")

        self._run(load, lambda result: self._impact_loaded(case, *result), failed, key="oot-impact")

    def _impact_loaded(self, case: OotCaseView, impact: CaseImpact, me: UserView) -> None:
        if self.case is None or self.case.id != case.id:
            return
        same = self.impact is not None and self.impact.case_id == case.id
        kept = {self._row_key(r) for r in self._selected_rows()} if same else set()
        self.impact, self.me = impact, me
        self.impact_model.set_items(impact.rows)
        # The same case read again (after a follow-up, say): the rows picked stay picked.
        for r in range(self.impact_model.rowCount()):
            if self._row_key(r) in kept:
                self.impact_table.selectionModel().select(
                    self.impact_model.index(r, 0),
                    QItemSelectionModel.SelectionFlag.Select
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
        self.impact_note.setText(impact_header(case, impact))
        flipped = len(impact.flipped)
        self.tabs.setTabText(1, f"{IMPACT_TAB}: {count(flipped, 'verdict')} would change")
        self.impact_table.resizeColumnsToContents()
        self._update_impact_controls()

    def _row_key(self, row: int) -> tuple[int, int, str] | None:
        item = self.impact_model.item_at(row)
        return None if item is None else (item.record_id, item.seq, item.reading)

    def _selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.impact_table.selectionModel().selectedRows()})

    def follow_up_refusal(self) -> str:
        """Why "Open follow-up cases" is off now ("" when it is on)."""
        case, me = self.case, self.me
        if case is None or self.impact is None or self.impact.case_id != case.id or me is None:
            return "The impact list is not loaded yet"
        if not me.active or ROLE_RANK.get(me.role, 0) < ROLE_RANK["qa"]:
            role = ROLE_NAMES.get(me.role, me.role).lower()
            state = "" if me.active else ", and your account is deactivated"
            return (
                f"Only QA reviewers and admins open follow-up cases; you ({me.login}) are "
                f"a {role}{state}"
            )
        if not self._editing:
            return "Read-only: another session edits this database"
        if case.status == "cancelled":
            return "A cancelled case has no follow-up: the calibration that opened it was voided"
        if self._following:
            return "Opening the follow-up cases…"
        if not self._selected_rows():
            return "Select readings first: a click, Space or Enter, or Select all flipped"
        return ""

    def _update_impact_controls(self) -> None:
        refusal = self.follow_up_refusal()
        self.follow_up_button.setEnabled(not refusal)
        tip = refusal or (
            "Open a follow-up out-of-tolerance case for each instrument selected (Alt+F)"
        )
        self.follow_up_button.setToolTip(tip)
        self.follow_up_button.setAccessibleDescription(tip)
        self.select_flipped_button.setEnabled(bool(self.impact and self.impact.flipped))

    def select_flipped(self) -> None:
        """Select every reading whose verdict would change (and only those)."""
        selection = self.impact_table.selectionModel()
        selection.clearSelection()
        for r in self.impact_model.flipped_rows():
            selection.select(
                self.impact_model.index(r, 0),
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
            )
        self.impact_table.setFocus()

    def open_follow_ups(self) -> None:
        """Ask, then open a follow-up case for each instrument of the rows selected."""
        case = self.case
        if case is None or self.follow_up_refusal():
            return
        rows = [row for r in self._selected_rows() if (row := self.impact_model.item_at(r))]
        tags = sorted({row.asset_tag for row in rows})
        ids = frozenset(row.instrument_id for row in rows)
        # A row picked whose verdict holds still gets its case (QA may want one), but
        # the question says so.
        steady = sorted(set(tags) - {row.asset_tag for row in rows if row.flips})
        aside = (
            f" No verdict of the rows picked for {', '.join(steady)} would change."
            if steady
            else ""
        )
        messages.choose(
            self,
            "Open follow-up cases",
            f"Open a follow-up out-of-tolerance case for {', '.join(tags)}?{aside}",
            (
                ("&Open follow-up cases", messages.Role.AcceptRole),
                ("Cancel", messages.Role.RejectRole),
            ),
            lambda chosen: self._follow_up(case.id, tags, ids) if chosen == 0 else None,
            default=0,
            detail=(
                "One case per instrument, on its earliest calibration whose verdict would "
                f"change (else its latest one listed), naming OOT-{case.id}; it is audited. "
                "An instrument whose calibration already has a case is skipped. The "
                "instruments' status is left as it is."
            ),
            object_name="followUpQuestion",
        )

    def _follow_up(self, case_id: int, tags: list[str], ids: frozenset[int]) -> None:
        service = self._app.oot
        self._following = True
        self._update_impact_controls()

        def done(result: FollowUps) -> None:
            self._following = False
            self.follow_up_note.setText(follow_up_text(case_id, result))
            self._update_impact_controls()

        def failed(exc: BaseException) -> None:
            self._following = False
            self._update_impact_controls()
            messages.explain(self, exc, doing=f"opening follow-up cases of OOT-{case_id}")

        # The new cases are announced through the runner: this list and the register
        # reload from that one signal.
        self._run(
            lambda: service.follow_up(case_id, tags=tags),
            done,
            failed,
            changes=Changes(cases=True, instrument_ids=ids),
        )

    # -- the assessment editor -------------------------------------------------------

    def _set_editor(self, assessment: str, disposition: str) -> None:
        self._loading_editor = True
        try:
            self.assessment.setPlainText(assessment)
            self.disposition.setCurrentIndex(max(0, self.disposition.findData(disposition)))
        finally:
            self._loading_editor = False

    def editor_values(self) -> tuple[str, str]:
        return self.assessment.toPlainText().strip(), str(self.disposition.currentData() or "")

    def _editor_changed(self) -> None:
        if self._loading_editor or self.case is None or self.case.status != "open":
            return
        text, disposition = self.editor_values()
        case = self.case
        if (text, disposition) == (case.impact_assessment.strip(), case.disposition):
            self.drafts.pop(case.id, None)
        else:
            base = self.drafts.get(case.id)
            version = base.version if base is not None else case.version
            self.drafts[case.id] = Draft(text, disposition, version)
        self._update_controls()

    def _update_controls(self) -> None:
        case = self.case
        open_case = case is not None and case.status == "open"
        writable = open_case and self._editing
        self.assessment.setReadOnly(not writable)
        self.disposition.setEnabled(writable)
        dirty = case is not None and case.id in self.drafts
        self.save_button.setEnabled(writable and dirty)
        assessed = case is not None and bool(case.impact_assessment.strip() and case.disposition)
        self.close_button.setEnabled(writable and assessed and not dirty)
        if not writable:
            tip = "Read-only: another session edits this database" if open_case else ""
        elif dirty:
            tip = "Save the assessment first; closing signs what is saved"
        elif not assessed:
            tip = "Record and save the impact assessment and a disposition first"
        else:
            tip = "Close the case with your signature"
        self.close_button.setToolTip(tip or "Only open cases are closed")
        self.unsaved.setText("Unsaved changes" if dirty else "")
        if case is None:
            note = ""
        elif case.status == "closed":
            note = "Closed: the case is read-only. Its signature:"
        elif case.status == "cancelled":
            note = "Cancelled: the calibration that opened it was voided. Read-only."
        elif not self._editing:
            note = "Read-only: another session edits this database."
        else:
            note = ""
        self.state_note.setText(note)
        self.state_note.setVisible(bool(note))

    def save_assessment(self) -> None:
        case = self.case
        if case is None or case.status != "open" or not self._editing:
            return
        text, disposition = self.editor_values()
        draft = self.drafts.get(case.id)
        version = draft.version if draft is not None else case.version
        self._save(case.id, text, disposition, version)

    def _save(self, case_id: int, text: str, disposition: str, version: int) -> None:
        service = self._app.oot
        listed = self.model.find(case_id)
        touched = frozenset({listed.instrument_id}) if listed is not None else frozenset()
        self.save_button.setEnabled(False)
        self.assess_error.hide()
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)

        def done(saved: OotCaseView) -> None:
            QGuiApplication.restoreOverrideCursor()
            self.drafts.pop(case_id, None)
            self._wanted = saved.id

        def failed(exc: BaseException) -> None:
            QGuiApplication.restoreOverrideCursor()
            self._update_controls()
            if isinstance(exc, ConflictError):
                self._resolve_conflict(case_id, exc, text, disposition)
            elif isinstance(exc, ValidationError):
                self.assess_error.setText("\n".join(exc.fields.values()))
                self.assess_error.show()
            else:
                messages.explain(self, exc, doing=f"saving the assessment of OOT-{case_id}")

        self._run(
            lambda: service.assess(
                case_id,
                impact_assessment=text,
                disposition=disposition,
                expected_version=version,
            ),
            done,
            failed,
            changes=Changes(cases=True, instrument_ids=touched),
        )

    def _resolve_conflict(
        self, case_id: int, exc: ConflictError, text: str, disposition: str
    ) -> None:
        mine = {"impact_assessment": text, "disposition": disposition}

        def cancel() -> None:
            self.assess_error.setText(
                f"Not saved: OOT-{case_id} changed under you. Your text is kept here."
            )
            self.assess_error.show()

        def keep_theirs() -> None:
            self.drafts.pop(case_id, None)
            self._wanted = case_id
            self.reload()

        def reapply() -> None:
            # Mine on top of the stored version: save again with its version.
            self.drafts[case_id] = Draft(text, disposition, exc.theirs.version)
            self._save(case_id, text, disposition, exc.theirs.version)

        resolve_conflict(
            exc, mine, parent=self, cancel=cancel, keep_theirs=keep_theirs, reapply_mine=reapply
        )

    # -- closing ---------------------------------------------------------------------

    def close_case(self) -> None:
        case = self.case
        if case is None or not self.close_button.isEnabled():
            return
        accounts, oot = self._app.accounts, self._app.oot
        case_id = case.id

        def load() -> tuple[UserView, OotCaseView]:
            # The case afresh: whether it may return to service is the service's rule.
            return accounts.me(), oot.get(case_id)

        self._run(
            load,
            lambda result: self._ask_close(case, *result),
            lambda exc: messages.explain(self, exc, doing="preparing to close the case"),
        )

    def _ask_close(self, case: OotCaseView, me: UserView, fresh: OotCaseView) -> None:
        if not signer_ready(self, me, "close out-of-tolerance cases"):
            return
        service = self._app.oot

        def submit(password: str, comment: str, back: bool, ok: Ok, fail: Fail) -> None:
            self._run(
                lambda: service.close(
                    case.id,
                    password=password,
                    comment=comment,
                    return_to_service=back,
                    expected_version=case.version,
                ),
                ok,
                fail,
                # Back in service moves the instrument's status too.
                changes=Changes(
                    instruments=True, cases=True, instrument_ids=frozenset({case.instrument_id})
                ),
            )

        dialog = CloseCaseDialog(
            case=case,
            signer=me,
            can_return=(fresh.may_return_to_service, fresh.return_to_service_note),
            submit=submit,
            parent=self,
        )
        # The close announces its change: the list reloads and keeps this case selected,
        # so there is nothing left to do when the dialog finishes.
        open_modal(dialog, lambda _result: None)

    # -- closing the window ----------------------------------------------------------

    def unsaved_cases(self) -> list[int]:
        """Cases with an assessment typed and not saved (closing the window keeps them:
        it only hides; the main window asks before the application ends)."""
        return sorted(self.drafts)


def signer_ready(parent: QWidget, me: UserView, what: str) -> bool:
    """Say, before asking for a password, why this person cannot sign (role, password)."""
    if not me.active:
        messages.warn(
            parent,
            "Not allowed",
            f"Your account ({me.login}) is deactivated, so you may not {what}.",
            "Ask an admin to reactivate it (Database → Users and roles).",
        )
        return False
    if not me.may_sign:
        messages.warn(
            parent,
            "Not allowed",
            f"Only QA reviewers and admins may {what}; you ({me.login}) are a technician.",
            "Ask an admin to give you the QA role (Database → Users and roles).",
        )
        return False
    if not me.has_signing_password:
        messages.warn(
            parent,
            "Set your signing password first",
            f"You ({me.login}) have no signing password in this database yet.",
            "Set your signing password: QA → My signing password…, then sign again.",
        )
        return False
    return True
