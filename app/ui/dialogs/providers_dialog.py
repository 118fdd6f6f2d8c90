"""External calibration providers and send-out batches in the window (issue 15, 17025 6.6).

Two tabs. **Providers**: the register on the left, the selected (or a new) provider on
the right; QA reviewers and admins keep it (``ProviderService``'s role check), anyone
else — and a window that does not edit the database — reads it, with a line saying why
(as the Types dialog). **Send-outs**: a form to send instruments to a provider (a
provider that is not approved asks for a reason), the batches, and the selected batch's
instruments with what their certificates said against the lab's own limits. Receiving
marks the selected instruments (or all still out) back and then prompts for the first
one's certificate (``CertificateEntryDialog``), prefilled from the provider; the
service records the calibration and the compare, shown in plain words at the bottom.

Everything is decided by the services; the dialog sends what was typed and shows what
comes back. Writes run through the task runner and are announced through its change
signal. Keys: Ctrl+N a new provider, Ctrl+S saves it, Esc closes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.bootstrap import CalTrack
from app.errors import ConflictError, ValidationError
from app.limits import NOTES_LEN, SHORT_LEN
from app.services.accounts import ROLE_NAMES, ROLE_RANK
from app.services.dto import UserView
from app.services.provider_views import (
    APPROVAL_LABELS,
    ProviderChanges,
    ProviderInput,
    ProviderView,
    ReceiptCompare,
    SendoutView,
)
from app.services.providers import KEEPER_ROLE
from app.ui import messages
from app.ui.dialogs.certificate_entry_dialog import CertificateEntryDialog
from app.ui.dialogs.form import ValidatingForm, notice_box
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.modal import open_modal
from app.ui.tasks import Changes, TaskRunner, run_for
from app.vocabulary import APPROVALS

Loaded = tuple[UserView, list[ProviderView], list[SendoutView]]
PROVIDER_COLUMNS = ("Provider", "Approval", "Review date", "State")
BATCH_COLUMNS = ("Batch", "Provider", "Sent on", "Expected", "PO", "Instruments", "State", "Cost")
ITEM_COLUMNS = ("Tag", "Description", "Back on", "Calibration", "Certificate vs lab's limits")
COL_COMPARE = 4


def _table(columns: Sequence[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setAccessibleName(name)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setTabKeyNavigation(False)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: Sequence[Sequence[object]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem("" if value is None else str(value)))


def _words(text: str) -> list[str]:
    return [t for t in text.replace(",", " ").split() if t]


class ProvidersDialog(QDialog):
    """The provider register and the send-out batches, in two tabs."""

    def __init__(
        self,
        *,
        app: CalTrack,
        runner: TaskRunner,
        editing: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._app = app
        self._runner = runner
        self._editing = editing
        self.me: UserView | None = None
        self.providers: list[ProviderView] = []
        self.batches: list[SendoutView] = []
        self.current: ProviderView | None = None  # the provider shown; None: a new one
        # What the form was filled from: a save sends only what was typed over it (after
        # a conflict ``current`` is the newer stored version, this stays).
        self.baseline: ProviderView | None = None
        self.last_compare: ReceiptCompare | None = None
        self.setWindowTitle("Providers and send-outs")
        self.resize(1100, 680)

        self.note = QLabel("Loading the providers…")
        self.note.setWordWrap(True)
        self.note.setAccessibleName("Who may change providers")
        self.banner = notice_box("Problems")
        self.tabs = QTabWidget()
        self.tabs.addTab(self._providers_tab(), "&Providers")
        self.tabs.addTab(self._sendouts_tab(), "&Send-outs")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(close)
        QShortcut(QKeySequence.StandardKey.Save, self, self.save_provider)
        QShortcut(QKeySequence.StandardKey.New, self, self.new_provider)
        self._set_may_edit()
        self._show_provider(None)
        self.reload()

    # -- building ----------------------------------------------------------------------

    def _providers_tab(self) -> QWidget:
        self.provider_list = _table(PROVIDER_COLUMNS, "Providers")
        self.provider_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.provider_list.currentCellChanged.connect(lambda row, *_: self._provider_chosen(row))
        self.heading = QLabel()
        self.form = ValidatingForm()
        self.name = QLineEdit()
        self.name.setMaxLength(SHORT_LEN)
        self.form.add("name", "Na&me:", self.name)
        self.approval = QComboBox()
        for code in APPROVALS:
            self.approval.addItem(APPROVAL_LABELS[code], code)
        self.form.add("approval", "&Approval:", self.approval)
        self.review_date = QLineEdit()
        self.review_date.setPlaceholderText("YYYY-MM-DD: the next review of this provider")
        self.form.add("review_date", "&Review date:", self.review_date)
        self.body = QLineEdit()
        self.body.setMaxLength(SHORT_LEN)
        self.body.setPlaceholderText("e.g. UKAS, DAkkS, A2LA")
        self.form.add("accreditation_body", "Accreditation &body:", self.body)
        self.number = QLineEdit()
        self.number.setMaxLength(SHORT_LEN)
        self.form.add("accreditation_number", "Accreditation n&umber:", self.number)
        self.scope = QPlainTextEdit()
        self.scope.setTabChangesFocus(True)
        self.scope.setFixedHeight(60)
        self.form.add("scope", "S&cope:", self.scope)
        self.contact = QPlainTextEdit()
        self.contact.setTabChangesFocus(True)
        self.contact.setFixedHeight(60)
        self.form.add("contact", "C&ontact:", self.contact)
        self.new_button = QPushButton("&New")
        self.new_button.setToolTip("Start a new provider (Ctrl+N)")
        self.save_button = QPushButton("Sa&ve")
        self.save_button.setToolTip("Save this provider (Ctrl+S)")
        self.retire_button = QPushButton("Re&tire…")
        self.retire_button.setToolTip("Stop using this provider (kept, with the reason)")
        # A retired provider is kept as it was: taking it back into use is its one change.
        self.reinstate_button = QPushButton("Re&instate…")
        self.reinstate_button.setToolTip("Take this retired provider back into use")
        self.reinstate_button.hide()
        self.new_button.clicked.connect(self.new_provider)
        self.save_button.clicked.connect(self.save_provider)
        self.retire_button.clicked.connect(self.retire_provider)
        self.reinstate_button.clicked.connect(self.reinstate_provider)
        buttons = QHBoxLayout()
        for button in (
            self.new_button,
            self.save_button,
            self.retire_button,
            self.reinstate_button,
        ):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        buttons.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addWidget(self.form)
        right.addStretch(1)
        right.addLayout(buttons)
        tab = QWidget()
        body = QHBoxLayout(tab)
        body.addWidget(self.provider_list, 2)
        body.addLayout(right, 3)
        return tab

    def _sendouts_tab(self) -> QWidget:
        self.send_form = ValidatingForm(columns=2)
        self.send_provider = QComboBox()
        self.send_form.add("provider", "Pro&vider:", self.send_provider)
        self.send_tags = QLineEdit()
        self.send_tags.setPlaceholderText("asset tags, e.g. TH-001 TH-002")
        self.send_form.add("instruments", "&Instruments:", self.send_tags)
        self.send_po = QLineEdit()
        self.send_po.setMaxLength(SHORT_LEN)
        self.send_form.add("po_number", "P&O number:", self.send_po)
        self.send_expected = QLineEdit()
        self.send_expected.setPlaceholderText("YYYY-MM-DD")
        self.send_form.add("expected_return", "E&xpected back:", self.send_expected, column=1)
        self.send_cost = QLineEdit()
        self.send_form.add("cost", "Co&st:", self.send_cost, column=1)
        self.send_reason = QLineEdit()
        self.send_reason.setMaxLength(NOTES_LEN)
        self.send_reason.setPlaceholderText("needed when the provider is not approved")
        self.send_form.add("reason", "Reaso&n:", self.send_reason, column=1)
        self.send_provider.currentIndexChanged.connect(lambda _i: self._warn_review())
        self.send_warning = QLabel("")
        self.send_warning.setObjectName("noticeBox")
        self.send_warning.setWordWrap(True)
        self.send_warning.setTextFormat(Qt.TextFormat.PlainText)
        self.send_warning.setAccessibleName("Provider review")
        self.send_warning.hide()
        self.send_button = QPushButton("Sen&d out")
        self.send_button.setAutoDefault(False)
        self.send_button.clicked.connect(self.send_out)
        self.batch_list = _table(BATCH_COLUMNS, "Send-out batches")
        self.batch_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.batch_list.currentCellChanged.connect(lambda row, *_: self._batch_chosen(row))
        self.items = _table(ITEM_COLUMNS, "Instruments of the batch")
        self.items.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.receive_selected = QPushButton("&Receive selected")
        self.receive_all = QPushButton("Receive &all")
        self.certificate_button = QPushButton("Record &certificate…")
        self.receive_selected.clicked.connect(lambda: self.receive(all_out=False))
        self.receive_all.clicked.connect(lambda: self.receive(all_out=True))
        self.certificate_button.clicked.connect(self.record_certificate)
        self.compare = QLabel("")
        self.compare.setObjectName("noticeBox")
        self.compare.setWordWrap(True)
        self.compare.setTextFormat(Qt.TextFormat.PlainText)
        self.compare.setAccessibleName("Certificate against the lab's limits")
        self.compare.hide()
        send_row = QHBoxLayout()
        send_row.addWidget(self.send_form, 1)
        send_row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        actions = QHBoxLayout()
        for button in (self.receive_selected, self.receive_all, self.certificate_button):
            button.setAutoDefault(False)
            actions.addWidget(button)
        actions.addStretch(1)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(send_row)
        layout.addWidget(self.send_warning)
        layout.addWidget(QLabel("Batches (newest first):"))
        layout.addWidget(self.batch_list, 2)
        layout.addWidget(QLabel("Its instruments:"))
        layout.addWidget(self.items, 2)
        layout.addLayout(actions)
        layout.addWidget(self.compare)
        return tab

    # -- loading -----------------------------------------------------------------------

    def _run(
        self,
        fn: Callable[[], Any],
        done: Callable[[Any], None],
        doing: str,
        *,
        changes: Changes | None = None,
    ) -> None:
        run_for(self, self._runner, fn, done, lambda exc: self._failed(exc, doing), changes=changes)

    def reload(self, *, provider: str | None = None, batch: int | None = None) -> None:
        """Read providers, batches and who may change what; then show the named ones."""
        accounts, providers, sendouts = self._app.accounts, self._app.providers, self._app.sendouts

        def load() -> Loaded:
            return accounts.me(), providers.list(), sendouts.list()

        self._run(load, lambda loaded: self._loaded(loaded, provider, batch), "loading providers")

    def _loaded(self, loaded: Loaded, provider: str | None, batch: int | None) -> None:
        self.me, self.providers, self.batches = loaded
        self._show_role()
        today = self._app.providers.today()
        _fill(
            self.provider_list,
            [
                (
                    p.name,
                    p.approval_label,
                    p.review_date or "",
                    "retired"
                    if p.retired
                    else ("review overdue" if p.review_overdue(today) else "in use"),
                )
                for p in self.providers
            ],
        )
        chosen = provider or (self.current.name if self.current is not None else None)
        names = [p.name for p in self.providers]
        if chosen in names:
            self.provider_list.selectRow(names.index(chosen))
        elif self.providers and self.current is None and not self.name.text():
            self.provider_list.selectRow(0)
        self.send_provider.clear()
        for p in self.providers:
            if not p.retired:
                self.send_provider.addItem(f"{p.name} ({p.approval_label.lower()})", p.name)
        self._warn_review()
        _fill(
            self.batch_list,
            [
                (
                    b.label,
                    b.provider,
                    b.sent_on,
                    b.expected_return or "",
                    b.po_number,
                    len(b.items),
                    b.state,
                    "" if b.cost is None else f"{b.cost:,.2f}",
                )
                for b in self.batches
            ],
        )
        ids = [b.id for b in self.batches]
        if batch in ids:
            self.batch_list.selectRow(ids.index(batch))
        elif self.batches:
            self.batch_list.selectRow(0)
        self._batch_chosen(self.batch_list.currentRow())

    # -- who may change what ---------------------------------------------------------

    def may_edit(self) -> bool:
        """QA reviewers and admins keep the register (in a window that edits)."""
        me = self.me
        return (
            self._editing
            and me is not None
            and me.active
            and ROLE_RANK.get(me.role, -1) >= ROLE_RANK[KEEPER_ROLE]
        )

    def may_send(self) -> bool:
        """Anyone active sends out and receives, in a window that edits."""
        return self._editing and self.me is not None and self.me.active

    def _show_role(self) -> None:
        me = self.me
        if me is None:
            return
        if not self._editing:
            self.note.setText(
                "Read-only: another session edits this database, so nothing can be "
                "changed from here now."
            )
        elif not self.may_edit():
            role = ROLE_NAMES.get(me.role, me.role).lower()
            self.note.setText(
                f"Providers are read-only for you ({me.login}, a {role}): approving an "
                "external provider is QA's decision. You send instruments out and receive them."
            )
        else:
            self.note.setText(
                "The lab's external calibration providers (ISO/IEC 17025 6.6) and what was "
                "sent to them. A provider is never deleted: retire it with a reason."
            )
        self._set_may_edit()

    def _set_may_edit(self) -> None:
        retired = self.current is not None and self.current.retired
        may = self.may_edit() and not retired
        for edit in (self.name, self.review_date, self.body, self.number):
            edit.setReadOnly(not may)
        for text in (self.scope, self.contact):
            text.setReadOnly(not may)
        self.approval.setEnabled(may)
        for button in (self.save_button, self.retire_button):
            button.setEnabled(may)
        self.new_button.setEnabled(self.may_edit())
        self.retire_button.setVisible(not retired)
        self.reinstate_button.setVisible(retired)
        self.reinstate_button.setEnabled(self.may_edit() and retired)
        sending = self.may_send()
        for widget in (
            self.send_button,
            self.receive_selected,
            self.receive_all,
            self.certificate_button,
        ):
            widget.setEnabled(sending)

    # -- providers ---------------------------------------------------------------------

    def _provider_chosen(self, row: int) -> None:
        if not 0 <= row < len(self.providers):
            return
        chosen = self.providers[row]
        if self.baseline is not None and chosen.id == self.baseline.id and self.dirty():
            return  # a reload re-selected the provider being edited: keep what was typed
        if self.dirty() and not self._may_drop("open another provider"):
            self._reselect()
            return
        self._show_provider(chosen)

    def _reselect(self) -> None:
        """Put the list's selection back on the provider being edited."""
        names = [p.name for p in self.providers]
        shown = self.baseline.name if self.baseline is not None else None
        self.provider_list.blockSignals(True)
        try:
            if shown in names:
                self.provider_list.selectRow(names.index(shown))
            else:
                self.provider_list.clearSelection()
        finally:
            self.provider_list.blockSignals(False)

    def _as_input(self, view: ProviderView | None) -> ProviderInput:
        if view is None:
            return ProviderInput(name="", review_date="")
        return ProviderInput(
            name=view.name,
            contact=view.contact,
            accreditation_body=view.accreditation_body,
            accreditation_number=view.accreditation_number,
            scope=view.scope,
            approval=view.approval,
            review_date=str(view.review_date or ""),
        )

    def edited_fields(self) -> dict[str, Any]:
        """The fields typed over what the form was filled from (stripped, as saved)."""
        before = self._as_input(self.baseline)
        return {
            k: v
            for k, v in vars(self._typed()).items()
            if str(v or "").strip() != str(getattr(before, k) or "").strip()
        }

    def dirty(self) -> bool:
        return self.may_edit() and bool(self.edited_fields())

    def _may_drop(self, doing: str) -> bool:
        """Asks before what is typed is dropped; True: drop it."""
        name = self.name.text().strip() or "the new provider"
        answer = messages.ask(
            self,
            "Unsaved changes",
            f"What you typed for {name} is not saved. Drop it and {doing}?",
            messages.Button.Discard | messages.Button.Cancel,
            messages.Button.Cancel,
            icon=messages.Icon.Warning,
        )
        return answer == messages.Button.Discard

    def reject(self) -> None:
        if self.dirty() and not self._may_drop("close"):
            return
        super().reject()

    def _show_provider(self, view: ProviderView | None) -> None:
        self.current = view
        self.baseline = view
        self.name.setText(view.name if view else "")
        self.approval.setCurrentIndex(
            max(0, self.approval.findData(view.approval if view else "approved"))
        )
        self.review_date.setText(str(view.review_date or "") if view else "")
        self.body.setText(view.accreditation_body if view else "")
        self.number.setText(view.accreditation_number if view else "")
        self.scope.setPlainText(view.scope if view else "")
        self.contact.setPlainText(view.contact if view else "")
        self.form.show_errors({})
        if view is None:
            self.heading.setText("New provider")
        elif view.retired:
            self.heading.setText(
                f"{view.name} — retired: {view.retire_reason}. Reinstate it to change it."
            )
        else:
            self.heading.setText(
                f"{view.name} — saved by {view.updated_by} {view.updated_at:%Y-%m-%d %H:%M} UTC"
            )
        warning = view.review_warning(self._app.providers.today()) if view else ""
        if view is not None and not view.retired and warning:
            self.heading.setText(f"{self.heading.text()}\nWarning: {warning}.")
        self._set_may_edit()

    def _typed(self) -> ProviderInput:
        return ProviderInput(
            name=self.name.text(),
            contact=self.contact.toPlainText(),
            accreditation_body=self.body.text(),
            accreditation_number=self.number.text(),
            scope=self.scope.toPlainText(),
            approval=str(self.approval.currentData()),
            review_date=self.review_date.text(),
        )

    def new_provider(self) -> None:
        if not self.may_edit() or (self.dirty() and not self._may_drop("start a new provider")):
            return
        self.tabs.setCurrentIndex(0)
        self.provider_list.clearSelection()
        self._show_provider(None)
        self.name.setFocus()

    def save_provider(self) -> None:
        if not self.may_edit() or self.tabs.currentIndex() != 0:
            return
        typed = self._typed()
        providers = self._app.providers
        loaded, base = self.current, self.baseline
        if loaded is None or base is None:
            self._run(
                lambda: providers.add(typed),
                self._provider_saved,
                "saving the provider",
                changes=Changes(providers=True),
            )
            return
        changed = self.edited_fields()
        if not changed:
            self.show_banner("Nothing to save: the provider is as stored.")
            return
        name, version = loaded.name, loaded.version
        self._run(
            lambda: providers.edit(name, ProviderChanges(**changed), expected_version=version),
            self._provider_saved,
            "saving the provider",
            changes=Changes(providers=True),
        )

    def retire_provider(self) -> None:
        loaded = self.current
        if not self.may_edit() or loaded is None or loaded.retired:
            return
        dialog = ReasonDialog(
            "Retire provider",
            f"Why does the lab stop using {loaded.name}? It stays in the register, and its "
            "send-outs keep naming it.",
            parent=self,
        )
        providers = self._app.providers

        def done(result: int) -> None:
            if result:
                reason = dialog.reason
                self._run(
                    lambda: providers.retire(
                        loaded.name, reason=reason, expected_version=loaded.version
                    ),
                    self._provider_saved,
                    "retiring the provider",
                    changes=Changes(providers=True),
                )

        open_modal(dialog, done)

    def reinstate_provider(self) -> None:
        loaded = self.current
        if not self.may_edit() or loaded is None or not loaded.retired:
            return
        dialog = ReasonDialog(
            "Reinstate provider",
            f"Why does the lab use {loaded.name} again? (It was retired: {loaded.retire_reason}.)",
            parent=self,
        )
        providers = self._app.providers

        def done(result: int) -> None:
            if result:
                reason = dialog.reason
                self._run(
                    lambda: providers.reinstate(
                        loaded.name, reason=reason, expected_version=loaded.version
                    ),
                    self._provider_saved,
                    "reinstating the provider",
                    changes=Changes(providers=True),
                )

        open_modal(dialog, done)

    def _warn_review(self) -> None:
        """Under the send-out form: the chosen provider's review date has passed."""
        name = str(self.send_provider.currentData() or "")
        view = next((p for p in self.providers if p.name == name), None)
        warning = view.review_warning(self._app.providers.today()) if view else ""
        self.send_warning.setText(f"Warning: {warning}." if warning else "")
        self.send_warning.setVisible(bool(warning))

    def _provider_saved(self, view: ProviderView) -> None:
        self.show_banner("")
        self._show_provider(view)
        self.reload(provider=view.name)

    # -- send-outs -----------------------------------------------------------------------

    def selected_batch(self) -> SendoutView | None:
        row = self.batch_list.currentRow()
        return self.batches[row] if 0 <= row < len(self.batches) else None

    def _batch_chosen(self, row: int) -> None:
        batch = self.batches[row] if 0 <= row < len(self.batches) else None
        _fill(
            self.items,
            [
                (
                    i.asset_tag,
                    i.description,
                    i.received_on or "",
                    f"#{i.record_id}" if i.record_id else "",
                    i.compare_text,
                )
                for i in (batch.items if batch else ())
            ],
        )
        if batch is not None:
            for r, item in enumerate(batch.items):
                cell = self.items.item(r, COL_COMPARE)
                if item.disagrees and cell is not None:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)

    def send_out(self) -> None:
        if not self.may_send():
            return
        sendouts = self._app.sendouts
        provider = str(self.send_provider.currentData() or "")
        tags = _words(self.send_tags.text())
        po, expected = self.send_po.text(), self.send_expected.text()
        cost, reason = self.send_cost.text(), self.send_reason.text()
        self.send_form.show_errors({})

        def done(view: SendoutView) -> None:
            for edit in (self.send_tags, self.send_po, self.send_expected, self.send_cost):
                edit.clear()
            self.send_reason.clear()
            self.show_banner("")
            self.reload(batch=view.id)

        self._run(
            lambda: sendouts.create(
                provider, tags, po_number=po, expected_return=expected, cost=cost, reason=reason
            ),
            done,
            "sending instruments out",
            changes=Changes(providers=True),
        )

    def receive(self, *, all_out: bool) -> None:
        batch = self.selected_batch()
        if not self.may_send() or batch is None:
            return
        rows = sorted({i.row() for i in self.items.selectionModel().selectedRows()})
        tags = [] if all_out else [batch.items[r].asset_tag for r in rows]
        if not all_out and not tags:
            self.show_banner("Select the instruments that came back, or click Receive all.")
            return
        sendouts = self._app.sendouts
        batch_id, version = batch.id, batch.version

        def done(view: SendoutView) -> None:
            self.show_banner("")
            self.reload(batch=view.id)
            waiting = [i for i in view.items if i.received_on and not i.record_id]
            if waiting:  # the prompt for the first certificate
                self._ask_certificate(view, waiting[0].asset_tag)

        self._run(
            lambda: sendouts.receive(batch_id, tags, expected_version=version),
            done,
            "receiving instruments",
            changes=Changes(providers=True),
        )

    def record_certificate(self) -> None:
        batch = self.selected_batch()
        if not self.may_send() or batch is None:
            return
        row = self.items.currentRow()
        waiting = [i for i in batch.items if i.received_on and not i.record_id]
        chosen = batch.items[row] if 0 <= row < len(batch.items) else None
        if chosen is not None and chosen in waiting:
            item = chosen
        elif waiting:
            item = waiting[0]
        else:
            self.show_banner(
                "No instrument of this batch is waiting for its certificate: receive it first."
            )
            return
        self._ask_certificate(batch, item.asset_tag)

    def _ask_certificate(self, batch: SendoutView, tag: str) -> None:
        sendouts = self._app.sendouts

        def ask(prefill: Any) -> None:
            dialog = CertificateEntryDialog(
                tag=tag, batch=batch.label, prefill=prefill, parent=self
            )
            open_modal(dialog, lambda result: self._certificate_typed(dialog, batch, result))

        self._run(lambda: sendouts.prefill(batch.id, tag), ask, "preparing the certificate")

    def _certificate_typed(
        self, dialog: CertificateEntryDialog, batch: SendoutView, result: int
    ) -> None:
        entry, said, path = dialog.entry, dialog.provider_result, dialog.attachment
        if not result or entry is None:
            return
        tag = dialog.tag
        sendouts, attachments = self._app.sendouts, self._app.attachments

        def write() -> ReceiptCompare:
            compare = sendouts.record_certificate(batch.id, tag, said, entry)
            if path is not None:
                attachments.add(tag, path, record_id=compare.record_id)
            return compare

        self._run(
            write,
            lambda compare: self._compared(compare, batch.id),
            "recording the certificate",
            changes=Changes(providers=True, instruments=True, calibrations=True, cases=True),
        )

    def _compared(self, compare: ReceiptCompare, batch_id: int) -> None:
        self.last_compare = compare
        prefix = "Caught on receipt — " if compare.disagrees else ""
        self.compare.setText(prefix + compare.sentence)
        self.compare.show()
        self.show_banner("")
        self.reload(batch=batch_id)

    # -- problems ----------------------------------------------------------------------

    def _failed(self, exc: BaseException, doing: str) -> None:
        if isinstance(exc, ValidationError):
            fields = exc.fields
            form = self.send_form if doing == "sending instruments out" else self.form
            form.show_errors(fields)
            self.show_banner(
                "Not saved — " + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in fields.items())
            )
        elif isinstance(exc, ConflictError) and doing == "saving the provider":
            self._provider_conflict()
        elif isinstance(exc, ConflictError):
            self.show_banner(
                f"Not saved: {exc.label} was changed by someone else meanwhile; it is shown "
                "as stored now."
            )
            self.reload()
        else:
            self.show_banner(f"Not saved — {exc}".split("\n")[0])
            messages.explain(self, exc, doing=doing)

    def _provider_conflict(self) -> None:
        """Someone saved the provider after it was loaded here: what was typed stays in
        the form (nothing lost, nothing overwritten unasked); the stored version becomes
        the one a second Save applies it to, and the heading says whose change it is."""
        loaded = self.current
        if loaded is None:
            return
        providers = self._app.providers

        def adopt(fresh: ProviderView) -> None:
            self.current = fresh
            self.heading.setText(
                f"{fresh.name} — changed by {fresh.updated_by} "
                f"{fresh.updated_at:%Y-%m-%d %H:%M} UTC while you edited it"
            )
            self.show_banner(
                f"Not saved: {fresh.name} was changed by {fresh.updated_by} after you opened "
                "it. What you typed is kept here; Save again applies what you changed to "
                "their version (the fields you did not touch keep theirs)."
            )

        self._run(lambda: providers.get(loaded.name), adopt, "reloading the provider")

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))
