"""Render the README's screenshots into docs/screenshots/ (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py

Builds a demo database in a temporary folder, opens the real window and dialogs with
it, and saves what they show. Nothing here touches your own settings or databases.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.bootstrap import open_caltrack
from app.errors import ConflictError, ConflictSide
from app.locking.holder import HolderInfo
from app.services.editing import EditingOptions
from app.settings.user_settings import UserSettings
from app.ui.app import Launcher
from app.ui.dialogs.calibration_dialog import CalibrationDialog
from app.ui.dialogs.conflict_dialog import ConflictDialog
from app.ui.dialogs.lock_dialog import LockInUseDialog
from app.ui.look import apply_theme

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def save(widget: QWidget, name: str) -> None:
    widget.grab().save(str(OUT / name))
    print(f"wrote {OUT / name}")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="caltrack-shots-"))
    db = work / "lab.db"
    with open_caltrack(str(db), create=True, state_dir=work / "state") as app:
        app.demo.generate(400, seed=11)
    qapp = QApplication(sys.argv[:1])
    steps: list[Callable[[], None]] = []
    launcher = Launcher(
        qapp,
        settings=UserSettings(reminders=False),
        settings_path=work / "settings.json",
        state_dir=work / "state",
        editing=EditingOptions(),
    )

    def window() -> QWidget:
        assert launcher.window is not None
        return launcher.window

    def light_main() -> None:
        w = launcher.window
        assert w is not None
        w.resize(1400, 820)
        w.search.setText("")
        save(w, "main-window.png")

    def calibration() -> None:
        w = launcher.window
        assert w is not None and w.history is not None
        dialog = CalibrationDialog(
            instrument=w.history.instrument,
            today=datetime.now(UTC).date(),
            user="A. Novak",
            standard_tags=["TH-000001"],
            submit=lambda *_a: None,
            parent=w,
        )
        dialog.add_point(("100", "100.3", "100.1", "0.5", "°C"))
        dialog.add_point(("200", "200.9", "200.2", "0.5", "°C"))
        table = dialog.points
        for col, text in enumerate(("0", "0.02", "0.02", "0.5", "°C")):
            item = table.item(0, col)
            if item is not None:
                item.setText(text)
        dialog.certificate.setText("C2026-0001182")
        dialog.temperature.setText("20.4")
        dialog.humidity.setText("44")
        dialog.standards.addItem("TH-000001")
        dialog.show()
        dialog.resize(820, 720)
        QTimer.singleShot(300, lambda: (save(dialog, "calibration-entry.png"), dialog.close()))

    def lock_dialog() -> None:
        holder = HolderInfo(
            "alice",
            "LAB-PC-3",
            4242,
            "x",
            "0.1.0",
            datetime.now(UTC).replace(hour=9, minute=12).isoformat(),
        )
        dialog = LockInUseDialog(holder, parent=window())
        dialog.show()
        QTimer.singleShot(300, lambda: (save(dialog, "lock-in-use.png"), dialog.close()))

    def conflict_dialog() -> None:
        conflict = ConflictError(
            "instrument",
            "TH-000042",
            yours=ConflictSide(3, {"location": "Lab 2.07", "notes": "moved for the audit"}),
            theirs=ConflictSide(
                4,
                {"location": "Metrology room", "notes": ""},
                "bob",
                "2026-11-23T10:42:00.000000Z",
            ),
        )
        dialog = ConflictDialog(
            conflict, {"location": "Lab 2.07", "notes": "moved for the audit"}, parent=window()
        )
        dialog.show()
        dialog.resize(640, 260)
        QTimer.singleShot(300, lambda: (save(dialog, "conflict.png"), dialog.close()))

    def dark() -> None:
        apply_theme(qapp, "dark")
        w = window()
        w.set_filter("overdue")

    def dark_shot() -> None:
        save(window(), "dark-theme.png")
        window().close()

    steps = [light_main, calibration, lock_dialog, conflict_dialog, dark, dark_shot]

    def run_steps() -> None:
        if not steps:
            qapp.quit()
            return
        steps.pop(0)()
        QTimer.singleShot(1200, run_steps)

    apply_theme(qapp, "light")
    launcher.open(str(db))
    QTimer.singleShot(3500, run_steps)
    qapp.exec()
    launcher.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
