"""File → Open a database server…: where the server is, or the service IT set up.

No password field, on purpose: the password comes from ``~/.pgpass`` or the service
file (pg_service.conf), which libpq reads itself. A password typed here would have to be
kept somewhere to reopen the database next time, and CalTrack's settings are no place
for it; the dialog says where it goes instead.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from app.errors import ValidationError
from app.services.connecting import ServerChoice, server_target
from app.ui.dialogs.form import dialog_layout


class ServerDialog(QDialog):
    """Asks for a service name, or host, port, database and user; ``target`` is what to open."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open a database server")
        self.target = ""
        intro = QLabel(
            "Give the service name IT set up for CalTrack, or where the PostgreSQL server "
            "is. The password is read from ~/.pgpass or the service file "
            "(pg_service.conf); it is never typed or kept in CalTrack."
        )
        intro.setWordWrap(True)
        self.service = self._field("Service name", "e.g. lab (from pg_service.conf)")
        self.host = self._field("Host", "server name, or a socket folder such as /run/postgresql")
        self.port = self._field("Port", "5432")
        self.database = self._field("Database", "e.g. caltrack")
        self.user = self._field("User", "your login on the server (default: your user name)")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)
        form = QFormLayout()
        form.addRow("&Service name:", self.service)
        form.addRow(QLabel("… or:"))
        form.addRow("&Host:", self.host)
        form.addRow("&Port:", self.port)
        form.addRow("&Database:", self.database)
        form.addRow("&User:", self.user)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._open)
        buttons.rejected.connect(self.reject)
        layout = dialog_layout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _field(self, name: str, hint: str) -> QLineEdit:
        field = QLineEdit()
        field.setAccessibleName(name)
        field.setPlaceholderText(hint)
        return field

    def _open(self) -> None:
        choice = ServerChoice(
            service=self.service.text(),
            host=self.host.text(),
            port=self.port.text(),
            database=self.database.text(),
            user=self.user.text(),
        )
        try:
            self.target = server_target(choice)
        except ValidationError as exc:
            # What was typed stays; the problem is said above the buttons.
            self.problem.setText("\n".join(f"{name}: {msg}" for name, msg in exc.fields.items()))
            self.problem.setVisible(True)
            return
        self.accept()
