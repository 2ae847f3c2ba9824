"""The PDF a clinician can file with the case: the call, how sure, and why.

Drawn with matplotlib's PdfPages so the report needs no extra dependency and
shows exactly the pictures the page shows.
"""
from __future__ import annotations

import io
import textwrap
from datetime import datetime, timezone

from matplotlib import rc_context
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from model.dataset import CLASS_NAMES
from model.explain import GRAD_CAM_CAVEAT, HOW_TO_READ, ExplanationViews, LimeExplanation
from model.figures import draw_grad_cam_heatmap, draw_image, draw_lime_heatmap
from model.triage import (
    NEAR_THRESHOLD_CAUTION,
    OOD_WARNING,
    Assessment,
    certainty_sentence,
    interval_text,
    is_near_threshold,
    uncertainty_caution,
)

A4_PORTRAIT = (8.27, 11.69)
TEXT_WIDTH = 95
SUMMARY_FONT_SIZE = 9.5
SUMMARY_LINE_SPACING = 1.5
SUMMARY_TOP = 0.915
IMAGE_TOP = 0.55
TRUETYPE = 42  # embedded TrueType keeps the report's text searchable and copyable


def _wrap(text: str, width: int = TEXT_WIDTH) -> str:
    return "\n".join(textwrap.wrap(text, width))


def summary_lines(
    assessment: Assessment, explanation: LimeExplanation, views: ExplanationViews, model_version: str,
    created: datetime,
) -> list[str]:
    """The facts of the first page, one per line."""
    settings = explanation.settings
    spread = assessment.uncertainty
    lines = [
        f"File: {assessment.name}",
        f"Date: {created:%Y-%m-%d %H:%M} UTC",
        f"Model version: {model_version}",
        "",
        f"Result: {assessment.label_name}" + (" (UNRELIABLE)" if assessment.unreliable else ""),
        f"Calibrated probability of pneumonia: {assessment.probability:.1%} ({interval_text(spread)})",
        f"Operating threshold: {assessment.threshold:.1%} (PNEUMONIA when the probability reaches it)",
        _wrap(certainty_sentence(assessment.probability, assessment.threshold)),
    ]
    if assessment.ood is not None and assessment.ood.flagged:
        lines.append(_wrap(f"UNRELIABLE: {OOD_WARNING}"))
        lines += [_wrap(f"- {reason}") for reason in assessment.ood.reasons]
    elif assessment.ood is None:
        lines.append("Check for images unlike the training X-rays: not available for this model.")
    metadata = assessment.image.metadata
    if metadata is not None:
        described = ", ".join(f"{name} {value}" for name, value in metadata.shown_fields().items() if value)
        lines.append(_wrap(f"DICOM header: {described or 'no study fields'} (patient identifiers not printed)."))
    for flag in assessment.view_flags:
        lines.append(_wrap(f"{'UNRELIABLE' if flag.unreliable else 'CAUTION'}: {flag.reason}"))
    if spread.straddles_threshold:
        lines.append(_wrap(uncertainty_caution(spread)))
    if is_near_threshold(assessment.probability, assessment.threshold):
        lines.append(_wrap(f"CAUTION: {NEAR_THRESHOLD_CAUTION}"))
    lines += [f"Note: {note}" for note in assessment.image.notes]
    lines += [
        "",
        f"LIME: {settings.algorithm} segmentation ({explanation.region_count} regions), "
        f"{settings.num_samples} samples, seed {settings.seed}; local fit of the calibrated log-odds, "
        f"R^2 {explanation.score:.2f}.",
        _wrap(explanation.support_sentence(views.label, views.regions_shown)),
        _wrap(f"Agreement of LIME and Grad-CAM: {views.agreement.sentence()}"),
    ]
    return lines


def _footer(figure: Figure, disclaimer: str, page: int) -> None:
    figure.text(0.06, 0.03, _wrap(disclaimer), fontsize=8, color="firebrick", va="bottom")
    figure.text(0.94, 0.015, f"page {page}", fontsize=7, ha="right", va="bottom", color="gray")


def _summary_page(lines: list[str], views: ExplanationViews, disclaimer: str) -> Figure:
    """The facts on top; the X-ray below them, smaller when many warnings need the room."""
    page = Figure(figsize=A4_PORTRAIT)
    page.text(0.06, 0.95, "Chest X-ray review: model result and explanation", fontsize=15, weight="bold")
    text = "\n".join(lines)
    page.text(0.06, SUMMARY_TOP, text, fontsize=SUMMARY_FONT_SIZE, va="top", linespacing=SUMMARY_LINE_SPACING)
    line_height = SUMMARY_FONT_SIZE * SUMMARY_LINE_SPACING / 72 / A4_PORTRAIT[1]
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
    draw_image(page.add_subplot(grid[1, 0]), views.pros_cons, f"Strongest {count}: green for {name}, red against")
    draw_lime_heatmap(page, page.add_subplot(grid[1, 1]), views.lime_heatmap, views.lime_norm, views.label)
    draw_grad_cam_heatmap(page, page.add_subplot(grid[2, 0]), views.grad_cam_heatmap, views.grad_cam_norm, views.label)
    page.text(0.53, 0.32, _wrap(f"How to read these pictures. {HOW_TO_READ} {GRAD_CAM_CAVEAT}", 48), fontsize=8.5, va="top",
              linespacing=1.4)
    _footer(page, disclaimer, 2)
    return page


def build_report(
    assessment: Assessment,
    explanation: LimeExplanation,
    views: ExplanationViews,
    model_version: str,
    disclaimer: str,
    created: datetime | None = None,
) -> bytes:
    """A two-page A4 PDF: the summary with the X-ray, then the explanation figures."""
    created = created or datetime.now(timezone.utc)
    lines = summary_lines(assessment, explanation, views, model_version, created)
    metadata = {"Title": f"Chest X-ray review: {assessment.name}", "Subject": disclaimer, "CreationDate": created}
    buffer = io.BytesIO()
    with rc_context({"pdf.fonttype": TRUETYPE}), PdfPages(buffer, metadata=metadata) as pdf:
        pdf.savefig(_summary_page(lines, views, disclaimer))
        pdf.savefig(_figures_page(views, disclaimer))
    return buffer.getvalue()
