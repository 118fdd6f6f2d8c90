"""Tags that look identical are the same tag; invisible and bidi characters are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bootstrap import CalTrack
from app.errors import ValidationError
from app.services.transfer_model import ImportOptions
from tests.conftest import add_thermometer

TWINS = {
    "decomposed É": ("CAL-\u00c9-1", "CAL-E\u0301-1"),
    "fullwidth letters": ("TH-001", "\uff34\uff28-001"),
    "no-break space": ("TH 001", "TH\u00a0001"),
    "non-breaking hyphen": ("TH-001", "TH\u2011001"),
    "en dash": ("TH-001", "TH\u2013001"),
    "case": ("th-001", "TH-001"),
    "sharp s": ("MASSE-1", "MAßE-1"),
}


@pytest.mark.parametrize("case", list(TWINS))
def test_a_tag_that_looks_the_same_is_the_same_tag(app: CalTrack, case: str) -> None:
    first, twin = TWINS[case]
    add_thermometer(app, first)
    with pytest.raises(ValidationError) as caught:
        add_thermometer(app, twin)
    assert "already used" in caught.value.fields["asset_tag"]
    assert app.instruments.get(twin).asset_tag == first


REFUSED = {
    "zero-width space": ("TH\u200b-001", "U+200B (ZERO WIDTH SPACE) at position 3"),
    "right-to-left override": ("TH-\u202e100", "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 4"),
    "left-to-right mark": ("\u200eTH-001", "U+200E (LEFT-TO-RIGHT MARK) at position 1"),
    "word joiner": ("TH-\u2060001", "U+2060 (WORD JOINER) at position 4"),
    "soft hyphen": ("TH\u00ad001", "U+00AD (SOFT HYPHEN) at position 3"),
    "hangul filler": ("TH-\u3164", "U+3164 (HANGUL FILLER) at position 4"),
    # Letters of another alphabet drawn like Latin ones: no folding makes them the same.
    "Cyrillic Т among Latin": (
        "\u0422H-001",
        "mixes Cyrillic and Latin letters (U+0422 (CYRILLIC CAPITAL LETTER TE) at position 1)",
    ),
    "all Cyrillic twins": ("\u0422\u041d-001", "written in Cyrillic letters that look like Latin"),
    "Greek Η among Latin": ("T\u0397-001", "mixes Latin and Greek letters"),
}


ONE_ALPHABET = ["\u0422\u0435\u0441\u0442-1", "\u0394-1", "M\u00dcLLER-1", "\u00b5P-1"]


@pytest.mark.parametrize("tag", ONE_ALPHABET)
def test_a_tag_in_one_alphabet_is_kept(app: CalTrack, tag: str) -> None:
    """Cyrillic or Greek that reads as itself (Тест, Δ), Latin with accents, a micro sign."""
    add_thermometer(app, tag)
    assert app.instruments.get(tag).asset_tag == tag


@pytest.mark.parametrize("case", list(REFUSED))
def test_invisible_and_bidi_characters_are_refused_by_name(app: CalTrack, case: str) -> None:
    tag, where = REFUSED[case]
    with pytest.raises(ValidationError) as caught:
        add_thermometer(app, tag)
    assert where in caught.value.fields["asset_tag"]


def test_import_applies_the_same_rule(app: CalTrack, tmp_path: Path) -> None:
    add_thermometer(app, "TH-001")
    path = tmp_path / "twins.csv"
    path.write_text(
        "Tag,Description\n"
        "\uff34\uff28-001,Fullwidth twin of a registered tag\n"
        "CAL-\u00c9-1,Precomposed\n"
        "CAL-E\u0301-1,Decomposed twin on line 3\n"
        "TH\u200b-9,Zero width\n",
        encoding="utf-8",
    )
    preview = app.transfer.preview(path, ImportOptions(kind="instruments"))
    by_line: dict[int | None, list[str]] = {}
    for issue in preview.issues:
        by_line.setdefault(issue.line, []).append(issue.message)
    assert set(by_line) == {2, 4, 5}, by_line
    assert "already" in " ".join(by_line[2])
    assert "line 3" in " ".join(by_line[4])
    assert "U+200B (ZERO WIDTH SPACE) at position 3" in " ".join(by_line[5])
