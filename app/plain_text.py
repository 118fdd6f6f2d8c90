"""The one rule for text that is stored and printed as a line: no control characters.

A newline in a login, a machine name or a reason would split a row of ``audit list``
and let one line pass for two; other control characters move the cursor or hide what
follows. Every check of stored single-line text in CalTrack goes through here, and
says which character sits at which position so the person can find it.
"""

from __future__ import annotations

import unicodedata

# Characters that end a line in str.splitlines() without being C0/C1 controls.
_LINE_BREAKS = {"\u2028", "\u2029"}
_MULTILINE_ALLOWED = {"\n", "\r", "\t"}


def describe_character(char: str) -> str:
    """``U+000A (LINE FEED)``: the code point and, where Unicode has one, its name."""
    name = unicodedata.name(char, "")
    if not name and unicodedata.category(char) == "Cc":
        name = _CONTROL_NAMES.get(char, "control character")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


_CONTROL_NAMES = {
    "\n": "LINE FEED",
    "\r": "CARRIAGE RETURN",
    "\t": "TAB",
    "\x1b": "ESCAPE",
    "\x00": "NUL",
    "\x7f": "DELETE",
    "\x85": "NEXT LINE",
}


def is_control(char: str, *, multiline: bool = False) -> bool:
    """C0/C1 controls, DEL and Unicode line/paragraph separators (tab and newlines are
    allowed in multi-line text such as notes)."""
    if multiline and char in _MULTILINE_ALLOWED:
        return False
    return unicodedata.category(char) == "Cc" or char in _LINE_BREAKS


def control_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` may not be stored as a line, or None when it may.

    The position counts characters from 1, as a person counts them.
    """
    for position, char in enumerate(text, start=1):
        if is_control(char, multiline=multiline):
            return (
                f"contains the control character {describe_character(char)} at position {position}"
            )
    return None


# -- asset tags: what looks identical is identical ------------------------------------

# Bidirectional controls reorder what is shown ("TH-1<RLO>0" prints as something else).
_BIDI = {
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
}
# Characters that draw nothing although they are not format characters.
_INVISIBLE = {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", *map(chr, range(0xFE00, 0xFE10))}


# Cyrillic and Greek letters drawn like a Latin one (Unicode's confusables for the
# letters a tag or a name is typed in): "ТН-001" in Cyrillic looks exactly like "TH-001".
_LATIN_TWINS = set(
    "АВЕКМНОРСТХаеорсухіјѕІЈЅԁһԛԝӀ"  # Cyrillic
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαικνορυχ"  # Greek
)
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def _script(char: str) -> str | None:
    """LATIN, CYRILLIC or GREEK for a letter of those alphabets (None otherwise)."""
    if not unicodedata.category(char).startswith("L"):
        return None
    word = unicodedata.name(char, "").split(" ", 1)[0]
    return word if word in _SCRIPTS else None


def lookalike_problem(text: str) -> str | None:
    """Why ``text`` could pass for another that reads the same: it mixes Latin, Cyrillic
    and Greek letters ("Тrescal" with a Cyrillic Т), or every Cyrillic or Greek letter in
    it is the twin of a Latin one ("ТН-001" all in Cyrillic). None when neither."""
    scripts: dict[str, tuple[int, str]] = {}
    foreign: list[str] = []
    for position, char in enumerate(text, start=1):
        script = _script(char)
        if script is None:
            continue
        scripts.setdefault(script, (position, char))
        if script != "LATIN":
            foreign.append(char)
    if not foreign:
        return None
    if len(scripts) > 1 or all(char in _LATIN_TWINS for char in foreign):
        script, (position, char) = next((k, v) for k, v in scripts.items() if k != "LATIN")
        mixed = " ".join(s.title() for s in scripts)
        why = (
            f"mixes {mixed.replace(' ', ' and ')} letters"
            if len(scripts) > 1
            else f"is written in {script.title()} letters that look like Latin ones"
        )
        return (
            f"{why} ({describe_character(char)} at position {position}), so it could "
            "pass for another; type it again in one alphabet"
        )
    return None


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` cannot be an asset tag (or a name that compares like one: providers,
    instrument types): an invisible or bidirectional control character, or look-alike
    letters of another alphabet (``lookalike_problem``); None when it can."""
    for position, char in enumerate(tag, start=1):
        if char in _BIDI:
            kind = "a bidirectional control character"
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") or char in _INVISIBLE:
            kind = "an invisible character"
        else:
            continue
        return (
            f"contains {kind} {describe_character(char)} at position {position}; "
            "type the tag again without it"
        )
    return lookalike_problem(tag)


def tag_key(tag: str) -> str:
    """The form tags are compared in: NFKC, case folded, every dash a hyphen-minus,
    every space a plain space. Precomposed and decomposed É, fullwidth letters, a
    no-break space or a non-breaking hyphen then make no new tag. Upper case, so a
    plain ASCII tag is its own key, as before this rule."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", tag.strip()).casefold())
    text = "".join(
        "-"
        if unicodedata.category(c) == "Pd" or c == "\u2212"
        else " "
        if unicodedata.category(c) == "Zs"
        else c
        for c in text
    )
    return text.upper()
