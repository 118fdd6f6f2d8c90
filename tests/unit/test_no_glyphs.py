"""The window draws symbols with its own icons, never emoji or dingbat glyphs.

A glyph the desktop's fonts lack shows as an empty box (the lock in the status bar did
on a fresh Debian machine); an SVG from resources/icons shows everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "app" / "ui"
# Miscellaneous symbols, dingbats, geometric shapes, emoji. Arrows, dashes, the ellipsis,
# ± and ° are in every text font and stay.
GLYPHS = re.compile("[\u25a0-\u25ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")


def test_no_emoji_or_dingbat_glyphs_in_the_window() -> None:
    found = [
        f"{path.relative_to(UI)}:{n}: {line.strip()}"
        for path in sorted(UI.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if GLYPHS.search(line)
    ]
    assert not found, "use an icon (look.icon / look.icon_html):\n" + "\n".join(found)
