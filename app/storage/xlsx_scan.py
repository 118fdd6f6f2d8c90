"""A streaming look at an XLSX file before openpyxl loads it.

openpyxl reads every shared string into memory when it opens a workbook, and reads a
sheet row by row until the end, so a 300 MB cell or a sheet of millions of rows costs
memory and minutes before the import can refuse it. This module reads the workbook's
parts with expat in small chunks, holding no cell text, and stops at the first thing
that makes the file unusable: a cell longer than an import takes, one row more than
the limit, or a formula with no computed value (a file written by a script that does
not calculate: reading it would give an empty cell where the file shows a value).

It also lists the sheets with their visibility, so a hidden sheet is not read in place
of a visible one without saying so.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from xml.parsers import expat

from app.errors import UsageError

CHUNK = 64 * 1024
# Small XML parts (workbook, relationships) are read whole, up to this size.
MAX_PART_BYTES = 16 * 1024 * 1024
_REL_SHEET = "/worksheet"
_REL_STRINGS = "/sharedStrings"
_REL_OFFICE = "/officeDocument"


@dataclass(frozen=True, slots=True)
class SheetEntry:
    """A sheet as the workbook lists it: name, visibility and its part in the ZIP."""

    name: str
    visible: bool
    part: str


@dataclass(frozen=True, slots=True)
class WorkbookParts:
    """Where the sheets and the shared strings of a workbook are."""

    sheets: tuple[SheetEntry, ...]
    shared_strings: str | None


def _local(tag: str) -> str:
    return tag.rsplit(":", 1)[-1]


def _read_small(zf: zipfile.ZipFile, part: str) -> bytes:
    with zf.open(part) as handle:
        data = handle.read(MAX_PART_BYTES + 1)
    if len(data) > MAX_PART_BYTES:
        raise UsageError(f"the workbook part {part} is implausibly large; save it again as .xlsx")
    return data


def _elements(data: bytes) -> list[tuple[str, dict[str, str]]]:
    found: list[tuple[str, dict[str, str]]] = []
    parser = expat.ParserCreate()
    parser.StartElementHandler = lambda tag, attrs: found.append((_local(tag), attrs))
    parser.Parse(data, True)
    return found


def _relationships(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, target part) for a part (its ``_rels`` file)."""
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if rels not in zf.NameToInfo:
        return {}
    result: dict[str, tuple[str, str]] = {}
    for tag, attrs in _elements(_read_small(zf, rels)):
        if tag != "Relationship" or attrs.get("TargetMode") == "External":
            continue
        target = attrs.get("Target", "")
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = posixpath.normpath(posixpath.join(folder, target))
        result[attrs.get("Id", "")] = (attrs.get("Type", ""), resolved)
    return result


def workbook_parts(zf: zipfile.ZipFile) -> WorkbookParts | None:
    """The sheets and shared strings of a workbook; None when its structure is not there."""
    try:
        root = _relationships(zf, "")
        office = next((t for kind, t in root.values() if kind.endswith(_REL_OFFICE)), None)
        workbook = office or "xl/workbook.xml"
        if workbook not in zf.NameToInfo:
            return None
        rels = _relationships(zf, workbook)
        sheets: list[SheetEntry] = []
        for tag, attrs in _elements(_read_small(zf, workbook)):
            if tag != "sheet":
                continue
            rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
            kind, target = rels.get(rid, ("", ""))
            if not kind.endswith(_REL_SHEET):
                continue  # a chart sheet or a broken reference: not a table
            state = attrs.get("state", "visible")
            sheets.append(SheetEntry(attrs.get("name", ""), state == "visible", target))
        strings = next((t for kind, t in rels.values() if kind.endswith(_REL_STRINGS)), None)
    except (expat.ExpatError, KeyError, zipfile.BadZipFile, OSError):
        return None
    return WorkbookParts(tuple(sheets), strings if strings in zf.NameToInfo else None)


def _feed(zf: zipfile.ZipFile, part: str, parser: expat.XMLParserType) -> None:
    with zf.open(part) as handle:
        while chunk := handle.read(CHUNK):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)


class _Stop(Exception):
    """Raised from a handler to stop reading a part early."""


def first_long_string(zf: zipfile.ZipFile, part: str, max_chars: int) -> int | None:
    """The index of the first shared string longer than ``max_chars``, or None."""
    index = -1
    length = 0
    inside = False

    def start(tag: str, _attrs: dict[str, str]) -> None:
        nonlocal index, length, inside
        name = _local(tag)
        if name == "si":
            index, length = index + 1, 0
        elif name == "t":
            inside = True

    def end(tag: str) -> None:
        nonlocal inside
        if _local(tag) == "t":
            inside = False

    def text(data: str) -> None:
        nonlocal length
        if inside:
            length += len(data)
            if length > max_chars:
                raise _Stop

    parser = expat.ParserCreate()
    parser.buffer_text = False
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        _feed(zf, part, parser)
    except _Stop:
        return index
    return None


def check_sheet(
    zf: zipfile.ZipFile,
    file_name: str,
    sheet: SheetEntry,
    *,
    max_rows: int,
    max_chars: int,
    long_string: int | None,
) -> None:
    """Refuse the sheet at the first cell or row that would make the import wrong or huge.

    ``long_string`` is the index of a shared string over ``max_chars`` (if any): the
    first cell using it is the one named.
    """
    where = f"{file_name} cell {sheet.name}!"
    rows = 0
    row_has_value = False
    cell = ""
    cell_type = ""
    formula = ""
    formula_seen = False
    value_seen = False
    value_text = ""
    length = 0
    in_text = ""  # "v", "f" or "t" while inside one

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal row_has_value, cell, cell_type, formula, formula_seen, value_seen
        nonlocal value_text, length, in_text
        name = _local(tag)
        if name == "row":
            row_has_value = False
        elif name == "c":
            cell, cell_type = attrs.get("r", "?"), attrs.get("t", "n")
            formula, formula_seen, value_seen, value_text, length = "", False, False, "", 0
        elif name == "f":
            formula_seen, in_text = True, "f"
        elif name == "v":
            value_seen, in_text = True, "v"
        elif name == "t":
            in_text = "t"

    def text(data: str) -> None:
        nonlocal formula, value_text, length, row_has_value
        if in_text == "f":
            if len(formula) < 60:
                formula += data[:60]
            return
        if not in_text:
            return
        length += len(data)
        if length > max_chars:
            raise UsageError(
                f"{where}{cell} holds more than {max_chars:,} characters, more than an "
                "import takes for one cell; shorten it (attach long texts as files)"
            )
        if in_text == "v" and len(value_text) < 32:
            value_text += data[:32]
        if data.strip():
            row_has_value = True

    def end(tag: str) -> None:
        nonlocal rows, in_text
        name = _local(tag)
        if name in ("v", "f", "t"):
            in_text = ""
        elif name == "c":
            # Excel writes an empty <v> for a formula whose result is the empty text
            # (type "str"); no <v>, or an empty one of another type, is never calculated.
            if formula_seen and not value_text and not (value_seen and cell_type == "str"):
                shown = formula.strip()
                shown = (shown[:40] + "…") if len(shown) > 40 else shown
                raise UsageError(
                    f"{where}{cell} holds a formula (={shown}) with no calculated value "
                    "(the program that wrote the file does not calculate formulas); open "
                    "the file in Excel or LibreOffice and save it, or export it as CSV, "
                    "then import again"
                )
            if (
                long_string is not None
                and cell_type == "s"
                and value_text.strip() == str(long_string)
            ):
                raise UsageError(
                    f"{where}{cell} holds more than {max_chars:,} characters, more than "
                    "an import takes for one cell; shorten it (attach long texts as files)"
                )
        elif name == "row" and row_has_value:
            rows += 1
            if rows > max_rows:
                raise UsageError(
                    f"{file_name} sheet {sheet.name!r} has more than {max_rows:,} rows; an "
                    f"import takes at most {max_rows:,} — split the sheet"
                )

    parser = expat.ParserCreate()
    parser.buffer_text = False
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    _feed(zf, sheet.part, parser)
    if long_string is not None:
        # The long text is used by another sheet only; openpyxl would still load it.
        raise UsageError(
            f"{file_name} holds a text of more than {max_chars:,} characters (on another "
            "sheet), more than an import takes for one cell; shorten it or copy the "
            "sheet to import into a new workbook"
        )
