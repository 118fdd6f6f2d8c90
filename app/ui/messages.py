"""Every message box goes through here: one seam for tests, one voice for users.

Messages go through ``presenter``, questions with standard buttons through ``asker``,
questions with buttons of their own (labels that say what happens) through
:func:`choose` (or :func:`choose_now` at start-up). No other module builds a
``QMessageBox``: they name its buttons, roles and icons through the aliases here
(``Button``, ``Role``, ``Icon``, ``Box``).

Domain errors map to one clear dialog each, saying what happened and what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QPushButton, QWidget

from app.errors import (
    CalTrackError,
    ConflictError,
    DatabaseBusyError,
    LeaseLostError,
    LockHeldError,
    NotAllowedError,
    NotFoundError,
    ReadOnlyError,
    ServerConnectError,
    ServerLostError,
    StorageError,
    ValidationError,
)
from app.ui.modal import run_modal

log = logging.getLogger(__name__)

# Tests replace this to answer dialogs without showing them.
Presenter = Callable[[QWidget | None, QMessageBox.Icon, str, str, str], None]


def _show(
    parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str, detail: str
) -> None:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    if detail:
        box.setInformativeText(detail)
    box.setTextFormat(box.textFormat())
    run_modal(box)


presenter: Presenter = _show

Button = QMessageBox.StandardButton
Icon = QMessageBox.Icon
Role = QMessageBox.ButtonRole
# A box shown by :func:`choose`, for callers that keep it (to close it, or for tests).
Box = QMessageBox
# Tests replace this to answer questions without showing them: it gets the icon, the
# title, the text, the buttons offered and the default, and returns the button chosen.
Asker = Callable[[QWidget | None, QMessageBox.Icon, str, str, Button, Button], Button]


def _ask(
    parent: QWidget | None,
    icon: QMessageBox.Icon,
    title: str,
    text: str,
    buttons: Button,
    default: Button,
) -> Button:
    if icon == QMessageBox.Icon.Warning:
        return QMessageBox.warning(parent, title, text, buttons, default)
    return QMessageBox.question(parent, title, text, buttons, default)


asker: Asker = _ask


def ask(
    parent: QWidget | None,
    title: str,
    text: str,
    buttons: Button,
    default: Button,
    *,
    icon: QMessageBox.Icon = QMessageBox.Icon.Question,
) -> Button:
    """Ask the user a question with standard buttons; returns the button chosen."""
    return asker(parent, icon, title, text, buttons, default)


# A question's buttons: (label, role) pairs, in the order shown.
Choices = Sequence[tuple[str, Role]]


def _question_box(
    parent: QWidget | None,
    title: str,
    text: str,
    buttons: Choices,
    *,
    default: int | None,
    escape: int | None,
    icon: Icon,
    detail: str,
    object_name: str,
    tooltips: Mapping[int, str] | None,
    plain_text: bool,
) -> tuple[QMessageBox, list[QPushButton]]:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
    if plain_text:
        box.setTextFormat(Qt.TextFormat.PlainText)
    if detail:
        box.setInformativeText(detail)
    if object_name:
        box.setObjectName(object_name)
    added: list[QPushButton] = []
    for i, (label, role) in enumerate(buttons):
        button = box.addButton(label, role)
        if tooltips and i in tooltips:
            button.setToolTip(tooltips[i])
        added.append(button)
    if default is not None:
        box.setDefaultButton(added[default])
    if escape is not None:
        box.setEscapeButton(added[escape])
    return box, added


def _index(added: list[QPushButton], button: QAbstractButton | None) -> int | None:
    for i, candidate in enumerate(added):
        if candidate is button:
            return i
    return None


def choose(
    parent: QWidget | None,
    title: str,
    text: str,
    buttons: Choices,
    on_choice: Callable[[int], None],
    *,
    default: int | None = None,
    icon: Icon = Icon.Question,
    detail: str = "",
    object_name: str = "",
) -> Box:
    """A question whose buttons say what they do, shown without blocking the window.

    ``on_choice`` gets the index in ``buttons`` of the one clicked. The box stays under
    ``parent`` (found by ``object_name``); it is returned so the caller can close it.
    """
    box, added = _question_box(
        parent,
        title,
        text,
        buttons,
        default=default,
        escape=None,
        icon=icon,
        detail=detail,
        object_name=object_name,
        tooltips=None,
        plain_text=False,
    )

    def clicked(button: QAbstractButton) -> None:
        index = _index(added, button)
        if index is not None:
            on_choice(index)

    box.buttonClicked.connect(clicked)
    box.setModal(False)
    box.show()
    return box


def choose_now(
    parent: QWidget | None,
    title: str,
    text: str,
    buttons: Choices,
    *,
    default: int | None = None,
    escape: int | None = None,
    icon: Icon = Icon.Question,
    detail: str = "",
    tooltips: Mapping[int, str] | None = None,
    plain_text: bool = False,
) -> int | None:
    """:func:`choose`, blocking until the answer: the index of the button clicked, or
    ``None`` when the box was closed without one. Only for the start-up questions asked
    before the main window exists (the caller needs the answer to go on)."""
    box, added = _question_box(
        parent,
        title,
        text,
        buttons,
        default=default,
        escape=escape,
        icon=icon,
        detail=detail,
        object_name="",
        tooltips=tooltips,
        plain_text=plain_text,
    )
    run_modal(box)
    return _index(added, box.clickedButton())


def info(parent: QWidget | None, title: str, text: str, detail: str = "") -> None:
    presenter(parent, QMessageBox.Icon.Information, title, text, detail)


def warn(parent: QWidget | None, title: str, text: str, detail: str = "") -> None:
    presenter(parent, QMessageBox.Icon.Warning, title, text, detail)


def error(parent: QWidget | None, title: str, text: str, detail: str = "") -> None:
    presenter(parent, QMessageBox.Icon.Critical, title, text, detail)


def explain(parent: QWidget | None, exc: BaseException, *, doing: str) -> None:
    """The one dialog for an error met while ``doing`` something (e.g. "saving TH-001")."""
    if isinstance(exc, DatabaseBusyError):
        warn(
            parent,
            "Database busy",
            f"The database stayed busy while {doing}; nothing was saved.",
            "Another program or user is holding it. Wait a moment and try again. If this "
            "keeps happening, close other programs that use the file (backup tools, "
            "spreadsheets, a second CalTrack window).",
        )
    elif isinstance(exc, LeaseLostError):
        warn(parent, "No longer editing", f"Nothing was saved while {doing}.", str(exc))
    elif isinstance(exc, ReadOnlyError):
        warn(parent, "Read-only", f"This window cannot save while {doing}.", str(exc))
    elif isinstance(exc, NotAllowedError):
        # A role or signing-password refusal: say where each is fixed in this window.
        warn(
            parent,
            "Not allowed",
            str(exc),
            "In this window, admins give roles in Database → Users and roles, and you set "
            "your own signing password in QA → My signing password.",
        )
    elif isinstance(exc, LockHeldError):
        warn(parent, "Database in use", str(exc))
    elif isinstance(exc, ValidationError):
        detail = "\n".join(f"• {field}: {msg}" for field, msg in exc.fields.items())
        warn(parent, "Please check the input", f"Not saved while {doing}.", detail)
    elif isinstance(exc, ConflictError):
        warn(parent, "Changed by someone else", str(exc))
    elif isinstance(exc, NotFoundError):
        warn(parent, "Not found", str(exc), "It may have been changed by another user: refresh.")
    elif isinstance(exc, ServerLostError):
        # The message itself says whether the change was saved: no "Nothing was saved".
        text, _, detail = str(exc).partition("\n")
        error(parent, "Database server unreachable", f"While {doing}: {text}", detail.strip())
    elif isinstance(exc, ServerConnectError):
        warn(parent, "Cannot open the database", exc.message, exc.detail)
    elif isinstance(exc, StorageError):
        error(parent, "Storage problem", f"Nothing was saved while {doing}.", str(exc))
    elif isinstance(exc, CalTrackError):
        warn(parent, "CalTrack", str(exc))
    elif isinstance(exc, OSError):
        error(
            parent,
            "File problem",
            f"A file could not be read or written while {doing}.",
            f"{exc.strerror or exc} ({exc.filename or 'no file name'}). Check that the folder "
            "or network share is reachable.",
        )
    else:
        log.error("unexpected error while %s", doing, exc_info=exc)
        error(
            parent,
            "Unexpected error",
            f"Something went wrong while {doing}; nothing was saved.",
            f"{type(exc).__name__}: {exc}\nThe details are in the CalTrack log file.",
        )
