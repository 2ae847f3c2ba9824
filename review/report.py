"""The PDF a clinician can file with the case: the call, how sure, and why.

Drawn with matplotlib's PdfPages so the report needs no extra dependency and
shows exactly the pictures the page shows. File names, DICOM header values and
notes are whatever the upload carried, so every string is drawn as plain text
in fonts that have its glyphs, and wrapped by its measured width.
"""
from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from matplotlib import rc_context
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, fontManager, get_font
from matplotlib.textpath import text_to_path

from model.dataset import CLASS_NAMES
from model.explain.figures import draw_grad_cam_heatmap, draw_image, draw_lime_heatmap
from model.explain.grad_cam import GRAD_CAM_CAVEAT
from model.explain.lime import LimeExplanation
from model.explain.views import HOW_TO_READ, ExplanationViews, pros_cons_caption
from model.imaging.formats import IMAGE_SUFFIXES
from review.access import Reader
from review.triage import (
    NEAR_THRESHOLD_CAUTION,
    OOD_WARNING,
    Assessment,
    certainty_sentence,
    interval_text,
    is_near_threshold,
    uncertainty_caution,
)

A4_PORTRAIT = (8.27, 11.69)
POINTS_PER_INCH = 72
MARGIN = 0.06  # of the page width, left and right of every text
TITLE = "Chest X-ray review: model result and explanation"
SUMMARY_FONT_SIZE = 9.5
SUMMARY_LINE_SPACING = 1.5
SUMMARY_TOP = 0.915
IMAGE_TOP = 0.55
FOOTER_FONT_SIZE = 8
HOW_TO_READ_LEFT = 0.53
HOW_TO_READ_FONT_SIZE = 8.5
TRUETYPE = 42  # embedded TrueType keeps the report's text searchable and copyable
# Ships inside matplotlib, so every machine has it; it covers Latin, Greek, Cyrillic and many symbols and emoji.
BASE_FONT = "DejaVu Sans"
# Used, glyph by glyph, where this machine has them installed: CJK and further symbols.
FALLBACK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans CJK KR", "Source Han Sans SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "Noto Sans Symbols2", "Noto Emoji",
)
REPLACEMENT = "\ufffd"  # what a character no report font can draw prints as, so that it never silently vanishes
DOWNLOAD_SUFFIX = "_xray_report.pdf"
DOWNLOAD_STEM_CHARS = 80
DOWNLOAD_STEM_BYTES = 160  # with the suffix, well under the 255 bytes most file systems allow a name
DEFAULT_DOWNLOAD_STEM = "xray"


@cache
def report_fonts() -> tuple[str, ...]:
    """The report's font families, in fallback order: DejaVu Sans, then whichever fallbacks are installed."""
    installed = {entry.name for entry in fontManager.ttflist}
    return (BASE_FONT, *(family for family in FALLBACK_FONTS if family in installed))


@cache
def _drawable() -> frozenset[int]:
    """Code points some report font has a glyph for; any other would print as an empty box."""
    points: set[int] = set()
    for family in report_fonts():
        points.update(get_font(findfont(FontProperties(family=family), fallback_to_default=False)).get_charmap())
    return frozenset(points)


def printable(text: str) -> str:
    """The text with every control, format, private, unassigned or undrawable character shown as U+FFFD."""
    drawable = _drawable()
    return "".join(
        char if ord(char) in drawable and not unicodedata.category(char).startswith("C") else REPLACEMENT
        for char in text
    )


def text_width(text: str, font_size: float) -> float:
    """Width in points of one line in the report's fonts, measured as the PDF backend lays it out."""
    prop = FontProperties(family=list(report_fonts()), size=font_size)
    return text_to_path.get_text_width_height_descent(text, prop, ismath=False)[0]


def column_width(left: float) -> float:
    """Points from `left` (a fraction of the page width) to the right margin."""
    return (1 - MARGIN - left) * A4_PORTRAIT[0] * POINTS_PER_INCH


def _longest_fitting(head: str, word: str, fits: Callable[[str], bool]) -> int:
    """How many leading characters of `word` fit after `head`, by bisection: widths grow with every character."""
    low, high = 0, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(head + word[:middle]) else (low, middle - 1)
    return low


def wrap(text: str, font_size: float, width: float) -> list[str]:
    """Lines no wider than `width` points: broken at spaces, a word wider than a line cut where it must be.

    Measured rather than counted, since a line of W or of CJK characters is twice as wide as one of i.
    """
    def fits(line: str) -> bool:
        return text_width(line, font_size) <= width

    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        head = f"{line} " if line else ""
        if not fits(head + word) and fits(word):
            lines.append(line)
            head = ""
        while not fits(head + word):  # wider than a line: fill the current one with its start, as textwrap does
            cut = _longest_fitting(head, word, fits) or (0 if head else 1)
            lines.append(head + word[:cut] if cut else line)
            word, head = word[cut:], ""
        line = head + word
    lines.append(line)
    return lines


def report_file_name(name: str) -> str:
    """A download name every browser and file system keeps whole, whatever the upload was called.

    Letters, digits, marks, '-', '_' and '.' stay (any script); everything else, path separators and control
    characters included, becomes '_'. The image suffix goes, the stem is capped and never empty.
    """
    name = unicodedata.normalize("NFC", name)
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    kept = "".join(char if unicodedata.category(char)[0] in "LNM" or char in "-_." else "_" for char in name)
    stem = re.sub("_+", "_", kept).strip("._")[:DOWNLOAD_STEM_CHARS]
    stem = stem.encode()[:DOWNLOAD_STEM_BYTES].decode(errors="ignore").rstrip("._")
    return f"{stem or DEFAULT_DOWNLOAD_STEM}{DOWNLOAD_SUFFIX}"


def summary_lines(
    assessment: Assessment, explanation: LimeExplanation, views: ExplanationViews, model_version: str,
    reader: Reader, created: datetime, window: str,
) -> list[str]:
    """The facts of the first page, one per line, before wrapping."""
    settings = explanation.settings
    spread = assessment.uncertainty
    lines = [
        f"File: {assessment.name}",
        f"Date: {created:%Y-%m-%d %H:%M} UTC",
        f"Reviewed by: {reader.signature}",
        f"Model version: {model_version}",
        "",
        f"Result: {assessment.label_name}" + (" (UNRELIABLE)" if assessment.unreliable else ""),
        f"Calibrated probability of pneumonia: {assessment.probability:.1%} ({interval_text(spread)})",
        f"Operating threshold: {assessment.threshold:.1%} (PNEUMONIA when the probability reaches it)",
        certainty_sentence(assessment.probability, assessment.threshold),
    ]
    if assessment.ood is not None and assessment.ood.flagged:
        lines.append(f"UNRELIABLE: {OOD_WARNING}")
        lines += [f"- {reason}" for reason in assessment.ood.reasons]
    elif assessment.ood is None:
        lines.append("Check for images unlike the training X-rays: not available for this model.")
    metadata = assessment.image.metadata
    if metadata is not None:
        described = ", ".join(f"{name} {value}" for name, value in metadata.shown_fields().items() if value)
        lines.append(f"DICOM header: {described or 'no study fields'} (patient identifiers not printed).")
    for flag in assessment.view_flags:
        lines.append(f"{'UNRELIABLE' if flag.unreliable else 'CAUTION'}: {flag.reason}")
    if spread.straddles_threshold:
        lines.append(uncertainty_caution(spread))
    if is_near_threshold(assessment.probability, assessment.threshold):
        lines.append(f"CAUTION: {NEAR_THRESHOLD_CAUTION}")
    lines += [f"Note: {note}" for note in assessment.image.notes]
    lines.append(f"X-ray shown with the window the reader chose: {window}. The model's input is unchanged by it.")
    lines += [
        "",
        f"LIME: {settings.algorithm} segmentation ({explanation.region_count} regions), "
        f"{settings.num_samples} samples, seed {settings.seed}; local fit of the calibrated log-odds, "
        f"R^2 {explanation.score:.2f}.",
        explanation.support_sentence(views.label, views.regions_shown),
        f"Agreement of LIME and Grad-CAM: {views.agreement.sentence()}",
    ]
    return lines


def _paragraphs(lines: list[str], font_size: float, left: float) -> str:
    """Lines made printable and wrapped to the column that starts at `left`, as one text to draw."""
    return "\n".join(
        wrapped for line in lines for wrapped in wrap(printable(line), font_size, column_width(left))
    )


def _footer(figure: Figure, disclaimer: str, page: int) -> None:
    figure.text(MARGIN, 0.03, _paragraphs([disclaimer], FOOTER_FONT_SIZE, MARGIN), fontsize=FOOTER_FONT_SIZE,
                color="firebrick", va="bottom")
    figure.text(1 - MARGIN, 0.015, f"page {page}", fontsize=7, ha="right", va="bottom", color="gray")


def _summary_page(lines: list[str], views: ExplanationViews, disclaimer: str) -> Figure:
    """The facts on top; the X-ray below them, smaller when many warnings need the room."""
    page = Figure(figsize=A4_PORTRAIT)
    page.text(MARGIN, 0.95, TITLE, fontsize=15, weight="bold")
    text = _paragraphs(lines, SUMMARY_FONT_SIZE, MARGIN)
    page.text(MARGIN, SUMMARY_TOP, text, fontsize=SUMMARY_FONT_SIZE, va="top", linespacing=SUMMARY_LINE_SPACING)
    line_height = SUMMARY_FONT_SIZE * SUMMARY_LINE_SPACING / POINTS_PER_INCH / A4_PORTRAIT[1]
    lines_drawn = text.count("\n") + 1
    image_top = min(IMAGE_TOP, SUMMARY_TOP - (lines_drawn + 2) * line_height)  # two lines' room for its title
    draw_image(page.add_axes((0.12, 0.1, 0.76, image_top - 0.1)), views.xray, "Uploaded X-ray")
    _footer(page, disclaimer, 1)
    return page


def _figures_page(views: ExplanationViews, disclaimer: str) -> Figure:
    page = Figure(figsize=A4_PORTRAIT)
    grid = page.add_gridspec(3, 2, left=0.05, right=0.86, top=0.95, bottom=0.12, hspace=0.25, wspace=0.3)
    count, name = views.regions_shown, CLASS_NAMES[views.label]
    draw_image(page.add_subplot(grid[0, 0]), views.boundaries, "LIME regions")
    draw_image(page.add_subplot(grid[0, 1]), views.top_regions, f"Top {count} regions supporting {name}")
    draw_image(page.add_subplot(grid[1, 0]), views.pros_cons, pros_cons_caption(count, name))
    draw_lime_heatmap(page, page.add_subplot(grid[1, 1]), views.lime_heatmap, views.lime_norm, views.label)
    draw_grad_cam_heatmap(page, page.add_subplot(grid[2, 0]), views.grad_cam_heatmap, views.grad_cam_norm, views.label)
    how_to_read = _paragraphs(
        [f"How to read these pictures. {HOW_TO_READ} {GRAD_CAM_CAVEAT}"], HOW_TO_READ_FONT_SIZE, HOW_TO_READ_LEFT
    )
    page.text(HOW_TO_READ_LEFT, 0.32, how_to_read, fontsize=HOW_TO_READ_FONT_SIZE, va="top", linespacing=1.4)
    _footer(page, disclaimer, 2)
    return page


def build_report(
    assessment: Assessment,
    explanation: LimeExplanation,
    views: ExplanationViews,
    model_version: str,
    disclaimer: str,
    reader: Reader,
    window: str,
    created: datetime | None = None,
) -> bytes:
    """A two-page A4 PDF: the summary with the X-ray, then the explanation figures, in the reader's window.

    Every text is plain: with mathtext a file name holding two '$' would fail the whole report.
    """
    created = created or datetime.now(UTC)
    lines = summary_lines(assessment, explanation, views, model_version, reader, created, window)
    metadata = {"Title": f"Chest X-ray review: {printable(assessment.name)}", "Subject": disclaimer,
                "CreationDate": created}
    style = {"pdf.fonttype": TRUETYPE, "text.parse_math": False, "text.usetex": False,
             "font.family": list(report_fonts())}
    buffer = io.BytesIO()
    with rc_context(style), PdfPages(buffer, metadata=metadata) as pdf:
        pdf.savefig(_summary_page(lines, views, disclaimer))
        pdf.savefig(_figures_page(views, disclaimer))
    return buffer.getvalue()
