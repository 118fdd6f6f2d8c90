"""Words shown to people: counts with the right plural, and the vocabulary's labels.

Plain Python, no Qt: the window, the reports and the command line all say counts the
same way through ``count``, and name a lifecycle, requirement, result, provider or
case state the same way through the ``*_LABELS`` below.
"""

from __future__ import annotations

from app.vocabulary import CaseState, Lifecycle, ProviderKind, Requirement, Result

# One label per value of each closed vocabulary (app.vocabulary), in the order menus
# list them; tests/unit/test_words.py holds each to its vocabulary, so a value added
# there cannot go without a label here.
LIFECYCLE_LABELS: dict[Lifecycle, str] = {
    "in_service": "In service",
    "out_of_service": "Out of service",
    "retired": "Retired",
    "lost": "Lost",
}
REQUIREMENT_LABELS: dict[Requirement, str] = {
    "periodic": "Periodic",
    "verify_before_use": "Verify before use",
    "not_required": "Not required",
}
# A pass after adjustment sits between pass and fail in the menu.
RESULT_LABELS: dict[Result, str] = {
    "pass": "Pass",
    "adjusted": "Adjusted (passed after adjustment)",
    "fail": "Fail",
}
PROVIDER_LABELS: dict[ProviderKind, str] = {
    "in_house": "In-house",
    "external": "External provider",
}
CASE_STATE_LABELS: dict[CaseState, str] = {
    "open": "Open",
    "closed": "Closed",
    "cancelled": "Cancelled",
}


def plural(n: int, one: str, many: str | None = None) -> str:
    """The word for ``n`` things: ``one`` for exactly 1, else ``many`` (default ``one + "s"``)."""
    if n == 1:
        return one
    return many if many is not None else one + "s"


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` and its word, with thousands separators: "1 attachment", "1,200 instruments"."""
    return f"{n:,} {plural(n, one, many)}"
