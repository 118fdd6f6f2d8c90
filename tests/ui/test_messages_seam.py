"""Every question to the user goes through ``app.ui.messages``: the one seam tests answer.

A ``QMessageBox`` built elsewhere is a dialog no test can answer and no review finds in one
place, so the source outside ``messages.py`` may not name it at all (it uses the aliases).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.ui import messages

ROOT = Path(__file__).resolve().parents[2]


def test_no_message_box_is_built_outside_the_messages_module() -> None:
    seam = ROOT / "app" / "ui" / "messages.py"
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "app").rglob("*.py"))
        if path != seam
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "QMessageBox" in line
    ]
    assert offenders == []


def test_a_question_with_its_own_buttons_answers_with_the_index_clicked(
    qapp: QApplication,
) -> None:
    parent = QWidget()
    answers: list[int] = []
    box = messages.choose(
        parent,
        "Title",
        "Text",
        [("Do it", messages.Role.AcceptRole), ("Later", messages.Role.RejectRole)],
        answers.append,
        default=0,
        icon=messages.Icon.Warning,
        detail="More",
        object_name="someQuestion",
    )
    try:
        assert parent.findChild(QMessageBox, "someQuestion") is box
        assert box.isVisible() and not box.isModal()
        assert (box.windowTitle(), box.text(), box.informativeText()) == ("Title", "Text", "More")
        labels = [b.text() for b in box.buttons()]
        assert sorted(labels) == ["Do it", "Later"]
        assert box.defaultButton() is not None and box.defaultButton().text() == "Do it"
        later = next(b for b in box.buttons() if b.text() == "Later")
        later.click()
        assert answers == [1]
    finally:
        box.close()
        parent.deleteLater()


@pytest.mark.parametrize(("label", "index"), [("First", 0), ("Second", 1)])
def test_a_start_up_question_returns_the_button_clicked(
    qapp: QApplication, label: str, index: int
) -> None:
    def click() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        next(b for b in box.buttons() if b.text() == label).click()

    QTimer.singleShot(0, click)
    chosen = messages.choose_now(
        None,
        "Title",
        "Text",
        [("First", messages.Role.AcceptRole), ("Second", messages.Role.ActionRole)],
        default=0,
        escape=0,
        tooltips={1: "a tip"},
        plain_text=True,
    )
    assert chosen == index
