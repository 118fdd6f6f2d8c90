"""How things look: status words, colours and icons, themes (QSS files in resources/)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QLabel

STATUS_TEXT = {
    "ok": "OK",
    "due-soon": "Due soon",
    "overdue": "Overdue",
    "not-calibrated": "Not yet calibrated",
    "verify-before-use": "Verify before use",
    "not-required": "Cal. not required",
    "out-of-service": "Out of service",
    "retired": "Retired",
    "lost": "Lost",
}
# Text colours that stay readable on light and dark backgrounds alike; never the only
# cue: every status also has its word and its icon.
STATUS_COLOR = {
    "ok": "#2e7d32",
    "due-soon": "#945a00",
    "overdue": "#c62828",
    "not-calibrated": "#455a64",
    "verify-before-use": "#00695c",
    "not-required": "#546e7a",
    "out-of-service": "#6d4c41",
    "retired": "#666666",
    "lost": "#3949ab",
}
STATUS_COLOR_DARK = {
    "ok": "#81c784",
    "due-soon": "#ffb74d",
    "overdue": "#ef9a9a",
    "not-calibrated": "#b0bec5",
    "verify-before-use": "#80cbc4",
    "not-required": "#b0bec5",
    "out-of-service": "#bcaaa4",
    "retired": "#bdbdbd",
    "lost": "#9fa8da",
}

# Secondary text (voided rows, notes): quieter than body text, still 4.5:1.
MUTED_COLOR = {"light": "#666666", "dark": "#a3a3a3"}


def resources_dir() -> Path:
    return Path(str(resources.files("app.resources")))


@cache
def icon(name: str) -> QIcon:
    """An SVG icon from resources/icons (vector: sharp at any scale)."""
    return QIcon(str(resources_dir() / "icons" / f"{name}.svg"))


def icon_html(name: str, size: int = 14) -> str:
    """An icon inline in a rich-text label: drawn from our SVG, so it shows on every
    desktop (an emoji or dingbat glyph shows as an empty box where the font lacks it)."""
    path = (resources_dir() / "icons" / f"{name}.svg").as_posix()
    return f"<img src='{path}' width='{size}' height='{size}' style='vertical-align:middle'>"


def status_icon(status: str) -> QIcon:
    return icon(f"status-{status}")


def is_dark() -> bool:
    palette = QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def status_color(status: str) -> QColor:
    table = STATUS_COLOR_DARK if is_dark() else STATUS_COLOR
    return QColor(table.get(status, "#000000"))


def muted_color() -> QColor:
    return QColor(MUTED_COLOR["dark" if is_dark() else "light"])


def apply_theme(app: QApplication, theme: str) -> str:
    """Apply 'light', 'dark' or 'system' (follow the desktop); returns the one in force."""
    chosen = theme
    if theme == "system":
        scheme = app.styleHints().colorScheme()
        chosen = "dark" if scheme.name == "Dark" else "light"
    app.setStyle("Fusion")
    app.setPalette(_palette(chosen))
    qss = resources_dir() / "themes" / f"{chosen}.qss"
    app.setStyleSheet(qss.read_text(encoding="utf-8") if qss.is_file() else "")
    _recolour_links()
    return chosen


def _recolour_links() -> None:
    """Links in labels already on screen take the new theme's link colour.

    Qt fixes a link's colour when it parses the label's HTML, from the palette of that
    moment: after a switch to dark, the light theme's dark blue stayed on the dark status
    bar (2.1:1). Parsing the text again picks up the palette now in force.
    """
    for widget in QApplication.allWidgets():
        if isinstance(widget, QLabel) and "<a " in (text := widget.text()):
            widget.setText("")
            widget.setText(text)


# The palette of each theme, by QPalette colour role name. Plain data, so a test can
# check every text colour against the background it is drawn on (WCAG 4.5:1).
PALETTES: dict[str, dict[str, str]] = {
    "dark": {
        "Window": "#2b2d30",
        "WindowText": "#e6e6e6",
        "Base": "#1f2023",
        "AlternateBase": "#26282b",
        "Text": "#e6e6e6",
        "Button": "#34363a",
        "ButtonText": "#e6e6e6",
        "Highlight": "#2f65ca",
        "HighlightedText": "#ffffff",
        "ToolTipBase": "#34363a",
        "ToolTipText": "#e6e6e6",
        "PlaceholderText": "#a0a0a0",
        "Link": "#8ab4f8",
        "LinkVisited": "#c58af9",
    },
    "light": {
        "Window": "#f3f3f3",
        "WindowText": "#1b1b1b",
        "Base": "#ffffff",
        "AlternateBase": "#f6f8fa",
        "Text": "#1b1b1b",
        "Button": "#f0f0f0",
        "ButtonText": "#1b1b1b",
        "Highlight": "#2f65ca",
        "HighlightedText": "#ffffff",
        "ToolTipBase": "#ffffdc",
        "ToolTipText": "#1b1b1b",
        "PlaceholderText": "#6b6b6b",
        "Link": "#1a56c4",
        "LinkVisited": "#6a2fb0",
    },
}
# Greyed-out text (disabled controls; WCAG does not ask 4.5:1 of those).
DISABLED_TEXT = "#7a7a7a"


def _palette(theme: str) -> QPalette:
    palette = QPalette()
    for role_name, value in PALETTES["dark" if theme == "dark" else "light"].items():
        palette.setColor(getattr(QPalette.ColorRole, role_name), QColor(value))
    disabled = QColor(DISABLED_TEXT)
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette
