"""Turning a user's file name into one that is safe on every OS and share."""

from __future__ import annotations

import re
import unicodedata
import uuid

# Names Windows refuses whatever the extension (CON.txt is still CON).
WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
MAX_STEM = 80
MAX_SUFFIX = 16
MAX_DISPLAY_NAME = 255


def display_name(name: str) -> str:
    """The last path part of what the user gave, cleaned for display."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if base in {"", ".", ".."}:
        base = "attachment"
    if len(base) > MAX_DISPLAY_NAME:
        # Shorten the stem, not the extension: the type of file must survive.
        stem, dot, suffix = base.rpartition(".")
        if dot and stem and len(suffix) <= MAX_SUFFIX:
            base = f"{stem[: MAX_DISPLAY_NAME - len(suffix) - 1]}.{suffix}"
        else:
            base = base[:MAX_DISPLAY_NAME]
    return base


def safe_parts(name: str) -> tuple[str, str]:
    """A safe stem and suffix for ``name`` (path parts, '..', CON, controls removed)."""
    base = unicodedata.normalize("NFC", display_name(name))
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem:
        stem, suffix = base, ""
    stem = _FORBIDDEN.sub("_", stem).strip(" .") or "attachment"
    suffix = _FORBIDDEN.sub("_", suffix).strip(" .")
    if stem.split(".")[0].upper() in WINDOWS_RESERVED:
        stem = f"_{stem}"
    stem = stem[:MAX_STEM].rstrip(" .") or "attachment"
    suffix = f".{suffix[:MAX_SUFFIX]}" if suffix else ""
    return stem, suffix


def stored_name(name: str, token: str | None = None) -> str:
    """``{stem}_{uuid8}{suffix}``: unique on disk, recognisable to a person."""
    stem, suffix = safe_parts(name)
    return f"{stem}_{token or uuid.uuid4().hex[:8]}{suffix}"
