"""How things look: status words, colours and icons, themes (QSS files in resources/)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

STATUS_TEXT = {
    "ok": "OK",
    "due-soon": "Due soon",
    "overdue": "Overdue",
    "out-of-service": "Out of service",
    "retired": "Retired",
    "lost": "Lost",
}
# Text colours that stay readable on light and dark backgrounds alike; never the only
# cue: every status also has its word and its icon.
STATUS_COLOR = {
    "ok": "#2e7d32",
    "due-soon": "#b26a00",
    "overdue": "#c62828",
    "out-of-service": "#6d4c41",
    "retired": "#757575",
    "lost": "#3949ab",
}
STATUS_COLOR_DARK = {
    "ok": "#81c784",
    "due-soon": "#ffb74d",
    "overdue": "#ef9a9a",
    "out-of-service": "#bcaaa4",
    "retired": "#bdbdbd",
    "lost": "#9fa8da",
}


def resources_dir() -> Path:
    return Path(str(resources.files("app.resources")))


@cache
def icon(name: str) -> QIcon:
    """An SVG icon from resources/icons (vector: sharp at any scale)."""
    return QIcon(str(resources_dir() / "icons" / f"{name}.svg"))


def status_icon(status: str) -> QIcon:
    return icon(f"status-{status}")


def is_dark() -> bool:
    palette = QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def status_color(status: str) -> QColor:
    table = STATUS_COLOR_DARK if is_dark() else STATUS_COLOR
    return QColor(table.get(status, "#000000"))


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
    return chosen


def _palette(theme: str) -> QPalette:
    palette = QPalette()
    if theme == "dark":
        colors = {
            QPalette.ColorRole.Window: "#2b2d30",
            QPalette.ColorRole.WindowText: "#e6e6e6",
            QPalette.ColorRole.Base: "#1f2023",
            QPalette.ColorRole.AlternateBase: "#26282b",
            QPalette.ColorRole.Text: "#e6e6e6",
            QPalette.ColorRole.Button: "#34363a",
            QPalette.ColorRole.ButtonText: "#e6e6e6",
            QPalette.ColorRole.Highlight: "#2f65ca",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.ToolTipBase: "#34363a",
            QPalette.ColorRole.ToolTipText: "#e6e6e6",
            QPalette.ColorRole.PlaceholderText: "#8c8c8c",
            QPalette.ColorRole.Link: "#8ab4f8",
        }
    else:
        colors = {
            QPalette.ColorRole.Window: "#f3f3f3",
            QPalette.ColorRole.WindowText: "#1b1b1b",
            QPalette.ColorRole.Base: "#ffffff",
            QPalette.ColorRole.AlternateBase: "#f6f8fa",
            QPalette.ColorRole.Text: "#1b1b1b",
            QPalette.ColorRole.Button: "#f0f0f0",
            QPalette.ColorRole.ButtonText: "#1b1b1b",
            QPalette.ColorRole.Highlight: "#2f65ca",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.ToolTipBase: "#ffffdc",
            QPalette.ColorRole.ToolTipText: "#1b1b1b",
            QPalette.ColorRole.PlaceholderText: "#767676",
            QPalette.ColorRole.Link: "#1a56c4",
        }
    for role, value in colors.items():
        palette.setColor(role, QColor(value))
    disabled = QColor("#7a7a7a")
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette
