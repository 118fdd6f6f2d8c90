"""Reading messy table files: encodings, delimiters, blank lines, XLSX cells, non-tables."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest

from app.errors import UsageError
from app.storage.tables import (
    Cell,
    ReadOptions,
    SheetSpec,
    escape_formula,
    read_table,
    sniff_delimiter,
    unescape_formula,
    write_csv,
    write_xlsx,
)

DATA = Path(__file__).parents[1] / "data" / "import"


def test_utf8_bom_semicolons_crlf_and_a_quoted_line_break() -> None:
    table = read_table(DATA / "register-semicolon-bom.csv", ReadOptions())
    assert (table.format, table.encoding, table.delimiter) == ("csv", "utf-8-sig", ";")
    assert table.encoding_note == "UTF-8 with BOM"
    assert [r.line for r in table.rows] == [1, 2, 3, 4]
    # The BOM is not part of the first header.
    assert table.rows[0].cells[0] == "Asset no."
    # The note spans two physical lines; its CRLF inside the quotes reads as "\n".
    assert table.rows[3].cells[-1] == "Two lines:\nfirst; second"
    assert table.rows[3].cells[1] == "Pipette 100 µL"


def test_cp1252_is_detected_with_the_line_that_is_not_utf8() -> None:
    table = read_table(DATA / "register-cp1252.csv", ReadOptions())
    assert table.encoding == "cp1252"
    assert "not valid UTF-8 (line 2)" in table.encoding_note
    assert table.delimiter == ","
    assert table.rows[1].cells[1] == "Drucksensor für Kühlraum"
    assert table.rows[2].cells[5] == "±20 µm"
    assert table.rows[3].cells[1] == "Drehmomentschlüssel, groß"
    assert table.rows[3].cells[4] == "5 to 200 N·m"


def test_a_wrong_encoding_names_the_line_and_what_to_try() -> None:
    with pytest.raises(UsageError) as error:
        read_table(DATA / "register-cp1252.csv", ReadOptions(encoding="utf-8"))
    message = str(error.value)
    assert message.startswith("register-cp1252.csv line 2: byte 0xFC cannot be read as utf-8")
    assert "choose the encoding cp1252" in message
    with pytest.raises(UsageError, match="unknown encoding 'klingon'"):
        read_table(DATA / "register-cp1252.csv", ReadOptions(encoding="klingon"))
    # Asked for explicitly, cp1252 reads it too.
    asked = read_table(DATA / "register-cp1252.csv", ReadOptions(encoding="windows-1252"))
    assert asked.encoding_note == "cp1252 (as asked)"


def test_excel_unicode_text_is_utf16_with_tabs() -> None:
    table = read_table(DATA / "register-unicode-text.txt", ReadOptions())
    assert table.encoding == "utf-16"
    assert table.delimiter == "\t"
    assert [r.cells for r in table.rows] == [
        ("Asset tag", "Description", "Range"),
        ("HYG-501", "Thermo-hygrometer", "-20 to 60 °C"),
        ("HYG-502", "Thermo-hygrometer", "10 to 90 %RH"),
    ]


def test_utf16_without_bom_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "nobom.txt"
    path.write_bytes("Tag\tDescription\nA-1\tWaage\n".encode("utf-16-le"))
    table = read_table(path, ReadOptions())
    assert table.encoding == "utf-16-le"
    assert table.rows[1].cells == ("A-1", "Waage")


def test_blank_lines_and_rows_of_only_delimiters_are_skipped_keeping_line_numbers() -> None:
    table = read_table(DATA / "register-blank-lines.csv", ReadOptions())
    assert [r.line for r in table.rows] == [1, 3, 6, 8, 9]
    assert table.rows[1].cells == ("MM-301", "Digital multimeter", "Lab 1.14", "", "", "")


def test_files_that_are_not_tables_are_refused_with_what_they_are(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as png:
        read_table(DATA / "not-a-table.csv", ReadOptions())
    assert str(png.value) == (
        "not-a-table.csv is not a table: it is a PNG image; "
        "export the data as CSV or XLSX and import that file"
    )
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(UsageError, match=r"old Excel \.xls workbook.*save it as \.xlsx or CSV"):
        read_table(xls, ReadOptions())
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"a,b\n\x00\x01\x02\x03\xff\xfe\x00\x00" * 20)
    with pytest.raises(UsageError, match=r"data\.csv is not a text table"):
        read_table(binary, ReadOptions())
    fake_zip = tmp_path / "fake.xlsx"
    fake_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(UsageError, match=r"fake\.xlsx is a ZIP file but not an Excel workbook"):
        read_table(fake_zip, ReadOptions())
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(UsageError, match=r"empty\.csv is empty"):
        read_table(empty, ReadOptions())
    with pytest.raises(UsageError, match="no such file"):
        read_table(tmp_path / "missing.csv", ReadOptions())


def test_an_unclosed_quote_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    rows = ["Tag,Description", 'A-1,"Balance', *(f"A-{n},Thing" for n in range(2, 80))]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(UsageError) as error:
        read_table(path, ReadOptions())
    assert str(error.value).startswith('quote.csv line 2: a quote (") opens a value')


def test_size_and_row_caps_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as rows:
        read_table(DATA / "register-duplicates.csv", ReadOptions(max_rows=3))
    assert "has more than 3 rows; an import takes at most 3 — split the file" in str(rows.value)
    with pytest.raises(UsageError) as size:
        read_table(DATA / "register-bad-values.csv", ReadOptions(max_bytes=100))
    assert "an import takes at most 0 MiB — split the file" in str(size.value)
    with pytest.raises(UsageError, match="sheet 'Register' has more than 2 rows"):
        read_table(DATA / "register-dates.xlsx", ReadOptions(max_rows=2))


def test_xlsx_real_date_cells_numbers_and_numbers_stored_as_text() -> None:
    table = read_table(DATA / "register-dates.xlsx", ReadOptions())
    assert (table.format, table.sheet, table.sheets) == ("xlsx", "Register", ("Register", "Notes"))
    assert [r.line for r in table.rows] == [1, 2, 3, 4]
    assert table.rows[1].cells == ("XL-601", "Torque wrench", 100234, "365", date(2026, 5, 4), None)
    # A midnight datetime is a date; text that looks like a date stays text.
    assert table.rows[2].cells[4] == date(2025, 12, 1)
    assert table.rows[2].cells[5] == date(2027, 6, 1)
    assert table.rows[3].cells[3:5] == (" 365 ", "2026-07-15")


def test_xlsx_sheets_by_name_preference_or_first() -> None:
    notes = read_table(DATA / "register-dates.xlsx", ReadOptions(sheet="notes"))
    assert notes.sheet == "Notes"
    preferred = read_table(DATA / "register-dates.xlsx", ReadOptions(preferred_sheets=("Notes",)))
    assert preferred.sheet == "Notes"
    with pytest.raises(UsageError) as error:
        read_table(DATA / "register-dates.xlsx", ReadOptions(sheet="Instruments"))
    assert str(error.value) == (
        "register-dates.xlsx has no sheet 'Instruments'; its sheets are: Register, Notes"
    )


def test_xlsx_title_rows_keep_their_row_numbers() -> None:
    table = read_table(DATA / "register-title-rows.xlsx", ReadOptions())
    assert [r.line for r in table.rows] == [1, 3, 4, 5]
    assert table.rows[0].cells[0] == "Instrument register — Lab 2 (exported 2026-11-20)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1,5;2,5;3\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ('"x;y",b,c\n"1;2",2,3\n', ","),
        ("Register 2026\n\na;b;c\n1;2;3\n4;5;6\n", ";"),
        ("just one column\nvalue\n", ","),
        # Readings with semicolons inside a comma file, and a value spanning two lines.
        ('id,tag,readings,notes\n1,A,1:1:1:1; 2:2:2:2,"x;\ny"\n2,B,3:3:3:3; 4:4:4:4,\n', ","),
    ],
)
def test_sniffing_the_delimiter(text: str, expected: str) -> None:
    assert sniff_delimiter(text) == expected


def test_a_delimiter_can_be_given(tmp_path: Path) -> None:
    path = tmp_path / "pipes.csv"
    path.write_text("Tag;Description|Notes\nA-1;x|y\n", encoding="utf-8")
    assert read_table(path, ReadOptions(delimiter="|")).rows[1].cells == ("A-1;x", "y")
    assert read_table(path, ReadOptions(delimiter="semicolon")).rows[1].cells == ("A-1", "x|y")
    with pytest.raises(UsageError, match="delimiter 'ab': give one character"):
        read_table(path, ReadOptions(delimiter="ab"))


@pytest.mark.parametrize(
    "text",
    ["=SUM(A1)", "+1", "-x", "@cmd", "'=x", "''=x", "'plain", "-0.5", "-40 to 250 °C", "", "ok"],
)
def test_formula_escaping_round_trips(text: str) -> None:
    assert unescape_formula(escape_formula(text)) == text


def test_formula_escaping_protects_excel_but_not_numbers() -> None:
    assert escape_formula("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert escape_formula("-40.0:-39.9:-39.9:0.5:°C") == "'-40.0:-39.9:-39.9:0.5:°C"
    assert escape_formula("-0.5") == "-0.5"
    assert escape_formula("12") == "12"


def test_written_csv_is_utf8_bom_excel_csv_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    rows = [["A-1", 'say "hi", then\nleave', "=1+1", "µm °C"], ["A-2", "", "-3", ""]]
    assert write_csv(path, ["Tag", "Text", "Formula", "Units"], rows) == 2
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfTag,Text,Formula,Units\r\n")
    assert b"'=1+1" in raw
    # Python's csv (like Excel) reads it; our reader also removes the escape again.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle))[1][2] == "'=1+1"
    back = read_table(path, ReadOptions())
    assert [list(r.cells) for r in back.rows[1:]] == rows
    assert not list(tmp_path.glob("*.tmp"))


def test_written_xlsx_has_typed_cells_and_text_never_runs_as_formula(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    row: list[Cell] = ["A-1", date(2026, 1, 2), 21.5, "=SUM(1)", datetime(2026, 1, 2, 3, 4, 5, 6)]
    spec = SheetSpec(
        "Things",
        ["Tag", "When", "Value", "Text", "Moment"],
        iter([row]),
    )
    write_xlsx(path, [spec])
    assert spec.written == 1
    back = read_table(path, ReadOptions())
    assert back.sheet == "Things"
    # The moment is written as text: Excel's float days would lose the microseconds.
    assert back.rows[1].cells == (
        "A-1",
        date(2026, 1, 2),
        21.5,
        "=SUM(1)",
        "2026-01-02 03:04:05.000006",
    )
