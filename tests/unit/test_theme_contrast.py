"""Every text and link colour of both themes is readable: WCAG contrast of at least 4.5:1.

The colours are read from where they are set: the theme stylesheets
(resources/themes/*.qss), the palettes and the status colours in app/ui/look.py. Each
text colour is checked against every background it can be drawn on.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.ui.look import MUTED_COLOR, PALETTES, STATUS_COLOR, STATUS_COLOR_DARK

THEMES = Path(__file__).resolve().parents[2] / "resources" / "themes"
AA = 4.5
NAMED = {"white": "#ffffff", "black": "#000000"}


def luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of ``#rrggbb``."""
    value = NAMED.get(colour.lower(), colour).lstrip("#")
    assert len(value) == 6, f"not a #rrggbb colour: {colour}"
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_formula_matches_wcag_examples() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    # The finding of issue 9: the light link colour on the dark status bar.
    assert contrast("#1a56c4", "#2b2d30") == pytest.approx(2.1, abs=0.1)


def qss_rules(theme: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, {property: value}) for each rule of a theme's stylesheet."""
    text = re.sub(r"/\*.*?\*/", "", (THEMES / f"{theme}.qss").read_text(), flags=re.S)
    rules = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        declarations = {}
        for part in body.split(";"):
            if ":" in part:
                name, value = part.split(":", 1)
                declarations[name.strip()] = value.strip()
        for one in selector.split(","):
            rules.append((one.strip(), declarations))
    return rules


def _colour(value: str) -> str | None:
    """The colour in a QSS value (``#rrggbb`` or a name), if there is one."""
    found = re.search(r"#[0-9a-fA-F]{6}\b", value)
    if found:
        return found.group(0)
    word = value.split()[0].lower() if value.split() else ""
    return NAMED.get(word)


def text_pairs(theme: str) -> list[tuple[str, str, str]]:
    """(what, text colour, background colour) for everything drawn in ``theme``."""
    pal = PALETTES[theme]
    pairs = [
        ("window text", pal["WindowText"], pal["Window"]),
        ("text in fields and lists", pal["Text"], pal["Base"]),
        ("text in alternate rows", pal["Text"], pal["AlternateBase"]),
        ("button text", pal["ButtonText"], pal["Button"]),
        ("selected text", pal["HighlightedText"], pal["Highlight"]),
        ("tooltip", pal["ToolTipText"], pal["ToolTipBase"]),
        ("placeholder", pal["PlaceholderText"], pal["Base"]),
    ]
    # Links sit in labels on the window (status bar, banners) and in lists and text views.
    for link in ("Link", "LinkVisited"):
        for ground in ("Window", "Base", "AlternateBase"):
            pairs.append((f"{link} on {ground}", pal[link], pal[ground]))
    statuses = STATUS_COLOR_DARK if theme == "dark" else STATUS_COLOR
    for status, colour in statuses.items():
        for ground in ("Window", "Base", "AlternateBase"):
            pairs.append((f"status {status} on {ground}", colour, pal[ground]))
    for ground in ("Window", "Base", "AlternateBase"):
        pairs.append((f"muted text on {ground}", MUTED_COLOR[theme], pal[ground]))

    rules = qss_rules(theme)
    backgrounds = {
        sel: bg
        for sel, decl in rules
        for key in ("background", "background-color")
        if key in decl and (bg := _colour(decl[key])) is not None
    }
    for selector, decl in rules:
        own = next(
            (b for k in ("background", "background-color") if (b := _colour(decl.get(k, "")))),
            None,
        )
        text = _colour(decl.get("color", ""))
        # A rule's text sits on its own background, else on the background its
        # enclosing selector sets (``#banner QLabel`` on ``#banner``), else the window's.
        ground = own or backgrounds.get(selector.split()[0]) or pal["Window"]
        if text is not None:
            pairs.append((f"{selector} text", text, ground))
        elif own is not None:
            # A background with the palette's text on it (header sections, chips).
            for role in ("WindowText", "ButtonText"):
                pairs.append((f"{selector}: {role}", pal[role], own))
    return pairs


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_text_colour_meets_aa_contrast(theme: str) -> None:
    pairs = text_pairs(theme)
    assert len(pairs) > 30, "the stylesheet and palette were read"
    poor = [
        f"{what}: {fg} on {bg} is {contrast(fg, bg):.2f}:1"
        for what, fg, bg in pairs
        if contrast(fg, bg) < AA
    ]
    assert not poor, "\n".join(poor)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_theme_rules_with_text_are_all_checked(theme: str) -> None:
    checked = {what for what, _fg, _bg in text_pairs(theme)}
    for selector, decl in qss_rules(theme):
        if "color" in decl:
            assert f"{selector} text" in checked
