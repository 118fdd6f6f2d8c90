"""Render the README's screenshots into docs/screenshots/ (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py

Builds a demo database in a temporary folder, opens the real window and dialogs with
it, and saves what they show. Nothing here touches your own settings or databases.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.bootstrap import CalTrack, open_caltrack
from app.errors import ConflictError, ConflictSide
from app.locking.holder import HolderInfo
from app.services.dto import CalibrationInput, PointInput
from app.services.editing import EditingOptions
from app.settings.user_settings import UserSettings
from app.ui.app import Launcher
from app.ui.dialogs.calibration_dialog import CalibrationDialog
from app.ui.dialogs.conflict_dialog import ConflictDialog
from app.ui.dialogs.lock_dialog import LockInUseDialog
from app.ui.dialogs.sign_dialog import SignDialog
from app.ui.look import apply_theme

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "screenshot phrase"


def save(widget: QWidget, name: str) -> None:
    widget.grab().save(str(OUT / name))
    print(f"wrote {OUT / name}")


def _standards_in_use(app: CalTrack, tags: list[str]) -> list[str]:
    """In-service standards that served in calibrations since their own latest one."""
    found = []
    for tag in tags:
        detail = app.instruments.get(tag)
        if detail.lifecycle != "in_service" or detail.last_calibrated is None:
            continue
        since = [
            t
            for t in app.calibrations.traceability(tag).used_as_standard
            if t.performed_on >= detail.last_calibrated and not t.voided
        ]
        if len(since) >= 2:
            found.append(tag)
    return found


def _find_out_of_tolerance(app: CalTrack, tag: str) -> int:
    """Record today's calibration of a standard that found it out at its first point."""
    points = app.calibrations.history(tag)[0].points
    app.calibrations.add(
        tag,
        CalibrationInput(
            performed_on=app.clock.today(),
            result="adjusted",
            certificate_number="C2026-0001204",
            points=tuple(
                PointInput(
                    p.nominal,
                    p.nominal + (3 * p.tolerance if i == 0 else 0.2 * p.tolerance),
                    p.nominal,
                    p.tolerance,
                    p.unit,
                )
                for i, p in enumerate(points)
            ),
        ),
    )
    (case,) = app.oot.list(status="open", tag=tag)
    app.oot.assess(
        case.id,
        impact_assessment=(
            "The reference was found out of tolerance at its first point. The instruments "
            "it calibrated since its last good calibration have tolerances wider than the "
            "error found; with it added, their as-left readings stay within tolerance. "
            "No results are recalled; the owners were informed."
        ),
        disposition="results_reassessed",
    )
    return case.id


def prepare_qa(app: CalTrack) -> str:
    """A signed and a voided record on one instrument; out-of-tolerance cases (one open,
    one closed) on standards that calibrated others. Returns the instrument's tag."""
    app.accounts.set_display_name("Alex Novak")
    app.accounts.set_signing_password(PASSWORD)
    tags = [r.asset_tag for r in app.instruments.list(limit=120, sort="asset_tag").rows]
    standards = _standards_in_use(app, tags)
    shown = next(
        t
        for t in tags
        if t not in standards
        and len(history := app.calibrations.history(t)) >= 3
        and not any(c.voided for c in history)
        and app.instruments.get(t).lifecycle == "in_service"
    )
    latest, older = app.calibrations.history(shown)[:2]
    app.signatures.sign_record(
        latest.id, meaning="reviewed", password=PASSWORD, comment="readings and certificate checked"
    )
    app.signatures.sign_record(latest.id, meaning="approved", password=PASSWORD)
    app.calibrations.void(older.id, "certificate belongs to another instrument")
    closed = _find_out_of_tolerance(app, standards[1])
    app.oot.close(closed, password=PASSWORD, comment="no recall", return_to_service=True)
    _find_out_of_tolerance(app, standards[0])
    return shown


def _lab_register(work: Path, registered_tag: str) -> Path:
    """A register as a lab sends it (semicolons, day-first dates) with three bad rows."""
    rows = [
        "Asset no.;Description;Mfr;Model;S/N;Location;Interval (months);Last calibrated;Notes",
        "LAB2-001;Digital thermometer;Fluke;1524;SN-4411;Lab 2.01;12;14.03.2026;",
        "LAB2-002;Analytical balance;Mettler Toledo;XPR205;B-2208;Lab 2.02;6;05.10.2026;",
        "LAB2-003;Pipette 100 µL;Eppendorf;Research plus;P-3391;Lab 2.03;3;31.02.2026;",
        "LAB2-004;pH meter;Hanna;HI5221;PH-0042;Lab 2.04;twelve;01.09.2026;buffer 4/7/10",
        f"{registered_tag};Thermocouple probe;Omega;KMQXL;TC-88;Lab 2.05;12;01.06.2026;",
        "LAB2-006;Stopwatch;Hanhart;Stratos;SW-12;Lab 2.06;24;20.11.2026;",
        "LAB2-007;Digital caliper;Mitutoyo;500-196;C-7781;Workshop;12;02.05.2026;",
        "LAB2-008;Torque wrench;Gedore;Dremometer;TW-5530;Workshop;12;18.08.2026;",
    ]
    path = work / "register-lab2.csv"
    path.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8-sig")
    return path


def _tamper(db: Path, tag: str) -> None:
    """Change one audit event behind CalTrack's back, as someone with sqlite3 could."""
    with sqlite3.connect(db) as con:
        event_id, changes = con.execute(
            "SELECT id, changes FROM audit_event WHERE entity_type = 'instrument' "
            "AND entity_label = ? AND action = 'create'",
            (tag,),
        ).fetchone()
        forged = json.loads(changes)
        forged["location"] = [None, "Reference lab (forged)"]
        con.execute(
            "UPDATE audit_event SET changes = ? WHERE id = ?",
            (json.dumps(forged, sort_keys=True, separators=(",", ":")), event_id),
        )


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="caltrack-shots-"))
    db = work / "lab.db"
    with open_caltrack(str(db), create=True, state_dir=work / "state") as app:
        app.demo.generate(400, seed=11)
        shown_tag = prepare_qa(app)
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
        dialog.resize(840, 790)
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

    def select_shown() -> None:
        w = launcher.window
        assert w is not None
        w.qa.select_instrument(shown_tag)

    def history_shot() -> None:
        w = launcher.window
        assert w is not None
        w.resize(1400, 820)
        w.splitter.setSizes([520, 880])
        w.detail.tabs.setCurrentIndex(w.detail.cal_tab)
        w.detail.calibrations.selectRow(0)
        QTimer.singleShot(300, lambda: save(w, "qa-history.png"))

    def sign_dialog() -> None:
        w = launcher.window
        assert w is not None and w.history is not None and w.qa.me is not None
        record = next(c for c in w.history.calibrations if not c.voided and not c.signed)
        dialog = SignDialog(
            record=record,
            signer=w.qa.me,
            submit=lambda *_a: None,
            description=w.history.instrument.description,
            parent=w,
        )
        dialog.comment.setPlainText("Readings against the certificate: all within tolerance.")
        dialog.signing.password.setText("secret phrase")
        dialog.show()
        QTimer.singleShot(300, lambda: (save(dialog, "sign-dialog.png"), dialog.close()))

    def oot_window() -> None:
        w = launcher.window
        assert w is not None
        w.qa.show_oot_window()

    def oot_shot() -> None:
        w = launcher.window
        assert w is not None and w.qa.oot_window is not None
        w.qa.oot_window.set_filter(None)  # the open case stays selected
        save(w.qa.oot_window, "oot-case.png")
        w.qa.oot_window.hide()

    # -- reports and labels -----------------------------------------------------------

    def report_dialog() -> None:
        w = launcher.window
        assert w is not None
        dialog = w.report_actions.open_report("audit")
        assert dialog.entity is not None
        dialog.entity.setText(shown_tag)
        dialog.format.setCurrentIndex(dialog.format.findData("xlsx"))
        QTimer.singleShot(400, lambda: (save(dialog, "report-dialog.png"), dialog.reject()))

    def labels_dialog() -> None:
        w = launcher.window
        assert w is not None
        dialog = w.report_actions.open_labels()
        # The preview is read off the GUI thread: shot once it is painted.
        QTimer.singleShot(800, lambda: (save(dialog, "labels-dialog.png"), dialog.reject()))

    # -- import, audit trail ----------------------------------------------------------

    def import_open() -> None:
        w = launcher.window
        assert w is not None
        wizard = w.transfer.import_file("instruments", str(_lab_register(work, shown_tag)))
        wizard.next()  # reads the file; the reading page follows

    def import_check() -> None:
        w = launcher.window
        assert w is not None and w.transfer.wizard is not None
        wizard = w.transfer.wizard
        wizard.next()  # the columns
        save(wizard, "import-mapping.png")
        wizard.next()  # the check runs

    def import_shot() -> None:
        w = launcher.window
        assert w is not None and w.transfer.wizard is not None
        save(w.transfer.wizard, "import-preview.png")
        w.transfer.wizard.reject()

    def audit_open() -> None:
        w = launcher.window
        assert w is not None
        w.transfer.show_audit_window(shown_tag)

    def audit_shot() -> None:
        w = launcher.window
        assert w is not None and w.transfer.audit_window is not None
        audit = w.transfer.audit_window
        voided = next(e.id for e in audit.model.events() if e.action == "void")
        audit.show_event(voided)
        QTimer.singleShot(300, lambda: (save(audit, "audit-trail.png"), audit.hide()))

    def audit_broken() -> None:
        w = launcher.window
        assert w is not None and w.transfer.audit_window is not None
        _tamper(db, shown_tag)
        w.transfer.show_audit_window(shown_tag)  # opened again: verified again

    def audit_broken_shot() -> None:
        w = launcher.window
        assert w is not None and w.transfer.audit_window is not None
        audit = w.transfer.audit_window
        audit.jump_button.click()
        QTimer.singleShot(600, lambda: (save(audit, "audit-broken-dark.png"), audit.hide()))

    def dark() -> None:
        apply_theme(qapp, "dark")
        w = window()
        w.set_filter("overdue")

    def dark_shot() -> None:
        save(window(), "dark-theme.png")
        window().close()

    steps = [
        light_main,
        calibration,
        select_shown,
        history_shot,
        sign_dialog,
        oot_window,
        oot_shot,
        report_dialog,
        labels_dialog,
        import_open,
        import_check,
        import_shot,
        audit_open,
        audit_shot,
        lock_dialog,
        conflict_dialog,
        dark,
        audit_broken,
        audit_broken_shot,
        dark_shot,
    ]

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
