"""Words shown to people: counts with the right plural ("1 attachment", "2 attachments").

Plain Python, no Qt: the window, the reports and the command line all say counts the
same way through ``count``.
"""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """The word for ``n`` things: ``one`` for exactly 1, else ``many`` (default ``one + "s"``)."""
    if n == 1:
        return one
    return many if many is not None else one + "s"


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` and its word, with thousands separators: "1 attachment", "1,200 instruments"."""
    return f"{n:,} {plural(n, one, many)}"
