"""Instrument labels: asset tag, description, last and next calibration, a QR code.

``paint_labels`` paints on any QPagedPaintDevice (the GUI passes a QPrinter; the CLI a
QPdfWriter through ``labels_pdf``): one page per label on label printers (Dymo,
Brother, thermal rolls), or A4 sheets of die-cut labels (Avery L7160, 3 × 7).

The QR code (segno's matrix, with its 4-module quiet zone) is drawn as filled
rectangles of a whole number of device pixels, so every module has the same size on
a 300 dpi label printer too. Text is sized from the label's height and must fit:
what does not fit is left out in a fixed order (description, then the last
calibration, then the due date) and the rest is shrunk or elided, never overflowing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import segno
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
)

from app.errors import UsageError
from app.reports.qt_app import ensure_gui_app
from app.services.report_model import LabelData

QUIET_ZONE_MODULES = 4  # what the QR standard asks around the symbol
MIN_TEXT_PT = 5.0  # smaller is not readable on a thermal label
FONT_FAMILY = "DejaVu Sans"
PDF_DPI = 1200


@dataclass(frozen=True)
class SheetLayout:
    """Where the labels sit on a sheet of paper (millimetres from the top left)."""

    page_width_mm: float
    page_height_mm: float
    columns: int
    rows: int
    left_mm: float
    top_mm: float
    pitch_x_mm: float  # from one label's left edge to the next one's
    pitch_y_mm: float

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


@dataclass(frozen=True)
class LabelSize:
    """A label stock: its size, and the sheet it comes on (None: one label per page)."""

    key: str
    name: str
    width_mm: float
    height_mm: float
    sheet: SheetLayout | None = None

    @property
    def page_size_mm(self) -> tuple[float, float]:
        if self.sheet is not None:
            return self.sheet.page_width_mm, self.sheet.page_height_mm
        return self.width_mm, self.height_mm

    @property
    def per_page(self) -> int:
        return self.sheet.per_page if self.sheet is not None else 1

    def pages_for(self, count: int, skip: int = 0) -> int:
        return math.ceil((count + skip) / self.per_page) if count else 0


LABEL_SIZES: dict[str, LabelSize] = {
    s.key: s
    for s in (
        LabelSize("dymo-99012", "Dymo 99012 large address label", 89.0, 36.0),
        LabelSize("dk-11204", "Brother DK-11204 multi-purpose label (tag and QR only)", 54.0, 17.0),
        LabelSize("62x29", "Brother DK-11209 / any 62 × 29 mm label", 62.0, 29.0),
        LabelSize("50x25", "50 × 25 mm thermal label (Zebra, Dymo 11355 class)", 50.0, 25.0),
        LabelSize(
            "avery-l7160",
            "Avery L7160 A4 sheet, 21 labels (3 × 7)",
            63.5,
            38.1,
            SheetLayout(210.0, 297.0, 3, 7, 7.2, 15.15, 66.0, 38.1),
        ),
    )
}


def label_size(key: str) -> LabelSize:
    """The label size named ``key`` (case-insensitive), or a UsageError listing them."""
    try:
        return LABEL_SIZES[key.strip().lower()]
    except KeyError:
        raise UsageError(
            f"unknown label size {key!r}; choose one of {', '.join(LABEL_SIZES)} "
            "(`labels --list-sizes` describes them)"
        ) from None


def describe_sizes() -> list[tuple[str, str]]:
    """(key, description with dimensions) of every label size, for --list-sizes."""
    result = []
    for s in LABEL_SIZES.values():
        dims = f"{s.width_mm:g} × {s.height_mm:g} mm"
        where = (
            f", {s.sheet.per_page} per A4 page" if s.sheet is not None else ", one label per page"
        )
        result.append((s.key, f"{s.name} — {dims}{where}"))
    return result


# -- painting ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """One line of label text as it will be drawn."""

    text: str
    point_size: float
    bold: bool
    priority: int  # 0 is never left out; the highest goes first when space runs out
    elide: Qt.TextElideMode = Qt.TextElideMode.ElideRight


def _font(point_size: float, bold: bool) -> QFont:
    font = QFont(FONT_FAMILY)
    font.setPointSizeF(point_size)
    font.setBold(bold)
    font.setFeature(QFont.Tag("liga"), 0)
    return font


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code of ``text`` as rows of dark (True) modules, quiet zone included."""
    code = segno.make(text, error="m", micro=False)
    return [[bool(m) for m in row] for row in code.matrix_iter(border=QUIET_ZONE_MODULES)]


def paint_qr(painter: QPainter, text: str, left: float, top: float, side: float) -> float:
    """Draw the QR code of ``text`` in the square at (left, top), at most ``side`` device
    pixels wide; returns the width used (a whole number of pixels per module)."""
    matrix = qr_matrix(text)
    modules = len(matrix)
    module = max(1, math.floor(side / modules))
    # Centre the symbol in the square it was given.
    x0 = round(left + (side - module * modules) / 2)
    y0 = round(top + (side - module * modules) / 2)
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.WindingFill)
    for r, row in enumerate(matrix):
        c = 0
        while c < modules:
            if not row[c]:
                c += 1
                continue
            start = c
            while c < modules and row[c]:
                c += 1
            # One rectangle per run of dark modules; one path, filled once, so
            # neighbouring modules meet without hairline seams.
            path.addRect(x0 + start * module, y0 + r * module, (c - start) * module, module)
    painter.fillPath(path, QColor("black"))
    return float(module * modules)


class _Fitter:
    """Measures label text on the painter's device."""

    def __init__(self, painter: QPainter, width: float) -> None:
        self._device = painter.device()
        self.width = width

    def metrics(self, point_size: float, bold: bool) -> QFontMetricsF:
        return QFontMetricsF(_font(point_size, bold), self._device)

    def height(self, line: _Line) -> float:
        return self.metrics(line.point_size, line.bold).height()

    def size_to_fit(self, text: str, point_size: float, bold: bool) -> float | None:
        """The largest size up to ``point_size`` at which ``text`` fits the width, or None
        when it does not fit even at the smallest readable size."""
        wide = self.metrics(point_size, bold).horizontalAdvance(text)
        if wide <= self.width:
            return point_size
        smaller = point_size * self.width / wide * 0.98
        if smaller < MIN_TEXT_PT:
            return None
        return smaller

    def split(self, text: str, point_size: float) -> tuple[str, str]:
        """``text`` cut at a word boundary into what fits one line and the rest."""
        metrics = self.metrics(point_size, False)
        words = text.split()
        for n in range(len(words), 0, -1):
            head = " ".join(words[:n])
            if metrics.horizontalAdvance(head) <= self.width:
                return head, " ".join(words[n:])
        return text, ""


REQUIREMENT_WORDS = {
    "verify_before_use": "VERIFY BEFORE USE",
    "not_required": "CALIBRATION NOT REQUIRED",
}


def _text_lines(label: LabelData, fit: _Fitter, tag_pt: float, small_pt: float) -> list[_Line]:
    """The label's lines in display order, sized to the width; dates never elided."""
    tag_size = fit.size_to_fit(label.asset_tag, tag_pt, True)
    lines = [
        _Line(label.asset_tag, tag_size, True, 0)
        if tag_size is not None
        # Even the smallest size is too wide: keep both ends, which tell tags apart.
        else _Line(label.asset_tag, MIN_TEXT_PT, True, 0, Qt.TextElideMode.ElideMiddle)
    ]
    description = " ".join(label.description.split())
    if description:
        first, rest = fit.split(description, small_pt)
        lines.append(_Line(first, small_pt, False, 3))
        if rest:
            lines.append(_Line(rest, small_pt, False, 4))
    last = f"{label.last_calibrated:%Y-%m-%d}" if label.last_calibrated else "never"
    due = f"{label.next_due:%Y-%m-%d}" if label.next_due else "before use"
    dates = [(f"Calibrated {last}", False, 2), (f"Due {due}", True, 1)]
    word = REQUIREMENT_WORDS.get(label.requirement)
    wrapped: list[_Line] = []
    if word is not None:
        # No due date to print: what the user must know instead, kept whole on two lines
        # when one is too narrow (a cut "CALIBRATION NOT…" would mislead).
        dates = [(f"Calibrated {last}", False, 2)] if label.last_calibrated else []
        if fit.size_to_fit(word, small_pt, True) is not None:
            dates.append((word, True, 1))
        else:
            for part in word.split(" ", 1):
                part_pt = fit.size_to_fit(part, small_pt, True) or MIN_TEXT_PT
                wrapped.append(_Line(part, part_pt, True, 1))
    # Both dates in one size, the largest at which each fits; a date that cannot fit
    # is left out rather than cut ("Due 202…" would mislead).
    sizes = [fit.size_to_fit(text, small_pt, bold) for text, bold, _ in dates]
    common = min((s for s in sizes if s is not None), default=None)
    for (text, bold, priority), size in zip(dates, sizes, strict=True):
        if size is not None and common is not None:
            lines.append(_Line(text, common, bold, priority))
    return lines + wrapped


def paint_label(painter: QPainter, label: LabelData, rect: QRectF, dpi: float) -> None:
    """One label in ``rect`` (device pixels, ``dpi`` pixels per inch)."""

    def px(mm: float) -> float:
        return mm * dpi / 25.4

    edge = px(0.5)
    # Square labels would give the code most of the width: it keeps at most 45 %.
    qr_side = min(rect.height() - 2 * edge, rect.width() * 0.45)
    qr_top = rect.top() + (rect.height() - qr_side) / 2
    used = paint_qr(painter, label.asset_tag, rect.left() + edge, qr_top, qr_side)
    pad = min(max(px(1.2), rect.height() * 0.06), px(2.5))
    # The code's quiet zone already separates it from the text.
    text_left = rect.left() + edge + (qr_side + used) / 2 + edge
    text = QRectF(
        text_left, rect.top() + pad, rect.right() - pad - text_left, rect.height() - 2 * pad
    )
    if text.width() <= px(4):
        return  # no room beside the code: the code alone still identifies the instrument

    points_per_px = 72.0 / dpi
    tag_pt = max(min(text.height() * 0.3, px(6)) * points_per_px, MIN_TEXT_PT)
    small_pt = max(tag_pt * 0.62, MIN_TEXT_PT)
    fit = _Fitter(painter, text.width())
    lines = _text_lines(label, fit, tag_pt, small_pt)
    gap = px(0.4)

    def total(chosen: list[_Line]) -> float:
        return sum(fit.height(ln) for ln in chosen) + gap * (len(chosen) - 1)

    while len(lines) > 1 and total(lines) > text.height():
        lines.remove(max(lines[1:], key=lambda ln: ln.priority))
    y = text.top() + max(0.0, (text.height() - total(lines)) / 2)
    painter.setPen(QColor("black"))
    flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextSingleLine
    for line in lines:
        metrics = fit.metrics(line.point_size, line.bold)
        height = min(metrics.height(), text.bottom() - y)
        if height <= 0:
            break
        painter.setFont(_font(line.point_size, line.bold))
        shown = metrics.elidedText(line.text, line.elide, text.width())
        painter.drawText(QRectF(text.left(), y, text.width(), height), flags, shown)
        y += metrics.height() + gap


def page_layout(size: LabelSize) -> QPageLayout:
    """The page a label size prints on: the label itself, or the A4 sheet; no margins."""
    width, height = size.page_size_mm
    if size.sheet is not None:
        page = QPageSize(QPageSize.PageSizeId.A4)
    else:
        page = QPageSize(
            QSizeF(width, height),
            QPageSize.Unit.Millimeter,
            size.name,
            QPageSize.SizeMatchPolicy.ExactMatch,
        )
    # A custom size keeps its width and height as given in portrait orientation.
    return QPageLayout(
        page, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Millimeter
    )


def paint_labels(
    device: QPagedPaintDevice, labels: Sequence[LabelData], size: LabelSize, *, skip: int = 0
) -> int:
    """Paint ``labels`` on ``device`` (its page layout is set here); the pages painted.

    ``skip`` leaves that many positions of the first sheet empty (labels already used).
    """
    if not labels:
        raise UsageError("no labels to print")
    if skip < 0 or (size.sheet is not None and skip >= size.per_page):
        raise UsageError(f"--skip must be between 0 and {size.per_page - 1} for {size.key}")
    if size.sheet is None:
        skip = 0
    device.setPageLayout(page_layout(size))
    dpi = float(device.logicalDpiX())
    layout = device.pageLayout()
    # A printer may keep margins of its own: paint in the paper's coordinates anyway.
    full = layout.fullRectPixels(int(dpi))
    paint = layout.paintRectPixels(int(dpi))
    dx, dy = full.left() - paint.left(), full.top() - paint.top()

    def px(mm: float) -> float:
        return mm * dpi / 25.4

    painter = QPainter()
    if not painter.begin(device):
        raise OSError("cannot start painting the labels")
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        painter.translate(dx, dy)
        page = 0
        for index, label in enumerate(labels):
            position = index + skip
            this_page, slot = divmod(position, size.per_page)
            if this_page != page:
                device.newPage()
                page = this_page
            if size.sheet is None:
                rect = QRectF(0, 0, px(size.width_mm), px(size.height_mm))
            else:
                row, col = divmod(slot, size.sheet.columns)
                rect = QRectF(
                    px(size.sheet.left_mm + col * size.sheet.pitch_x_mm),
                    px(size.sheet.top_mm + row * size.sheet.pitch_y_mm),
                    px(size.width_mm),
                    px(size.height_mm),
                )
            painter.save()
            painter.setClipRect(rect)  # nothing a label paints reaches its neighbour
            paint_label(painter, label, rect, dpi)
            painter.restore()
    finally:
        painter.end()
    return page + 1


def labels_pdf(
    labels: Sequence[LabelData], size: LabelSize, *, skip: int = 0, audit_head: str = ""
) -> bytes:
    """The labels as PDF bytes (the caller writes them atomically).

    A label has no room for the audit head it was made at: the document's title holds it
    (shown by every PDF viewer's document properties).
    """
    ensure_gui_app()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(PDF_DPI)
    made_at = f" — made at audit head {audit_head}" if audit_head else ""
    writer.setTitle(f"CalTrack labels ({size.key}){made_at}")
    writer.setCreator("CalTrack")
    paint_labels(writer, labels, size, skip=skip)
    buffer.close()
    data: QByteArray = buffer.data()
    return bytes(data.data())
