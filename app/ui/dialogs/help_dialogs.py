"""Help: a short user guide in plain words, and the keyboard shortcuts the window has.

The shortcut list is read from the window's own actions and shortcuts when it opens, so
it cannot drift from what the keys really do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

GUIDE_HTML = """
<h2>CalTrack in five minutes</h2>
<p>CalTrack keeps your lab's instruments, every calibration done on them, their
certificates, and a history that cannot be changed unnoticed.</p>

<h3>The register</h3>
<p>The list on the left holds every instrument. The chips above it show how many are
<b>due soon</b>, <b>overdue</b>, <b>not yet calibrated</b> or out of use; click one to see
only those. Type in the search box (<b>Ctrl+F</b>) to find an instrument by tag,
description, serial number, maker or model: the number found shows next to the box.
The pane on the right shows the selected instrument: its details, calibrations,
attachments and audit trail.</p>

<h3>Add an instrument</h3>
<p>Press <b>Ctrl+N</b> (Instrument → New instrument…), fill in at least the asset tag and
the description, and press <b>Save</b>. A new instrument shows as <i>Not yet
calibrated</i> until its first calibration is recorded. Double-click an instrument (or
press <b>Ctrl+E</b>) to edit it.</p>

<h3>Record a calibration</h3>
<p>Select the instrument and press <b>Ctrl+K</b>. Enter the date, who did it and the
certificate number, then the measurement points (<b>Alt+G</b> goes to them): nominal
value, reading as found, reading as left, tolerance as written (0.05 is ±0.05; also
-0.02/+0.05, ±0.1 %rdg, ±0.5 %FS, ±(0.05 % + 2 digits)), unit, and the expanded
uncertainty U with its k. Each point shows its limits, acceptance limits, TUR and verdict
(pass, conditional pass, conditional fail, FAIL) under the decision rule as you type; a
TUR below the lab's minimum asks for a justification. An instrument with a type starts
from its type's test points. A point found out of tolerance opens an out-of-tolerance
case when you save, so QA can assess what it affected. The next due date follows from
the instrument's interval.</p>

<h3>Instrument types</h3>
<p>Database → Instrument types… (<b>Ctrl+T</b>) holds the lab's test plans: a type's
default interval, decision rule, procedure, test points (nominal, tolerance as written,
unit; the limits each gives show as you type) and the custom fields its instruments
carry. <b>Ctrl+N</b> starts a new type, <b>Ctrl+S</b> saves; in the points and fields
tables <b>Insert</b> adds a row and <b>Delete</b> removes one. QA reviewers and admins
change types; everyone else reads them. Changing a type never changes a calibration
already recorded.</p>
already recorded.</p>

<h3>Providers and send-outs</h3>
<p>Database → Providers… (<b>Ctrl+Shift+P</b>) holds the lab's external calibration
providers (accreditation, scope, approval, review date), which QA reviewers and admins
keep, and the instruments sent to them. On the Send-outs tab name the provider and the
asset tags and click Send out; a provider that is not approved needs a reason. When
instruments come back, Receive them and enter each certificate: the result it states is
compared with the lab's own limits, and a "pass" the lab's limits fail is said plainly
(the calibration is recorded as failed and opens an out-of-tolerance case).</p>

<h3>Who has an instrument</h3>
<p>Press <b>Ctrl+B</b> and scan the instrument's label (or type its asset tag and press
Enter): CalTrack selects it and offers <b>Check out</b> (to whom, where, until when) or,
when someone has it, <b>Check in</b>. An instrument out of service, retired, lost or
overdue is refused with the reason; QA may let it out with a reason of their own. The
register's <i>With</i> column shows who has each instrument, the Custody page of the
pane's Log tab its check-outs, and Reports → Custody what is out and what is late back.</p>

<h3>Intermediate checks</h3>
<p>Select the instrument and press <b>Ctrl+Shift+K</b> (Instrument, Record check): the
day, the check standard (an asset tag) or artefact, and the readings as
nominal:reading:limit. A reading outside ± its limit fails the check and takes the
instrument out of service. The Log tab's Checks page shows its schedules (calibration first, then
check and maintenance, set with <code>caltrack schedules set</code>) and its checks; the
"Check due" and "Maintenance due" chips filter the register.</p>

<h3>Certificates and other files</h3>
<p>Press <b>Ctrl+Shift+A</b> or drop a file on the window to attach it to the selected
instrument. Files are never deleted: a wrong one is voided with a reason.</p>

<h3>Maintenance, damage and repairs</h3>
<p>Press <b>Ctrl+M</b> (Instrument → Log maintenance…) to log what was done to
or found on the selected instrument: the kind, date, what was done, cost, downtime in
hours and notes. Tick “Calibrate before use” after a repair or damage: the
instrument is then due at once and out of service until a calibration after it leaves
it in tolerance. The Log tab's Maintenance page lists the log; a wrong event is voided with a
reason.</p>

<h3>Mistakes</h3>
<p>Records are never deleted. Select a calibration in the Calibrations tab and void it
(<b>Ctrl+Shift+V</b>) with a reason; the due date falls back to the latest valid
calibration. QA can correct and supersede a record with a signature.</p>

<h3>QA review</h3>
<p>The QA menu holds signing, the out-of-tolerance cases and the users and their roles.
Signing asks for your signing password. The audit trail (View menu) lists every change
with who, when and what changed.</p>

<h3>Reports and labels</h3>
<p>The Reports menu prints the due list, the overdue list, an instrument's history and
calibration labels, as PDF, spreadsheet or CSV.</p>

<h3>Working together</h3>
<p>Several people can open the same database on a shared folder. One of them edits at a
time; the others see a yellow banner saying who edits, and can <b>Request edit</b> or ask
to be notified when the database is free. When someone else changed data, the status bar
offers <b>Refresh</b> (F5).</p>

<h3>Settings</h3>
<p>File → Preferences… (<b>Ctrl+,</b>) sets the theme (light, dark or as the system),
reminders and quiet hours for you, and, for everyone, how many days ahead counts as due
soon. QA reviewers also set there the lab's name and logo printed on certificates and its
metrology policy: the default decision rule, the minimum TUR and whether an indeterminate
as-found result opens an out-of-tolerance case. A change never re-judges existing
records.</p>
"""


def _plain(text: str) -> str:
    """A menu text as a person reads it: no mnemonic ampersand, no trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def window_shortcuts(window: QWidget) -> list[tuple[str, str]]:
    """(keys, what they do) for every action and shortcut of ``window``, sorted by name.

    Actions in menus and toolbars are children of the window (or of its helpers, which
    are its children too); a ``QShortcut`` without an action names itself through its
    ``whatsThis``.
    """
    seen: dict[tuple[str, str], None] = {}
    for action in window.findChildren(QAction):
        name = _plain(action.text())
        for sequence in action.shortcuts():
            keys = sequence.toString(QKeySequence.SequenceFormat.NativeText)
            if keys and name:
                seen[(keys, name)] = None
    for shortcut in window.findChildren(QShortcut):
        keys = shortcut.key().toString(QKeySequence.SequenceFormat.NativeText)
        name = shortcut.whatsThis()
        if keys and name and shortcut.isEnabled():
            seen[(keys, name)] = None
    return sorted(seen, key=lambda row: (row[1].casefold(), row[0]))


class _HelpWindow(QDialog):
    """A help window that stays open beside the main window (not modal)."""

    @classmethod
    def show_for(cls, window: QWidget) -> QDialog:
        """Shows the window's one help window of this kind (raising it if already open)."""
        name = f"help-{cls.__name__}"
        existing = window.findChild(cls, name)
        dialog = existing if existing is not None else cls(window)
        dialog.setObjectName(name)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _finish(self, content: QWidget) -> None:
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(content, 1)
        layout.addWidget(buttons)


class UserGuide(_HelpWindow):
    """The workflows in plain words."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("CalTrack user guide")
        self.text = QTextBrowser()
        self.text.setAccessibleName("User guide")
        self.text.setOpenExternalLinks(False)
        self.text.setHtml(GUIDE_HTML)
        self._finish(self.text)
        self.resize(640, 620)


class ShortcutsDialog(_HelpWindow):
    """Every keyboard shortcut of the window, read from its actions."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = window_shortcuts(parent)
        self.table = QTableWidget(len(rows), 2)
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        for row, (keys, name) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            item = QTableWidgetItem(keys)
            item.setTextAlignment(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)
            self.table.setItem(row, 1, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._finish(self.table)
        height = self.table.verticalHeader().length() + header.height() + 90
        self.resize(480, min(max(height, 300), 700))

    def shown(self) -> list[tuple[str, str]]:
        """(keys, action) as listed, for reading what the person sees."""
        rows = []
        for r in range(self.table.rowCount()):
            name, keys = self.table.item(r, 0), self.table.item(r, 1)
            if name is not None and keys is not None:
                rows.append((keys.text(), name.text()))
        return rows
