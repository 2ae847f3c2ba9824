"""The PDF report: a real two-page PDF with the facts of the case and the disclaimer."""
from __future__ import annotations

import re
import warnings
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import NamedTuple

import pytest
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import findfont, get_font
from PIL import Image
from skimage import data as samples

from model.explain.grad_cam import grad_cam
from model.explain.lime import LimeSettings, explain_with_lime
from model.explain.views import explanation_views
from model.trust.ood import load_ood
from review.access import READER as READER_ROLE
from review.access import Reader
from review.report import (
    A4_PORTRAIT,
    MARGIN,
    POINTS_PER_INCH,
    REPLACEMENT,
    SUMMARY_FONT_SIZE,
    build_report,
    printable,
    report_file_name,
    report_fonts,
    summary_lines,
    text_width,
    wrap,
)
from review.triage import Assessment, assess_files, interval_text
from tests.conftest import encode

DISCLAIMER = "Decision support only, not a diagnosis."
CREATED = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
READER = Reader(subject="r-1", issuer="https://idp.example", name="Dr Ada Reader", email="ada@example.org", role=READER_ROLE)
WINDOW = "LUNG (centre 1200, width 1500), inverted"


@pytest.fixture(scope="module")
def case(classifier, val_images):
    path = val_images[-1][0]
    [assessment] = assess_files(classifier, [(path.name, path.read_bytes())])
    explanation = explain_with_lime(classifier, assessment.model_input, LimeSettings(num_samples=120))
    cam = grad_cam(classifier.network, assessment.model_input, assessment.label)
    views = explanation_views(assessment.image.pixels, explanation, cam, assessment.label, 5, 0.4)
    return assessment, explanation, views


def test_report_is_a_two_page_pdf_named_after_the_file(case, classifier):
    assessment, explanation, views = case
    pdf = build_report(assessment, explanation, views, classifier.version, DISCLAIMER, READER, WINDOW, CREATED)
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Count 2" in pdf
    assert assessment.name.encode() in pdf and DISCLAIMER.encode() in pdf


def test_summary_states_label_probability_interval_threshold_version_and_date(case, classifier):
    assessment, explanation, views = case
    text = "\n".join(summary_lines(assessment, explanation, views, classifier.version, READER, CREATED, WINDOW))
    assert f"Result: {assessment.label_name}" in text
    assert f"{assessment.probability:.1%}" in text and f"{assessment.threshold:.1%}" in text
    assert classifier.version in text and "2026-01-02 03:04 UTC" in text
    assert "Reviewed by: Dr Ada Reader (ada@example.org)" in text
    assert f"window the reader chose: {WINDOW}." in text
    assert f"{explanation.settings.num_samples} samples" in text
    assert interval_text(assessment.uncertainty) in text
    assert "not available for this model" in text, "the case was scored without the image check"


def test_an_unreliable_image_gets_its_reasons_in_the_report(case, classifier, artifacts_dir):
    _, explanation, views = case
    photo = encode(Image.fromarray(samples.astronaut()), "PNG")
    [assessment] = assess_files(classifier, [("astronaut.png", photo)], load_ood(artifacts_dir))
    lines = summary_lines(assessment, explanation, views, classifier.version, READER, CREATED, WINDOW)
    text = "".join("".join(lines).split())
    assert "(UNRELIABLE)" in text
    assert all("".join(reason.split()) in text for reason in assessment.ood.reasons), "wrapping aside"
    pdf = build_report(assessment, explanation, views, classifier.version, DISCLAIMER, READER, WINDOW, CREATED)
    assert b"/Count 2" in pdf


# Names an upload may carry: mathtext dollars, a markdown link, a name far wider than the page, scripts and emoji
# (U+1D800, Sutton SignWriting, is in none of the report's fonts), path separators and a control character.
DOLLARS = "scan_$1_$2.png"
LINK = "[Open prior study](http://127.0.0.1:9/phish) chest.png"
LONG = "W" * 246 + ".png"
SCRIPTS = "胸部X線 写真 😀 \U0001d800 Ωμέγα.png"
SEPARATORS = "left/right\\..\\scan\t'\"x\".png"
HOSTILE_NAMES = (DOLLARS, LINK, LONG, SCRIPTS, SEPARATORS)
PDF_OBJECT = re.compile(rb"^(\d+) 0 obj\n(.*?)\nendobj$", re.S | re.M)
PDF_STREAM = re.compile(rb"stream\n(.*)\nendstream", re.S)
PDF_TOKEN = re.compile(rb"\((?:\\.|[^\\)])*\)|\[|\]|/[^\s/\[\]()<>]+|[^\s/\[\]()<>]+", re.S)
PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"\n": b""}


class DrawnLine(NamedTuple):
    """One line of text as a PDF viewer gets it: where it starts, its size, its characters."""

    x: float
    size: float
    horizontal: bool
    text: str


def _stream(body: bytes) -> bytes:
    data = PDF_STREAM.search(body)[1]
    return zlib.decompressobj().decompress(data) if b"/FlateDecode" in body.split(b"stream")[0] else data


def _to_unicode(cmap: bytes) -> dict[int, str]:
    """A ToUnicode CMap as matplotlib writes it: bfranges with one target per code."""
    table = {}
    for first, last, targets in re.findall(rb"<([0-9a-f]+)> <([0-9a-f]+)> \[([^\]]*)\]", cmap, re.I):
        codes = range(int(first, 16), int(last, 16) + 1)
        for code, target in zip(codes, re.findall(rb"<([0-9a-f]+)>", targets, re.I), strict=True):
            table[code] = bytes.fromhex(target.decode()).decode("utf-16-be")
    return table


def _literal(token: bytes) -> bytes:
    return re.sub(
        rb"\\([0-7]{1,3}|.)",
        lambda m: bytes([int(m[1], 8)]) if m[1][:1].isdigit() else PDF_ESCAPES.get(m[1], m[1]),
        token[1:-1], flags=re.S,
    )


def pdf_pages(pdf: bytes) -> list[list[DrawnLine]]:
    """The text of a matplotlib PDF (embedded TrueType, two-byte codes), page by page and line by line.

    Read through the fonts' ToUnicode maps as a viewer's search and copy do; a few lines here spare the
    project a PDF library that only the tests would use.
    """
    objects = {int(number): body for number, body in PDF_OBJECT.findall(pdf)}
    font_dict = objects[int(re.search(rb"/Font (\d+) 0 R", pdf)[1])]
    fonts = {
        name: _to_unicode(_stream(objects[int(re.search(rb"/ToUnicode (\d+) 0 R", objects[int(ref)])[1])]))
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", font_dict)
    }
    kids = re.findall(rb"(\d+) 0 R", re.search(rb"/Type /Pages /Kids \[([^\]]*)\]", pdf)[1])
    contents = [int(re.search(rb"/Contents (\d+) 0 R", objects[int(kid)])[1]) for kid in kids]
    return [_drawn_lines(_stream(objects[number]), fonts) for number in contents]


def _drawn_lines(content: bytes, fonts: dict[bytes, dict[int, str]]) -> list[DrawnLine]:
    """The operators matplotlib draws a line of text with: q, cm (where), BT, Tf (font), TJ (glyphs), ET."""
    lines, operands, array, matrix, font, size, text = [], [], None, [], {}, 0.0, ""
    for token in PDF_TOKEN.findall(content):
        if token == b"[":
            array = []
        elif token == b"]":
            operands.append(array)
            array = None
        elif token.startswith((b"(", b"/")) or re.fullmatch(rb"[-+.\d]+", token):
            (operands if array is None else array).append(token)
        else:
            if token == b"cm":
                matrix = [float(value) for value in operands]
            elif token == b"Tf":
                font, size = fonts[operands[0][1:]], float(operands[1])
            elif token in (b"TJ", b"Tj"):
                strings = [_literal(s) for s in (operands[0] if token == b"TJ" else operands) if s.startswith(b"(")]
                codes = b"".join(strings)
                text += "".join(font[int.from_bytes(codes[i:i + 2])] for i in range(0, len(codes), 2))
            elif token == b"ET":
                lines.append(DrawnLine(matrix[4], size, abs(matrix[1]) < 1e-9, text))
                text = ""
            operands = []
    return lines


@pytest.fixture(scope="module")
def hostile(classifier, val_images) -> dict[str, Assessment]:
    """The case's X-ray uploaded under every hostile name."""
    data = val_images[-1][0].read_bytes()
    return {a.name: a for a in assess_files(classifier, [(name, data) for name in HOSTILE_NAMES])}


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["dollars", "link", "long", "scripts", "separators"])
def test_a_hostile_name_is_printed_as_written_and_within_the_page(name, hostile, case, classifier):
    _, explanation, views = case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdf = build_report(hostile[name], explanation, views, classifier.version, DISCLAIMER, READER, WINDOW, CREATED)
    assert pdf.startswith(b"%PDF") and b"/Count 2" in pdf
    assert not [w for w in caught if "missing from font" in str(w.message)], "no character prints as an empty box"
    assert b"/URI" not in pdf, "a markdown link stays text"
    pages = pdf_pages(pdf)
    summary = "".join("".join(line.text for line in pages[0]).split())
    assert "".join(f"File: {printable(name)}".split()) in summary, "wrapping aside, every character as written"
    right_edge = (1 - MARGIN) * A4_PORTRAIT[0] * POINTS_PER_INCH
    for line in (line for page in pages for line in page if line.horizontal):
        assert line.x + text_width(line.text, line.size) <= right_edge + 0.01, line.text


def test_characters_no_report_font_has_print_as_a_visible_replacement():
    assert printable(SCRIPTS).count(REPLACEMENT) >= 1 and "😀" in printable(SCRIPTS), "DejaVu Sans has this emoji"
    # in no report font; unassigned; control; format (right-to-left override); private use; lone surrogate
    assert printable("\U0001d800 \u0378 \x00\n \u202e \ue000 \ud800") == " ".join(
        [REPLACEMENT, REPLACEMENT, REPLACEMENT * 2, REPLACEMENT, REPLACEMENT, REPLACEMENT]
    )
    assert printable("Ωμέγα scan_$1_$2 [x](y)") == "Ωμέγα scan_$1_$2 [x](y)"
    drawable = {cp for family in report_fonts() for cp in get_font(findfont(family)).get_charmap()}
    assert all((char in printable(SCRIPTS)) == (ord(char) in drawable) for char in "胸部線写真")


@pytest.mark.parametrize(
    "text", [f"File: {LONG}", f"File: {'胸' * 250}", "word " * 60, "i" * 400], ids=["wide", "cjk", "words", "narrow"]
)
def test_wrapped_lines_fit_the_column_as_matplotlib_draws_them(text):
    width, dpi = 300.0, 720
    lines = wrap(printable(text), SUMMARY_FONT_SIZE, width)
    with rc_context({"text.hinting": "none"}):  # Agg unhinted at a high resolution lays text out as a PDF does
        figure = Figure(dpi=dpi)
        renderer = FigureCanvasAgg(figure).get_renderer()
        for line in lines:
            drawn = figure.text(0, 0, line, fontsize=SUMMARY_FONT_SIZE, family=list(report_fonts()), parse_math=False)
            assert drawn.get_window_extent(renderer).width * POINTS_PER_INCH / dpi <= width + 0.5, line
    assert "".join("".join(lines).split()) == "".join(printable(text).split())
    assert len(lines) > 1 and all(lines)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("scan_$1_$2.png", "scan_1_2_xray_report.pdf"),
        ("chest x-ray.v2.JPG", "chest_x-ray.v2_xray_report.pdf"),
        (SEPARATORS, "left_right_.._scan_x_xray_report.pdf"),
        ("../../etc/passwd", "etc_passwd_xray_report.pdf"),
        ("胸部X線 😀.dcm", "胸部X線_xray_report.pdf"),
        ("cafe\u0301\x00\n.png", "café_xray_report.pdf"),
        (LINK, "Open_prior_study_http_127.0.0.1_9_phish_chest_xray_report.pdf"),
        ("$$$.png", "xray_xray_report.pdf"),
        ("", "xray_xray_report.pdf"),
        ("\udcff.png", "xray_xray_report.pdf"),
    ],
)
def test_the_download_name_keeps_letters_and_digits_and_nothing_else(name, expected):
    assert report_file_name(name) == expected


@pytest.mark.parametrize("name", [LONG, "胸" * 250 + ".png", "\U0001d400" * 250], ids=["latin", "cjk", "astral"])
def test_a_long_download_name_is_capped(name):
    file_name = report_file_name(name)
    stem = file_name.removesuffix("_xray_report.pdf")
    assert 0 < len(stem) <= 80 and len(file_name.encode()) < 255 and stem == stem.strip("._")


def test_notes_quoting_header_values_are_printed_as_plain_text(case, classifier):
    assessment, explanation, views = case
    note = "DICOM window $W$ centred on $C_1$ \\frac{a}{b} applied."
    noted = replace(assessment, image=replace(assessment.image, notes=[note]))
    pdf = build_report(noted, explanation, views, classifier.version, DISCLAIMER, READER, WINDOW, CREATED)
    assert "".join(f"Note: {note}".split()) in "".join("".join(line.text for line in pdf_pages(pdf)[0]).split())
