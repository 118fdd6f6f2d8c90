"""Counts said with the right plural, and a label for every value of each vocabulary."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from app.services.accounts import ROLE_NAMES
from app.vocabulary import CASE_STATES, LIFECYCLES, PROVIDER_KINDS, REQUIREMENTS, RESULTS, ROLES
from app.words import (
    CASE_STATE_LABELS,
    LIFECYCLE_LABELS,
    PROVIDER_LABELS,
    REQUIREMENT_LABELS,
    RESULT_LABELS,
    count,
    plural,
)


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


@pytest.mark.parametrize(
    ("labels", "vocabulary"),
    [
        (LIFECYCLE_LABELS, LIFECYCLES),
        (REQUIREMENT_LABELS, REQUIREMENTS),
        (RESULT_LABELS, RESULTS),
        (PROVIDER_LABELS, PROVIDER_KINDS),
        (CASE_STATE_LABELS, CASE_STATES),
        (ROLE_NAMES, ROLES),
    ],
)
def test_every_vocabulary_value_has_one_label(
    labels: Mapping[str, str], vocabulary: tuple[str, ...]
) -> None:
    """A value added to the vocabulary cannot show up in a menu without a label."""
    assert sorted(labels) == sorted(vocabulary)
    assert all(labels.values())
    assert len(set(labels.values())) == len(labels), "two values would read the same"
