"""Counts said with the right plural, the one way the window and reports say them."""

from __future__ import annotations

from app.words import count, plural


def test_one_is_singular_everything_else_plural() -> None:
    assert count(1, "attachment") == "1 attachment"
    assert count(0, "attachment") == "0 attachments"
    assert count(2, "attachment") == "2 attachments"
    assert count(1_200, "instrument") == "1,200 instruments"


def test_irregular_plurals_are_given() -> None:
    assert count(1, "entry", "entries") == "1 entry"
    assert count(3, "entry", "entries") == "3 entries"
    assert plural(1, "was", "were") == "was"
    assert plural(2, "was", "were") == "were"
