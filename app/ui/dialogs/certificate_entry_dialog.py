"""The certificate of an instrument back from a provider, as the receiving person types it.

Prefilled from the send-out (``SendoutService.prefill``): external, the provider's name,
the day it came back as the calibration date. The person gives what the certificate
says: its number, its date, the result it states, its readings (one a line, as
``calibrations add --point`` takes them) and the file to attach. The dialog only
collects; ``ProvidersDialog`` sends it to the service, which compares the stated result
with the lab's own limits.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from app.errors import ValidationError
from app.limits import SHORT_LEN
from app.services.calibrations import POINT_FORMAT, parse_point
from app.services.dto import CalibrationInput, PointInput
from app.ui.dialogs.form import ValidatingForm, dialog_layout, notice_box
from app.vocabulary import RESULTS


class CertificateEntryDialog(QDialog):
    """Number, date, stated result, readings and file of one provider certificate."""

    def __init__(
        self, *, tag: str, batch: str, prefill: CalibrationInput, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Certificate of {tag}")
        self._prefill = prefill
        self.tag = tag
        intro = QLabel(
            f"{tag} is back from {prefill.provider_name} ({batch}). Enter its certificate: "
            "the result it states is compared with the lab's own limits on saving."
        )
        intro.setWordWrap(True)
        self.banner = notice_box("Problems")
        self.form = ValidatingForm()
        self.number = QLineEdit()
        self.number.setMaxLength(SHORT_LEN)
        self.form.add("certificate_number", "Certificate &number:", self.number)
        self.performed_on = QLineEdit(str(prefill.performed_on))
        self.performed_on.setPlaceholderText("YYYY-MM-DD")
        self.form.add("performed_on", "Calibration &date:", self.performed_on)
        self.stated = QComboBox()
        for result in RESULTS:
            self.stated.addItem(result, result)
        self.form.add("provider_result", "Result it &states:", self.stated)
        self.readings = QPlainTextEdit()
        self.readings.setTabChangesFocus(True)
        self.readings.setPlaceholderText(
            f"one reading a line: {POINT_FORMAT}, e.g. 20:20.1:20.1:0.5:°C"
        )
        self.readings.setFixedHeight(90)
        self.form.add("points", "&Readings:", self.readings)
        self.file = QLineEdit()
        self.file.setPlaceholderText("the certificate's PDF or scan (optional)")
        browse = QPushButton("&Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse)
        file_row = QWidget()
        row = QHBoxLayout(file_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.file, 1)
        row.addWidget(browse)
        self.form.add("file", "Certificate &file:", file_row)
        self.file.setAccessibleName("Certificate file")
        self.provider = QLabel(f"external — {prefill.provider_name}")
        self.form.add("provider", "Provider:", self.provider)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = dialog_layout(self)
        layout.addWidget(intro)
        layout.addWidget(self.banner)
        layout.addWidget(self.form)
        layout.addWidget(buttons)
        self.entry: CalibrationInput | None = None
        self.provider_result = "pass"
        self.attachment: Path | None = None
        self.number.setFocus()

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Certificate file")
        if chosen:
            self.file.setText(chosen)

    def _accept(self) -> None:
        """Check what can be checked here (readings, the file); the service checks the rest."""
        errors: dict[str, str] = {}
        points: list[PointInput] = []
        for n, line in enumerate(self.readings.toPlainText().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                points.append(parse_point(line.strip()))
            except ValidationError as exc:
                errors["points"] = f"line {n}: " + "; ".join(exc.fields.values())
                break
        path = Path(self.file.text().strip()) if self.file.text().strip() else None
        if path is not None and not path.is_file():
            errors["file"] = f"{path}: no such file"
        if errors:
            self.form.show_errors(errors)
            self.banner.setText("Not saved yet: " + "; ".join(errors.values()))
            self.banner.show()
            return
        self.entry = replace(
            self._prefill,
            performed_on=self.performed_on.text().strip(),
            certificate_number=self.number.text().strip(),
            points=tuple(points),
        )
        self.provider_result = str(self.stated.currentData())
        self.attachment = path
        self.accept()
