"""Import limits and formula cells: refused early, with the cell or line named (issue 10)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from app.bootstrap import CalTrack
from app.errors import UsageError
from app.services.transfer_model import ImportOptions
from app.storage.tables import MAX_CELL_CHARS, ReadOptions, read_table


def _script_workbook(path: Path, rows: list[list[object]]) -> None:
    """A workbook as a script writes it: formulas stored with no calculated value."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Sheet1"
    for row in rows:
        ws.append(row)
    wb.save(path)


@pytest.mark.parametrize(
    ("row", "cell"),
    [
        (["A-1", "Balance", "=30*6", "note"], "C2"),
        (["A-1", '="Bal"&"ance"', 180, "note"], "B2"),
        (["A-1", "Balance", 180, '=CONCAT("a","b")'], "D2"),
    ],
)
def test_a_formula_without_a_calculated_value_names_the_cell_and_the_way_out(
    tmp_path: Path, row: list[object], cell: str
) -> None:
    path = tmp_path / "script.xlsx"
    _script_workbook(path, [["Tag", "Description", "Interval days", "Notes"], row])
    with pytest.raises(UsageError) as error:
        read_table(path, ReadOptions())
    message = str(error.value)
    assert f"script.xlsx cell Sheet1!{cell} holds a formula" in message
    assert "Excel or LibreOffice" in message and "CSV" in message


def _raw_workbook(path: Path, sheets: list[tuple[str, str, str]], strings: str = "") -> None:
    """A hand-made workbook: (name, state, sheet XML) per sheet, optional shared strings."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    entries = "".join(
        f'<sheet name="{name}" sheetId="{i}" state="{state}" r:id="rId{i}"/>'
        for i, (name, state, _) in enumerate(sheets, start=1)
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{rel}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    if strings:
        rels += f'<Relationship Id="rS" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "http://schemas.openxmlformats.org/package/2006/content-types"
    sml = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sml}.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    if strings:
        overrides += (
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{sml}.sharedStrings+xml"/>'
        )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{ct}"><Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{sml}.sheet.main+xml"/>'
            f"{overrides}</Types>",
        )
        zf.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="r1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        zf.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>{entries}</sheets></workbook>',
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{pkg}">{rels}</Relationships>'
        )
        for i, (_, _, xml) in enumerate(sheets, start=1):
            zf.writestr(f"xl/worksheets/sheet{i}.xml", xml)
        if strings:
            zf.writestr("xl/sharedStrings.xml", strings)


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _sheet_xml(body: str, dimension: str = "A1:B2", tail: str = "</sheetData></worksheet>") -> str:
    return f'<worksheet xmlns="{_MAIN}"><dimension ref="{dimension}"/><sheetData>{body}{tail}'


def _row(number: int, *values: str) -> str:
    cells = "".join(
        f'<c r="{"AB"[i]}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def test_rows_over_the_limit_stop_the_read_at_the_first_row_over(tmp_path: Path) -> None:
    # 3,000,000 rows claimed; the file breaks after row 30. Reading stops at row 11
    # (limit 10), before the damage: a reader going on to the end would find it.
    body = "".join(_row(n, f"A-{n}", "Thing") for n in range(1, 31))
    path = tmp_path / "long.xlsx"
    xml = _sheet_xml(body + '<row r="31"><c r="A31"', "A1:B3000000", tail="")
    _raw_workbook(path, [("Sheet1", "visible", xml)])
    with pytest.raises(UsageError) as error:
        read_table(path, ReadOptions(max_rows=10))
    assert "long.xlsx sheet 'Sheet1' has more than 10 rows" in str(error.value)


def test_an_inline_cell_over_the_limit_is_refused_at_that_cell(tmp_path: Path) -> None:
    huge = "x" * (MAX_CELL_CHARS + 10)
    xml = _sheet_xml(_row(1, "Tag", "Description") + _row(2, "A-1", huge), tail="<broken")
    path = tmp_path / "big.xlsx"
    _raw_workbook(path, [("Sheet1", "visible", xml)])
    with pytest.raises(UsageError) as error:
        read_table(path, ReadOptions())
    assert str(error.value).startswith("big.xlsx cell Sheet1!B2 holds more than 131,072 characters")


def test_a_shared_string_over_the_limit_is_refused_before_openpyxl_reads_it(
    tmp_path: Path,
) -> None:
    # The long string is followed by damage: openpyxl loading the strings would fail
    # on it; stopping at the long string names the cell that uses it instead.
    strings = (
        f'<sst xmlns="{_MAIN}"><si><t>Tag</t></si><si><t>'
        + "y" * (MAX_CELL_CHARS + 1)
        + "</t></si><si><t>broken"
    )
    body = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row>'
    )
    path = tmp_path / "strings.xlsx"
    _raw_workbook(path, [("Sheet1", "visible", _sheet_xml(body))], strings)
    with pytest.raises(UsageError) as error:
        read_table(path, ReadOptions())
    assert str(error.value).startswith("strings.xlsx cell Sheet1!A2 holds more than")


def test_a_hidden_sheet_is_not_read_unless_named(tmp_path: Path) -> None:
    visible = _sheet_xml(_row(1, "Tag", "Description") + _row(2, "V-1", "Visible"))
    hidden = _sheet_xml(_row(1, "Tag", "Description") + _row(2, "H-1", "Hidden"))
    path = tmp_path / "hidden.xlsx"
    _raw_workbook(path, [("Register", "visible", visible), ("Instruments", "hidden", hidden)])
    table = read_table(path, ReadOptions(preferred_sheets=("Instruments",)))
    assert (table.sheet, table.hidden_sheets) == ("Register", ("Instruments",))
    assert table.rows[1].cells[0] == "V-1"
    named = read_table(path, ReadOptions(sheet="instruments"))
    assert named.rows[1].cells[0] == "H-1"


def test_a_csv_cell_over_the_limit_is_called_that_not_an_unclosed_quote(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    long_value = "z" * (MAX_CELL_CHARS + 5)
    path.write_text(f'Tag,Description\nA-1,Thing\nA-2,"{long_value}"\nA-3,x\n', encoding="utf-8")
    with pytest.raises(UsageError) as error:
        read_table(path, ReadOptions())
    assert str(error.value).startswith("long.csv line 3: a value holds more than 131,072")


def test_two_columns_of_the_same_name_are_an_error_naming_both() -> None:
    from app.services.transfer_mapping import build_mapping

    headers = ["Asset tag", "Description", "Serial", "Notes", "serial"]
    _, problems = build_mapping("instruments", headers, given={}, remembered=None)
    assert problems == [
        "two columns are named 'serial' (columns C and E); rename one of them in the file, "
        "then import again"
    ]


def test_a_pipe_or_a_device_is_named_as_such_not_empty(tmp_path: Path) -> None:
    import os

    from app.storage.attachments import AttachmentStore

    fifo = tmp_path / "register.csv"
    os.mkfifo(fifo)
    with pytest.raises(UsageError) as piped:
        read_table(fifo, ReadOptions())
    assert str(piped.value) == (
        f"{fifo} is a named pipe (FIFO), not a file; give the path of a saved CSV or XLSX file"
    )
    with pytest.raises(UsageError, match=r"^/dev/zero is a device, not a file"):
        read_table(Path("/dev/zero"), ReadOptions())
    store = AttachmentStore(tmp_path / "lab.db-attachments")
    with pytest.raises(UsageError, match=r"is a named pipe \(FIFO\), not a regular file"):
        store.ingest(fifo)
    with pytest.raises(UsageError, match=r"^/dev/null is a device, not a regular file"):
        store.ingest(Path("/dev/null"))
    with pytest.raises(UsageError, match=r"is a folder, not a regular file"):
        store.ingest(tmp_path)


def test_the_preview_says_which_hidden_sheets_were_not_read(app: CalTrack, tmp_path: Path) -> None:
    visible = _sheet_xml(_row(1, "Asset tag", "Description") + _row(2, "V-1", "Visible"))
    hidden = _sheet_xml(_row(1, "Asset tag", "Description") + _row(2, "H-1", "Hidden"))
    path = tmp_path / "hidden.xlsx"
    _raw_workbook(path, [("Register", "visible", visible), ("Instruments", "hidden", hidden)])
    preview = app.transfer.preview(path, ImportOptions(kind="instruments"))
    assert preview.sheet == "Register"
    assert [r.asset_tag for r in preview.rows] == ["V-1"]
    assert (
        "read the visible sheet 'Register'; hidden sheet(s) 'Instruments' were not read "
        "(name one with --sheet to read it)"
    ) in preview.warnings
