"""Table files: reading CSV and XLSX into raw rows, writing them for export.

Reading copes with what people actually send: UTF-8 with or without a BOM, Windows
Excel's cp1252, Excel's "Unicode text" (UTF-16), comma, semicolon, tab or pipe
delimiters, quoted values with line breaks, blank lines, title rows above the header,
XLSX with real date cells and numbers stored as text. What cannot be read is refused
with one clear line that says what to try. Nothing here knows what a column means.

Writing is atomic (temp file in the same folder, fsync, rename) and streams rows, so an
export of half a million rows stays in bounded memory (openpyxl's write-only mode).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

from app.errors import UsageError
from app.storage.atomic import atomic_writer
from app.storage.filekind import kind_of
from app.storage.xlsx_scan import SheetEntry, check_sheet, first_long_string, workbook_parts

Cell = str | int | float | bool | date | datetime | None
Progress = Callable[[int, int], None]

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 100_000
# The most characters one cell may hold (CSV's own field limit, 128 KiB, for both formats).
MAX_CELL_CHARS = 128 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# A quoted value spanning more lines than this at the end of the file is an unclosed quote.
MAX_VALUE_LINES = 50
SNIFF_RECORDS = 50
SNIFF_CHARS = 256 * 1024
PROGRESS_EVERY = 2000

# Magic numbers of files people rename to .csv by mistake: what to tell them.
_NOT_TABLES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"SQLite format 3\x00", "a SQLite database"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc)
_ZIP = b"PK\x03\x04"

# CSV cells that Excel would run as a formula get a leading apostrophe on export (and
# lose it again on import): ``'*`` then one of these starts a formula-looking text.
_FORMULA_START = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED_FORMULA = re.compile(r"^'+[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True, slots=True)
class RawRow:
    """One non-blank row: where it starts in the file and its cells as read."""

    line: int  # CSV: the physical line the record starts on; XLSX: the row number
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class ReadOptions:
    """How to read a table file; ``None`` means detect it."""

    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    # Sheets to try first when none is named (e.g. "Instruments"), matched ignoring case.
    preferred_sheets: tuple[str, ...] = ()
    max_bytes: int = MAX_FILE_BYTES
    max_rows: int = MAX_ROWS


@dataclass(frozen=True)
class RawTable:
    """A file read into rows, with how it was read (shown in the import preview)."""

    name: str
    format: str  # "csv" or "xlsx"
    rows: tuple[RawRow, ...]
    size_bytes: int
    encoding: str = ""  # CSV: the codec used
    encoding_note: str = ""  # CSV: how it was chosen
    delimiter: str = ""  # CSV
    sheet: str = ""  # XLSX: the sheet read
    sheets: tuple[str, ...] = field(default_factory=tuple)  # XLSX: every sheet
    hidden_sheets: tuple[str, ...] = field(default_factory=tuple)  # XLSX: those hidden


def read_table(path: Path, options: ReadOptions, progress: Progress | None = None) -> RawTable:
    """Read a CSV or XLSX file (decided by its content, not its name) into raw rows."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    # A pipe or a device has no size and may never end (/dev/zero): refuse it by kind,
    # before opening it (opening a FIFO would wait for a writer).
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(
            f"{path} is {kind_of(info.st_mode)}, not a file; give the path of a saved CSV "
            "or XLSX file"
        )
    size = info.st_size
    if size > options.max_bytes:
        raise UsageError(
            f"{path.name} is {size / 1048576:.1f} MiB; an import takes at most "
            f"{options.max_bytes / 1048576:.0f} MiB — split the file"
        )
    if size == 0:
        raise UsageError(f"{path.name} is empty; export the table again")
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if head.startswith(_ZIP):
        return _read_xlsx(path, size, options, progress)
    _refuse_non_table(path, head)
    data = path.read_bytes()
    return _read_csv(path, data, options, progress)


def _refuse_non_table(path: Path, head: bytes) -> None:
    for magic, what in _NOT_TABLES:
        if head.startswith(magic):
            raise UsageError(
                f"{path.name} is not a table: it is {what}; "
                "export the data as CSV or XLSX and import that file"
            )
    if head.startswith(_OLE2):
        raise UsageError(
            f"{path.name} is an old Excel .xls workbook (or another Office file); "
            "open it in Excel and save it as .xlsx or CSV"
        )


# -- CSV ------------------------------------------------------------------------------


def _line_of(data: bytes, offset: int, encoding: str) -> int:
    return data[:offset].decode(encoding, errors="replace").count("\n") + 1


def _decode_error(name: str, data: bytes, exc: UnicodeDecodeError, encoding: str) -> UsageError:
    line = _line_of(data, exc.start, encoding)
    byte = data[exc.start : exc.start + 1].hex().upper()
    others = [e for e in ("utf-8", "cp1252", "utf-16") if codecs.lookup(e).name != encoding]
    return UsageError(
        f"{name} line {line}: byte 0x{byte} cannot be read as {encoding}; "
        f"choose the encoding {' or '.join(others)} (what the program that wrote "
        "the file used)"
    )


def _looks_utf16(sample: bytes) -> str | None:
    """UTF-16 without a BOM: text whose every other byte is NUL."""
    if len(sample) < 4:
        return None
    even = sample[0::2]
    odd = sample[1::2]
    if odd.count(0) > 0.8 * len(odd) and even.count(0) < 0.2 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.8 * len(even) and odd.count(0) < 0.2 * len(odd):
        return "utf-16-be"
    return None


def _decode(name: str, data: bytes, requested: str | None) -> tuple[str, str, str]:
    """(text, codec name, how it was chosen)."""
    if requested:
        try:
            codec = codecs.lookup(requested).name
        except LookupError:
            raise UsageError(
                f"unknown encoding {requested!r}; use for example utf-8, cp1252, latin-1 or utf-16"
            ) from None
        if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        try:
            return data.decode(codec), codec, f"{codec} (as asked)"
        except UnicodeDecodeError as exc:
            raise _decode_error(name, data, exc, codec) from None
    if data.startswith(codecs.BOM_UTF8):
        encoding, note = "utf-8-sig", "UTF-8 with BOM"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, note = "utf-16", "UTF-16 with BOM (Excel Unicode text)"
    else:
        guessed = _looks_utf16(data[:4096])
        if guessed:
            encoding, note = guessed, f"{guessed.upper()} without BOM"
        else:
            try:
                return data.decode("utf-8"), "utf-8", "UTF-8"
            except UnicodeDecodeError as exc:
                line = _line_of(data, exc.start, "utf-8")
                encoding = "cp1252"
                note = (
                    f"Windows-1252 (cp1252): not valid UTF-8 (line {line}); "
                    "choose the encoding if it is another one"
                )
    try:
        return data.decode(encoding), encoding, note
    except UnicodeDecodeError as exc:
        raise _decode_error(name, data, exc, encoding) from None


def _delimiter_of(requested: str) -> str:
    names = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = names.get(requested.lower(), requested)
    if len(value) != 1 or value in '"\r\n' or value.isalnum():
        raise UsageError(
            f"delimiter {requested!r}: give one character such as , ; | or the word tab"
        )
    return value


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first records into the most rows of equal width.

    Each candidate parses the start of the file as CSV (quotes and line breaks in
    values included); the one whose most common width (above one column) is shared by
    the most records wins, then the wider one. Comma when none splits anything.
    """
    sample = text[:SNIFF_CHARS]
    best: tuple[int, int, int] = (0, 0, 0)
    chosen = ","
    for rank, char in enumerate(DELIMITERS):
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=char, strict=False)
        try:
            widths = [
                len(r)
                for r in itertools.islice(reader, SNIFF_RECORDS)
                if len(r) > 1 and any(c.strip() for c in r)
            ]
        except csv.Error:
            continue
        if not widths:
            continue
        mode = max(set(widths), key=lambda w: (widths.count(w), w))
        score = (widths.count(mode), mode, -rank)
        if score > best:
            best, chosen = score, char
    return chosen


def _read_csv(path: Path, data: bytes, options: ReadOptions, progress: Progress | None) -> RawTable:
    name = path.name
    if (
        b"\x00" in data[:4096]
        and not (
            data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(data[:4096])
        )
        and not options.encoding
    ):
        raise UsageError(
            f"{name} is not a text table (it holds binary data); "
            "export the data as CSV or XLSX and import that file"
        )
    text, encoding, note = _decode(name, data, options.encoding)
    text = text.removeprefix("\ufeff")
    delimiter = _delimiter_of(options.delimiter) if options.delimiter else sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows: list[RawRow] = []
    previous_end = 0
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank line or only delimiters
            if len(rows) >= options.max_rows:
                raise UsageError(
                    f"{name} has more than {options.max_rows:,} rows; an import takes at most "
                    f"{options.max_rows:,} — split the file"
                )
            # A value with line breaks keeps them as "\n", whatever the file's line ends.
            cells = tuple(unescape_formula(c.replace("\r\n", "\n")) for c in record)
            rows.append(RawRow(start, cells))
            if progress and len(rows) % PROGRESS_EVERY == 0:
                progress(len(rows), 0)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _long_field(name, previous_end + 1, reader.line_num) from None
        raise UsageError(
            f"{name} line {reader.line_num}: cannot be read as CSV ({exc}); "
            'is it a table? A quote (") that is never closed makes the rest one value'
        ) from None
    if rows and previous_end - rows[-1].line > MAX_VALUE_LINES:
        raise UsageError(
            f'{name} line {rows[-1].line}: a quote (") opens a value that is never closed, '
            "so the rest of the file reads as one value; fix the quote and import again"
        )
    if not rows:
        raise UsageError(f"{name} holds no rows; export the table again")
    return RawTable(
        name=name,
        format="csv",
        rows=tuple(rows),
        size_bytes=len(data),
        encoding=encoding,
        encoding_note=note,
        delimiter=delimiter,
    )


def _long_field(name: str, start: int, stop: int) -> UsageError:
    """The csv module's field limit was hit in the record from line ``start``."""
    if stop - start > MAX_VALUE_LINES:
        return UsageError(
            f'{name} line {start}: a quote (") opens a value that is never closed, '
            "so the rest of the file reads as one value; fix the quote and import again"
        )
    return UsageError(
        f"{name} line {start}: a value holds more than {MAX_CELL_CHARS:,} characters, "
        "more than an import takes for one cell; shorten it (attach long texts as files)"
    )


def unescape_formula(text: str) -> str:
    """Undo ``escape_formula`` (a leading apostrophe before a formula-looking text)."""
    return text[1:] if _ESCAPED_FORMULA.match(text) else text


def escape_formula(text: str) -> str:
    """Keep Excel from running a CSV cell as a formula (CSV injection).

    Text that starts (after any apostrophes) with = + - @ tab or CR gets one more
    apostrophe in front; plain numbers such as -0.5 stay as they are. ``unescape_formula``
    takes exactly that apostrophe away again, so every text survives the round trip.
    """
    if _FORMULA_START.match(text) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


# -- XLSX -----------------------------------------------------------------------------


def _xlsx_value(value: Any) -> Cell:
    if isinstance(value, datetime):
        # A date cell comes back as midnight: that is a date, not a moment.
        return value.date() if value.time() == time(0, 0) else value
    if isinstance(value, time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool | date):
        return value
    return str(value)


def _pick_sheet(name: str, sheets: Sequence[SheetEntry], options: ReadOptions) -> SheetEntry:
    """The sheet named, else a visible preferred one, else the first visible one.

    A hidden sheet is read only when named: what the user sees in Excel is what is read.
    """
    names = [s.name for s in sheets]
    if options.sheet:
        for candidate in sheets:
            if candidate.name.casefold() == options.sheet.casefold():
                return candidate
        raise UsageError(
            f"{name} has no sheet {options.sheet!r}; its sheets are: " + ", ".join(names)
        )
    if not sheets:
        raise UsageError(f"{name} has no sheets")
    visible = [s for s in sheets if s.visible]
    if not visible:
        raise UsageError(
            f"{name} has only hidden sheets ({', '.join(names)}); name the one to read "
            "(--sheet), or show it in Excel and save the file"
        )
    for wanted in options.preferred_sheets:
        for candidate in visible:
            if candidate.name.casefold() == wanted.casefold():
                return candidate
    return visible[0]


def _scan_xlsx(path: Path, options: ReadOptions) -> tuple[SheetEntry, tuple[SheetEntry, ...]]:
    """Choose the sheet and check it in a streaming pass before openpyxl loads anything."""
    name = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            parts = workbook_parts(zf)
            if parts is None:
                raise UsageError(
                    f"{name} is a ZIP file but not an Excel workbook that can be read; "
                    "save it from Excel as .xlsx, or export it as CSV"
                )
            sheet = _pick_sheet(name, parts.sheets, options)
            long_string = (
                first_long_string(zf, parts.shared_strings, MAX_CELL_CHARS)
                if parts.shared_strings
                else None
            )
            check_sheet(
                zf,
                name,
                sheet,
                max_rows=options.max_rows,
                max_chars=MAX_CELL_CHARS,
                long_string=long_string,
            )
            return sheet, parts.sheets
    except (zipfile.BadZipFile, KeyError, OSError, ExpatError) as exc:
        raise UsageError(
            f"{name} is a ZIP file but not an Excel workbook that can be read ({exc}); "
            "save it from Excel as .xlsx, or export it as CSV"
        ) from None


def _read_xlsx(path: Path, size: int, options: ReadOptions, progress: Progress | None) -> RawTable:
    # Imported here: only imports and exports need openpyxl, and it is slow to import.
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    name = path.name
    chosen, entries = _scan_xlsx(path, options)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise UsageError(
            f"{name} is a ZIP file but not an Excel workbook that can be read ({exc}); "
            "save it from Excel as .xlsx, or export it as CSV"
        ) from None
    try:
        ws = wb[chosen.name]
        # Some programs write a wrong sheet size; read whatever rows there are.
        ws.reset_dimensions()
        rows: list[RawRow] = []
        number = 0
        for cells in ws.iter_rows():
            number += 1
            for cell in cells:
                row_of = getattr(cell, "row", None)
                if row_of:
                    number = int(row_of)
                    break
            values = tuple(_xlsx_value(c.value) for c in cells)
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if len(rows) >= options.max_rows:
                raise UsageError(
                    f"{name} sheet {ws.title!r} has more than {options.max_rows:,} rows; an "
                    f"import takes at most {options.max_rows:,} — split the sheet"
                )
            rows.append(RawRow(number, values))
            if progress and len(rows) % PROGRESS_EVERY == 0:
                progress(len(rows), 0)
        title = str(ws.title)
        sheets = tuple(str(s) for s in wb.sheetnames)
        hidden = tuple(e.name for e in entries if not e.visible)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UsageError(f"{name} is damaged and cannot be read ({exc})") from None
    finally:
        wb.close()
    if not rows:
        raise UsageError(f"{name} sheet {title!r} holds no rows")
    return RawTable(
        name=name,
        format="xlsx",
        rows=tuple(rows),
        size_bytes=size,
        sheet=title,
        sheets=sheets,
        hidden_sheets=hidden,
    )


# -- writing --------------------------------------------------------------------------


def write_csv(target: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """Write a CSV file for Excel (UTF-8 with BOM, comma, CRLF) atomically; rows written."""
    count = 0
    with atomic_writer(target) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            writer = csv.writer(text)
            writer.writerow([escape_formula(h) for h in header])
            for row in rows:
                writer.writerow([escape_formula(c) for c in row])
                count += 1
            text.flush()
        finally:
            # The atomic writer still needs the file: give it back unclosed.
            text.detach()
    return count


@dataclass
class SheetSpec:
    """One sheet of an export workbook; ``rows`` is consumed while writing."""

    name: str
    header: Sequence[str]
    rows: Iterable[Sequence[Cell]]
    widths: Sequence[int] = ()
    written: int = 0


def _xlsx_cells(ws: Any, row: Sequence[Cell]) -> Iterator[Any]:
    from openpyxl.cell import WriteOnlyCell

    for value in row:
        if isinstance(value, str):
            cell = WriteOnlyCell(ws, value=_XML_ILLEGAL.sub("\ufffd", value))
            # Text that starts with "=" is text here, never a formula.
            cell.data_type = "s"
            yield cell
        elif isinstance(value, datetime):
            yield WriteOnlyCell(ws, value=value.isoformat(sep=" "))
        elif isinstance(value, date):
            # A date cell is a midnight datetime to Excel (and comes back as one).
            cell = WriteOnlyCell(ws, value=datetime.combine(value, time(0, 0)))
            cell.number_format = "yyyy-mm-dd"
            yield cell
        else:
            yield value


def write_xlsx(target: Path, sheets: Sequence[SheetSpec]) -> None:
    """Write a workbook atomically in openpyxl's write-only mode (bounded memory)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    for spec in sheets:
        ws = wb.create_sheet(spec.name)
        ws.freeze_panes = "A2"
        for i, width in enumerate(spec.widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        bold = Font(bold=True)
        header = []
        for title in spec.header:
            cell = WriteOnlyCell(ws, value=title)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for row in spec.rows:
            ws.append(list(_xlsx_cells(ws, row)))
            spec.written += 1
    with atomic_writer(target) as handle:
        # ZipFile leaves a file it was handed open: the atomic writer fsyncs and renames it.
        wb.save(handle)
