"""Printing results: plain tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from app.plain_text import is_control
from app.services.dto import to_jsonable


def print_json(value: Any, out: TextIO | None = None) -> None:
    # sys.stdout read at each call, not bound once at import: a caller that redirects
    # it (contextlib.redirect_stdout) gets the output.
    out = out or sys.stdout
    json.dump(to_jsonable(value), out, indent=2, ensure_ascii=False)
    out.write("\n")


def _one_line(text: str) -> str:
    """A cell as one line: a control character stored before the rule existed (or by
    another program) is shown escaped, never allowed to start a row of its own."""
    if not any(is_control(c) for c in text):
        return text
    return "".join(repr(c)[1:-1] if is_control(c) else c for c in text)


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO | None = None
) -> None:
    out = out or sys.stdout
    texts = [[_one_line("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in texts:
        for i, cell in enumerate(row):
            # Cap wide columns, but let the last one run on: nothing follows it.
            cap = 10_000 if i == len(headers) - 1 else 48
            widths[i] = min(max(widths[i], len(cell)), cap)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            (c if len(c) <= widths[i] else c[: widths[i] - 1] + "…").ljust(widths[i])
            for i, c in enumerate(cells)
        ).rstrip()

    out.write(line(headers) + "\n")
    for row in texts:
        out.write(line(row) + "\n")


def print_fields(pairs: Sequence[tuple[str, Any]], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        out.write(f"{key.ljust(width)}  {'' if value is None else value}\n")


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
