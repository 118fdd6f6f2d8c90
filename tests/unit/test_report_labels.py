"""Instrument labels: page sizes, pages, what fits, and QR codes that really decode.

The QR check renders the PDF to an image with pdftoppm (poppler-utils) and reads the
codes back with zbarimg (zbar-tools); ./run-tests installs both.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.errors import UsageError
from app.reports.labels import LABEL_SIZES, LabelSize, label_size, labels_pdf, qr_matrix
from app.services.report_model import LabelData

pytestmark = pytest.mark.usefixtures("qapp")  # fonts and QPdfWriter need the Qt application

MM_PER_PT = 25.4 / 72
RENDER_DPI = 300
LONG = LabelData(
    "PRESSURE-GAUGE-000123",
    "Digital pressure gauge with a description far too long for any label at all",
    date(2026, 5, 1),
    date(2027, 5, 1),
)
SHORT = LabelData("TH-7", "Thermometer", None, None)


def tools() -> tuple[str, str]:
    pdftoppm, zbarimg = shutil.which("pdftoppm"), shutil.which("zbarimg")
    if pdftoppm is None or zbarimg is None:
        pytest.skip(
            "needs pdftoppm and zbarimg to check the QR codes: apt-get install poppler-utils "
            "zbar-tools (./run-tests installs them when it may)"
        )
    return pdftoppm, zbarimg


def render(pdf: Path, page: int, *, gray: bool = False) -> Path:
    pdftoppm, _ = tools()
    out = pdf.with_name(f"{pdf.stem}-p{page}")
    kind = "-gray" if gray else "-png"
    pages = ["-f", str(page), "-l", str(page), "-singlefile"]
    subprocess.run(
        [pdftoppm, kind, "-r", str(RENDER_DPI), *pages, str(pdf), str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out.with_suffix(".pgm" if gray else ".png")


def decode(image: Path) -> list[str]:
    _, zbarimg = tools()
    found = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(image)], capture_output=True, text=True, timeout=120
    )
    return sorted(line for line in found.stdout.splitlines() if line)


def pgm(image: Path) -> tuple[int, int, bytes]:
    """Width, height and pixels of a binary PGM (what pdftoppm -gray writes)."""
    data = image.read_bytes()
    magic, width, height, maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P5" and maxval == b"255"
    return int(width), int(height), pixels


def write(tmp_path: Path, key: str, labels: list[LabelData], skip: int = 0) -> Path:
    target = tmp_path / f"{key}.pdf"
    target.write_bytes(labels_pdf(labels, LABEL_SIZES[key], skip=skip))
    return target


@pytest.mark.parametrize("key", [k for k, s in LABEL_SIZES.items() if s.sheet is None])
def test_roll_labels_one_page_each_the_size_of_the_label(tmp_path: Path, key: str) -> None:
    size = LABEL_SIZES[key]
    pdf = write(tmp_path, key, [LONG, SHORT, LONG])
    reader = PdfReader(pdf)
    assert len(reader.pages) == 3
    for page in reader.pages:
        box = page.mediabox
        assert float(box.width) * MM_PER_PT == pytest.approx(size.width_mm, abs=0.5)
        assert float(box.height) * MM_PER_PT == pytest.approx(size.height_mm, abs=0.5)
    assert decode(render(pdf, 1)) == [LONG.asset_tag]
    assert decode(render(pdf, 2)) == [SHORT.asset_tag]


def crop(image: Path, box: tuple[int, int, int, int], name: str) -> Path:
    """A part of a PGM image as a PGM of its own."""
    width, _, pixels = pgm(image)
    x0, y0, x1, y1 = box
    rows = b"".join(pixels[y * width + x0 : y * width + x1] for y in range(y0, y1))
    out = image.with_name(f"{name}.pgm")
    out.write_bytes(b"P5 %d %d 255\n" % (x1 - x0, y1 - y0) + rows)
    return out


def slots(size: LabelSize) -> list[tuple[int, int, int, int]]:
    """Each label's box on a rendered sheet, in pixels, in printing order."""
    sheet = size.sheet
    assert sheet is not None
    dots = RENDER_DPI / 25.4
    boxes = []
    for row in range(sheet.rows):
        for col in range(sheet.columns):
            left = (sheet.left_mm + col * sheet.pitch_x_mm) * dots
            top = (sheet.top_mm + row * sheet.pitch_y_mm) * dots
            boxes.append(
                (
                    round(left),
                    round(top),
                    round(left + size.width_mm * dots),
                    round(top + size.height_mm * dots),
                )
            )
    return boxes


def test_a4_sheet_holds_21_labels_in_order_and_skips_used_ones(tmp_path: Path) -> None:
    size = LABEL_SIZES["avery-l7160"]
    labels = [
        LabelData(f"TAG-{i:03d}", "Balance", date(2026, 1, 1), date(2027, 1, 1)) for i in range(25)
    ]
    pdf = write(tmp_path, "avery-l7160", labels)
    reader = PdfReader(pdf)
    assert len(reader.pages) == 2 == size.pages_for(25)
    box = reader.pages[0].mediabox
    assert (float(box.width) * MM_PER_PT, float(box.height) * MM_PER_PT) == pytest.approx(
        (210, 297), abs=0.5
    )
    # Each position read on its own: the right tag in the right place, row by row.
    first, second = render(pdf, 1, gray=True), render(pdf, 2, gray=True)
    found = [decode(crop(first, b, f"s1-{i}")) for i, b in enumerate(slots(size))]
    assert found == [[f"TAG-{i:03d}"] for i in range(21)]
    found = [decode(crop(second, b, f"s2-{i}")) for i, b in enumerate(slots(size)[:5])]
    assert found == [["TAG-021"], ["TAG-022"], ["TAG-023"], ["TAG-024"], []]

    skipped = write(tmp_path, "avery-l7160", labels[:2], skip=20)
    assert len(PdfReader(skipped).pages) == 2  # position 21 of sheet 1, then sheet 2
    last = slots(size)[20]
    assert decode(crop(render(skipped, 1, gray=True), last, "skip-20")) == ["TAG-000"]
    assert decode(crop(render(skipped, 1, gray=True), slots(size)[0], "skip-0")) == []
    with pytest.raises(UsageError, match="skip"):
        labels_pdf(labels, size, skip=21)


@pytest.mark.parametrize("key", list(LABEL_SIZES))
def test_nothing_reaches_a_label_edge(tmp_path: Path, key: str) -> None:
    """Long tags and descriptions are shrunk or elided: the label's outer 0.3 mm stays
    white (text running over would reach the edge, where the label is cut off)."""
    size = LABEL_SIZES[key]
    width, height, pixels = pgm(render(write(tmp_path, key, [LONG]), 1, gray=True))
    band = round(0.3 / 25.4 * RENDER_DPI)
    dots = RENDER_DPI / 25.4
    if size.sheet is None:
        rects = [(0, 0, width, height)]
    else:
        sheet = size.sheet
        left, top = round(sheet.left_mm * dots), round(sheet.top_mm * dots)
        rects = [
            (left, top, left + round(size.width_mm * dots), top + round(size.height_mm * dots))
        ]
    for x0, y0, x1, y1 in rects:
        for y in range(y0, y1):
            row = pixels[y * width : (y + 1) * width]
            if y < y0 + band or y >= y1 - band:
                assert min(row[x0:x1]) > 200, (key, "top/bottom edge", y)
            else:
                assert min(row[x1 - band : x1]) > 200, (key, "right edge", y)
                assert min(row[x0 : x0 + band]) > 200, (key, "left edge", y)
    assert decode(render(tmp_path / f"{key}.pdf", 1)) == [LONG.asset_tag]


def label_text(pdf: Path) -> str:
    return " ".join(PdfReader(pdf).pages[0].extract_text().split())


def test_small_labels_keep_tag_and_code_and_drop_the_rest(tmp_path: Path) -> None:
    plenty = LabelData("TH-000027", "Digital thermometer", date(2026, 5, 1), date(2027, 5, 1))
    big = label_text(write(tmp_path, "dymo-99012", [plenty]))
    assert "TH-000027" in big and "Digital thermometer" in big
    assert "Calibrated 2026-05-01" in big and "Due 2027-05-01" in big
    small = label_text(write(tmp_path, "dk-11204", [plenty]))
    assert "TH-000027" in small and "Due 2027-05-01" in small
    assert "Digital" not in small  # no room for the description on 17 mm
    long = label_text(write(tmp_path, "dymo-99012", [LONG]))
    assert "…" in long and "at all" not in long  # elided, not overflowing
    never = label_text(write(tmp_path, "62x29", [SHORT]))
    assert "Calibrated never" in never and "Due before use" in never


def test_qr_matrix_has_its_quiet_zone() -> None:
    matrix = qr_matrix("TH-000027")
    size = len(matrix)
    assert all(len(row) == size for row in matrix)
    assert size == 21 + 2 * 4  # version 1 and four light modules on each side
    for i in range(4):
        assert not any(matrix[i]) and not any(matrix[size - 1 - i])
        assert not any(row[i] or row[size - 1 - i] for row in matrix)
    assert matrix[4][4]  # the finder pattern's corner starts right after the zone


def test_label_sizes_by_name() -> None:
    assert label_size(" Dymo-99012 ").width_mm == 89
    with pytest.raises(UsageError, match="dymo-99012"):
        label_size("a4")
    assert LABEL_SIZES["avery-l7160"].per_page == 21


def test_labels_pdf_needs_labels() -> None:
    with pytest.raises(UsageError):
        labels_pdf([], LABEL_SIZES["50x25"])
    assert io.BytesIO(labels_pdf([SHORT], LABEL_SIZES["50x25"])).read(4) == b"%PDF"


def test_non_periodic_labels_print_their_requirement_instead_of_a_due_date(
    tmp_path: Path,
) -> None:
    cnr = LabelData("GB-12", "Gauge block set", None, None, "not_required")
    vbu = LabelData("PSU-3", "Bench supply", date(2026, 5, 1), None, "verify_before_use")
    for key in ("dymo-99012", "62x29", "dk-11204"):
        text = label_text(write(tmp_path, key, [cnr]))
        assert "CALIBRATION NOT REQUIRED" in text, (key, text)
        assert "Due" not in text and "never" not in text
        checked = label_text(write(tmp_path, key, [vbu]))
        assert "VERIFY BEFORE USE" in checked and "Due" not in checked, (key, checked)
    assert "Calibrated 2026-05-01" in label_text(write(tmp_path, "dymo-99012", [vbu]))
