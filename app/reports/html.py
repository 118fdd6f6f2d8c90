"""A report as the HTML subset QTextDocument understands (the PDF renderer prints it).

Qt's rich text is HTML 4 with a little CSS: tables with ``thead`` (repeated on every
page), cell padding, colours, ``width`` in percent. Column widths come from the
contents (``app.reports.columns``), measured in the printing font by the renderer.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from app.reports.cells import cell_text
from app.reports.columns import fit_columns
from app.services.report_model import Report, Section, Table

ALERT_PREFIXES = ("VOIDED", "WARNING")
ALERT_CELLS = frozenset({"FAIL", "never calibrated"})

STYLE = """
body { font-size: 9pt; color: #000; }
h1 { font-size: 15pt; font-weight: bold; margin-top: 0; margin-bottom: 2pt; }
h2 { font-size: 11.5pt; font-weight: bold; margin-top: 12pt; margin-bottom: 3pt; }
p { margin-top: 0; margin-bottom: 3pt; }
p.subtitle { font-size: 10.5pt; color: #333; margin-bottom: 6pt; }
p.alert { color: #b00000; font-weight: bold; }
p.signature { margin-top: 3pt; margin-bottom: 2pt; }
th { background-color: #e4e4e4; font-weight: bold; }
td { background-color: #ffffff; }
"""

# The grid is the table's grey background showing between white cells (cellspacing):
# Qt's collapsed borders look the same but lay out several times slower on long tables.
# CSS pixels (1/96 inch): a 0.26 mm rule, 0.8 mm of padding.
GRID_PX = 1
CELL_PADDING_PX = 3
GRID = f'border="0" cellspacing="{GRID_PX}" cellpadding="{CELL_PADDING_PX}" bgcolor="#8c8c8c"'

SAMPLE_ROWS = 2000
# Sizes columns when no font metrics are at hand: a character as the unit of width.
CHARS_PER_LINE = 150

# A table's column shares (adding up to 1), measured in the printing font.
ColumnShares = Callable[[Table], list[float]]


def _esc(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def shares_by_characters(table: Table) -> list[float]:
    """Column shares counting characters (for a preview without a printer)."""
    return fit_columns(
        table, available=CHARS_PER_LINE, text_width=len, header_width=len, per_column=1.5
    ).shares


def numeric_columns(table: Table) -> list[bool]:
    """Columns holding only numbers (right-aligned); a mixed column stays left-aligned."""
    result = []
    for col in range(len(table.columns)):
        values = [r[col] for r in table.rows[:SAMPLE_ROWS] if r[col] is not None]
        result.append(
            bool(values)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        )
    return result


def table_html(table: Table, *, shares: list[float]) -> str:
    """A data table; its font size comes from the style sheet's ``td, th`` rule."""
    numeric = numeric_columns(table)
    head = "".join(
        f'<th width="{100 * w:.2f}%" align="left">{_esc(c)}</th>'
        for c, w in zip(table.columns, shares, strict=True)
    )
    # Qt drops a heading's top margin after a table: the table keeps its own distance.
    parts = [
        f'<table width="100%" {GRID} style="margin-bottom: 8px;">'
        f"<thead><tr>{head}</tr></thead><tbody>"
    ]
    append = parts.append
    for row in table.rows:
        cells = []
        for value, right in zip(row, numeric, strict=True):
            text = _esc(cell_text(value))
            if text in ALERT_CELLS:
                text = f'<span style="color: #b00000; font-weight: bold;">{text}</span>'
            cells.append(f'<td align="right">{text}</td>' if right else f"<td>{text}</td>")
        append("<tr>" + "".join(cells) + "</tr>")
    append("</tbody></table>")
    return "".join(parts)


def _section_html(section: Section, *, shares: ColumnShares) -> str:
    voided = "VOIDED" in section.heading
    parts = [
        f'<h2 style="color: #b00000;">{_esc(section.heading)}</h2>'
        if voided
        else f"<h2>{_esc(section.heading)}</h2>"
    ]
    for text in section.paragraphs:
        alert = text.startswith(ALERT_PREFIXES)
        parts.append(f'<p class="alert">{_esc(text)}</p>' if alert else f"<p>{_esc(text)}</p>")
    # An empty table prints as nothing: the section's text says there is none.
    if section.table is not None and section.table.rows:
        table = section.table
        parts.append(table_html(table, shares=shares(table)))
    for line in section.signatures:
        css = "signature alert" if "WARNING" in line else "signature"
        parts.append(f'<p class="{css}"><b>Signature:</b> {_esc(line)}</p>')
    return "".join(parts)


# The name the renderer gives the logo's image in the document's resources.
LOGO_URL = "caltrack-logo:0"


def report_html(
    report: Report,
    *,
    table_font_pt: float = 8.0,
    shares: ColumnShares = shares_by_characters,
    logo_height: float = 0,
) -> str:
    """The whole report body; the page header and footer are painted by the renderer.

    ``logo_height``: the logo's height in the document's pixels; 0 leaves it out (the
    renderer adds the image as the resource ``LOGO_URL`` before laying out).
    """
    ident = "".join(
        f"<tr><td><b>{_esc(k)}</b>&nbsp;&nbsp;&nbsp;</td><td>{_esc(v)}</td></tr>"
        for k, v in report.identification
    )
    logo = (
        f'<p><img src="{LOGO_URL}" height="{logo_height:.0f}"></p>'
        if report.logo and logo_height > 0
        else ""
    )
    banner = f'<p class="alert">{_esc(report.banner)}</p>' if report.banner else ""
    body = [
        logo,
        f"<h1>{_esc(report.title)}</h1>",
        banner,
        f'<p class="subtitle">{_esc(report.subtitle)}</p>' if report.subtitle else "",
        f'<table class="ident" cellspacing="0" cellpadding="1">{ident}</table>',
        *(_section_html(s, shares=shares) for s in report.sections),
    ]
    # A font size on a table does not reach its cells in Qt: the rule names the cells.
    style = STYLE + f"td, th {{ font-size: {table_font_pt}pt; }}\n"
    return f"<html><head><style>{style}</style></head><body>" + "".join(body) + "</body></html>"
