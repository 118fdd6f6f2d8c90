"""Reports printed through Qt's own printing: QTextDocument laid out on the device.

``paint_report`` prints on any QPagedPaintDevice (the GUI passes a QPrinter);
``render_pdf`` does it on a QPdfWriter. A4 portrait, or landscape when the report asks
(``Report.landscape``) or a table would not fit across a portrait page. The document
is paginated by Qt (a table's header row repeats on every page it spans); each page is
then painted by hand inside fixed margins, with a running header (title, when made)
and a footer (database, who made it, "page X of Y").
"""

from __future__ import annotations

import math

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QIODevice,
    QMarginsF,
    QPointF,
    QRectF,
    QSizeF,
    Qt,
    QUrl,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPaintDevice,
    QPainter,
    QPdfWriter,
    QPen,
    QTextBlock,
    QTextCursor,
    QTextDocument,
    QTextOption,
    QTextTable,
)

from app.reports.columns import ColumnFit, fit_columns
from app.reports.html import CELL_PADDING_PX, GRID_PX, LOGO_URL, ColumnShares, report_html
from app.reports.qt_app import ensure_gui_app
from app.services.report_model import Report, Table

PDF_DPI = 300
MARGIN_MM = 15.0
HEADER_MM = 18.0  # top of page to top of body: the running header sits in here
FOOTER_MM = 16.0  # bottom of page to bottom of body
FONT_FAMILY = "DejaVu Sans"
KEEP_LOOKAHEAD_BLOCKS = 40
# A certificate's logo: at most this high and this wide (it keeps its proportions).
LOGO_MAX_H_MM = 18.0
LOGO_MAX_W_MM = 70.0
BANNER_RED = "#b00000"
CSS_PX_PER_MM = 96 / 25.4


def _font(point_size: float, *, bold: bool = False) -> QFont:
    font = QFont(FONT_FAMILY)
    font.setPointSizeF(point_size)
    font.setBold(bold)
    # No "fi"/"fl" ligatures: text copied or searched in the PDF reads "certificate",
    # not "certiﬁcate" (auditors search PDFs).
    font.setFeature(QFont.Tag("liga"), 0)
    return font


def _keep_until(block: QTextBlock, layout: QAbstractTextDocumentLayout) -> float:
    """Where the content that belongs with a heading ends: its notes and the first two
    rows of its table (or everything up to the next heading)."""
    bottom = layout.blockBoundingRect(block).bottom()
    current = block.next()
    for _ in range(KEEP_LOOKAHEAD_BLOCKS):
        if not current.isValid() or current.blockFormat().headingLevel() in (1, 2):
            break
        table: QTextTable | None = QTextCursor(current).currentTable()
        if table is not None:
            row = min(2, table.rows() - 1)
            for col in range(table.columns()):
                last = table.cellAt(row, col).lastCursorPosition().block()
                bottom = max(bottom, layout.blockBoundingRect(last).bottom())
            break
        bottom = layout.blockBoundingRect(current).bottom()
        current = current.next()
    return bottom


def keep_headings_with_content(doc: QTextDocument, page_height: float) -> None:
    """Start a section on a new page when its heading would be cut off from its content.

    Qt paginates line by line and knows no "keep with next"; this moves a heading whose
    first lines (notes, table header, two rows) would not fit on the rest of the page.
    """
    layout = doc.documentLayout()
    block = doc.begin()
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.headingLevel() == 2 and QTextCursor(block).currentTable() is None:
            top = layout.blockBoundingRect(block).top()
            end = _keep_until(block, layout)
            if int(top // page_height) != int(end // page_height) and end - top < page_height:
                # Down to the next page by a top margin. A page break before it would be
                # counted from the page Qt's layout believes it is on, which for a heading
                # straddling the page end is already the next one: a blank page between.
                next_page = (int(top // page_height) + 1) * page_height
                fmt.setTopMargin(fmt.topMargin() + next_page - top)
                QTextCursor(block).setBlockFormat(fmt)
                # The incremental relayout after a format change leaves later blocks at
                # stale positions (they are then not painted at all): lay it all out anew.
                doc.markContentsDirty(0, doc.characterCount())
        block = block.next()


class _Page:
    """Millimetres in the device's pixels."""

    def __init__(self, dpi: float) -> None:
        self.dpi = dpi

    def px(self, mm: float) -> float:
        return mm * self.dpi / 25.4


class _Measure:
    """Fits table columns in the table font, measured on the printing device."""

    def __init__(self, device: QPaintDevice, page: _Page, point_size: float) -> None:
        self._text = QFontMetricsF(_font(point_size), device)
        self._head = QFontMetricsF(_font(point_size, bold=True), device)
        # Per column: the cell padding both sides and the grid line (CSS pixels are
        # 1/96 inch on any device), and a little air against rounding.
        self._css_px = page.dpi / 96
        self._per_column = (2 * CELL_PADDING_PX + GRID_PX) * self._css_px + page.px(0.4)

    def fit(self, table: Table, width: float) -> ColumnFit:
        return fit_columns(
            table,
            available=width - GRID_PX * self._css_px,
            text_width=self._text.horizontalAdvance,
            header_width=self._head.horizontalAdvance,
            per_column=self._per_column,
        )

    def shares(self, width: float) -> ColumnShares:
        return lambda table: self.fit(table, width).shares


def _body_width(page: _Page, orientation: QPageLayout.Orientation) -> float:
    size = QPageSize(QPageSize.PageSizeId.A4).size(QPageSize.Unit.Millimeter)
    short, long = sorted((size.width(), size.height()))
    paper = short if orientation is QPageLayout.Orientation.Portrait else long
    return page.px(paper - 2 * MARGIN_MM)


def _orientation(report: Report, page: _Page, measure: _Measure) -> QPageLayout.Orientation:
    """Landscape when the report asks for it or a table does not fit a portrait page."""
    portrait = QPageLayout.Orientation.Portrait
    if report.landscape:
        return QPageLayout.Orientation.Landscape
    width = _body_width(page, portrait)
    for section in report.sections:
        if section.table is not None and not measure.fit(section.table, width).fits:
            return QPageLayout.Orientation.Landscape
    return portrait


def paint_report(device: QPagedPaintDevice, report: Report) -> int:
    """Print ``report`` on ``device`` (its page layout is set here); the pages printed."""
    ensure_gui_app()
    page = _Page(float(device.logicalDpiY()))
    table_pt = 7.5 if report.landscape else 8.0
    measure = _Measure(device, page, table_pt)
    # No margins of our own on the device: this module places everything itself, from
    # the paper's corner (a printer that keeps margins is allowed for below).
    device.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            _orientation(report, page, measure),
            QMarginsF(0, 0, 0, 0),
            QPageLayout.Unit.Millimeter,
        )
    )
    layout = device.pageLayout()
    paper = layout.fullRectPixels(round(page.dpi))
    printable = layout.paintRectPixels(round(page.dpi))
    # Whole pixels: Qt lays text out in 1/64 pixel steps, and a page height between
    # two steps would let the first line of a page count as the last of the one before
    # (printed there too, clipped, but found by a PDF search).
    body = QRectF(
        round(page.px(MARGIN_MM)),
        round(page.px(HEADER_MM)),
        math.floor(paper.width() - 2 * page.px(MARGIN_MM)),
        math.floor(paper.height() - page.px(HEADER_MM) - page.px(FOOTER_MM)),
    )

    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(device)
    doc.setDocumentMargin(0)
    doc.setDefaultFont(_font(9))
    option = QTextOption()
    # Long codes, paths and JSON without spaces wrap inside their cell instead of
    # widening the table past the page edge.
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    doc.setDefaultTextOption(option)
    # The page size first: set after the text, it would lay the whole document out twice.
    doc.setPageSize(QSizeF(body.width(), body.height()))
    logo_height = _add_logo(doc, report.logo, page)
    doc.setHtml(
        report_html(
            report,
            table_font_pt=table_pt,
            shares=measure.shares(body.width()),
            logo_height=logo_height,
        )
    )
    keep_headings_with_content(doc, body.height())
    pages = max(1, doc.pageCount())

    painter = QPainter()
    if not painter.begin(device):
        raise OSError("cannot start printing the report")
    try:
        painter.translate(paper.left() - printable.left(), paper.top() - printable.top())
        for index in range(pages):
            if index:
                device.newPage()
            _paint_frame(painter, page, report, paper.height(), body, index + 1, pages)
            painter.save()
            painter.translate(body.left(), body.top() - index * body.height())
            # A hair inside the page: a line touching its edge belongs to the neighbour.
            clip = QRectF(0, index * body.height() + 0.25, body.width(), body.height() - 0.5)
            doc.drawContents(painter, clip)
            painter.restore()
            if report.banner:
                # Over the content, pale: a table's white cells would hide it beneath.
                _paint_watermark(painter, page, report.banner, body)
    finally:
        painter.end()
    return pages


def _add_logo(doc: QTextDocument, data: bytes, page: _Page) -> float:
    """Put the logo in the document's resources; its printed height (0: none, or bytes
    Qt cannot decode, which the settings refuse to store in the first place)."""
    if not data:
        return 0
    image = QImage()
    if not image.loadFromData(data) or image.isNull():
        return 0
    # In CSS pixels (1/96 inch): Qt scales an image's size to the printing device.
    height = LOGO_MAX_H_MM * CSS_PX_PER_MM
    if image.width() * height / image.height() > LOGO_MAX_W_MM * CSS_PX_PER_MM:
        height = LOGO_MAX_W_MM * CSS_PX_PER_MM * image.height() / image.width()
    doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(LOGO_URL), image)
    return height


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes (the caller writes them atomically)."""
    ensure_gui_app()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(PDF_DPI)
    writer.setTitle(report.title)
    writer.setCreator("CalTrack")
    paint_report(writer, report)
    buffer.close()
    data: QByteArray = buffer.data()
    return bytes(data.data())


def _paint_frame(
    painter: QPainter,
    page: _Page,
    report: Report,
    page_height: float,
    body: QRectF,
    number: int,
    pages: int,
) -> None:
    """Running header (title left, when and by whom right) and footer of one page."""
    left, right, width = body.left(), body.right(), body.width()
    grey = QColor("#555555")
    line = QPen(grey)
    line.setWidthF(page.px(0.25))
    text_h = page.px(5)
    align_bottom = Qt.AlignmentFlag.AlignBottom
    align_top = Qt.AlignmentFlag.AlignTop

    header_base = page.px(HEADER_MM - 5)
    painter.setPen(QPen(grey))
    painter.setFont(_font(8))
    metrics = QFontMetricsF(painter.font(), painter.device())
    stamp = f"CalTrack · {report.generated_line.removeprefix('Generated ')}"
    stamp_w = min(metrics.horizontalAdvance(stamp) + page.px(1), width * 0.55)
    painter.drawText(
        QRectF(right - stamp_w, header_base - text_h, stamp_w, text_h),
        Qt.AlignmentFlag.AlignRight | align_bottom,
        metrics.elidedText(stamp, Qt.TextElideMode.ElideMiddle, stamp_w),
    )
    painter.setFont(_font(8, bold=True))
    metrics = QFontMetricsF(painter.font(), painter.device())
    title_w = width - stamp_w - page.px(4)
    painter.drawText(
        QRectF(left, header_base - text_h, title_w, text_h),
        Qt.AlignmentFlag.AlignLeft | align_bottom,
        metrics.elidedText(report.title, Qt.TextElideMode.ElideRight, title_w),
    )
    painter.setPen(line)
    painter.drawLine(
        QPointF(left, header_base + page.px(1)), QPointF(right, header_base + page.px(1))
    )

    if report.banner:
        _paint_banner(painter, page, report.banner, body, header_base)

    footer_top = page_height - page.px(FOOTER_MM) + page.px(4)
    painter.drawLine(QPointF(left, footer_top), QPointF(right, footer_top))
    painter.setPen(QPen(grey))
    painter.setFont(_font(7.5))
    metrics = QFontMetricsF(painter.font(), painter.device())
    page_text = f"page {number} of {pages}"
    page_w = metrics.horizontalAdvance(page_text) + page.px(1)
    source_w = width - page_w - page.px(4)
    painter.drawText(
        QRectF(left, footer_top + page.px(1), source_w, text_h),
        Qt.AlignmentFlag.AlignLeft | align_top,
        metrics.elidedText(
            f"{report.database} · made by {report.generated_by}",
            Qt.TextElideMode.ElideMiddle,
            source_w,
        ),
    )
    painter.drawText(
        QRectF(right - page_w, footer_top + page.px(1), page_w, text_h),
        Qt.AlignmentFlag.AlignRight | align_top,
        page_text,
    )


def _paint_banner(
    painter: QPainter, page: _Page, banner: str, body: QRectF, header_base: float
) -> None:
    """A record that does not count, on every page: its status in red under the running
    header."""
    painter.save()
    painter.setPen(QPen(QColor(BANNER_RED)))
    painter.setFont(_font(9, bold=True))
    painter.drawText(
        QRectF(body.left(), header_base + page.px(1.5), body.width(), page.px(4)),
        Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
        banner,
    )
    painter.restore()


def _paint_watermark(painter: QPainter, page: _Page, banner: str, body: QRectF) -> None:
    """The status's first words ("VOID", "NOT SIGNED") large and pale across the page."""
    painter.save()
    pale = QColor(BANNER_RED)
    pale.setAlphaF(0.16)
    painter.setPen(QPen(pale))
    painter.setFont(_font(64, bold=True))
    painter.translate(body.center())
    painter.rotate(-35)
    painter.drawText(
        QRectF(-body.width(), -page.px(20), 2 * body.width(), page.px(40)),
        Qt.AlignmentFlag.AlignCenter,
        banner.split(" — ")[0].split(" by ")[0],
    )
    painter.restore()
