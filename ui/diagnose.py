"""Streamlit pieces of the Diagnose page: where the files come from, the cached work, and the panels."""
from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from model.dataset import CLASS_NAMES, IMAGE_SUFFIXES
from model.errors import AuditStoreError
from model.explain.explanations import (
    GRAD_CAM_CAVEAT,
    HOW_TO_READ,
    SEGMENTATION_PARAMETERS,
    ExplanationViews,
    LimeExplanation,
    LimeSettings,
    Stability,
    display_image,
    explain_with_lime,
    explanation_views,
    grad_cam,
    grad_cam_heatmap,
    stability,
)
from model.explain.faithfulness import FaithfulnessCurves, deletion_insertion, random_importance
from model.explain.figures import draw_grad_cam_heatmap, draw_lime_heatmap, heatmap_figure, to_jpeg
from model.inference import Classifier
from model.paths import SAMPLES_DIR
from model.trust.ood import OodModel, load_ood
from model.trust.view_checks import Probe, load_view_checks
from review.audit import AUDIT_DB_ENV, MAX_NOTE_CHARS, READS, AuditStore, default_audit_path, note_problem
from review.report import build_report, report_file_name
from review.triage import (
    NEAR_THRESHOLD_CAUTION,
    OOD_WARNING,
    UNRELIABLE_CAPTION,
    Assessment,
    assess_files,
    at_display_size,
    certainty_sentence,
    digest_of,
    interval_range,
    interval_text,
    is_near_threshold,
    uncertainty_caution,
)
from ui.progress import in_line
from ui.resources import DISCLAIMER, artifacts_dir, classifier
from ui.text import plain

REVIEW_PATH = "review_path"
SOURCE = "diagnose_source"
PINNED = "diagnose_pinned_file"
UPLOAD_TYPES = sorted(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES)
DEFAULT_OPACITY = 0.45
MAX_REGIONS_SHOWN = 15
FIGURE_DPI = 120  # sharp enough for a page column; twice that doubles the encoding time of every rerun
# LIME first: it was the more faithful method over the validation split (bench/results/faithfulness.txt).
FAITHFULNESS_METHODS = ("LIME", "Grad-CAM", "random")
METHOD_COLOURS = {"LIME": "#54A24B", "Grad-CAM": "#E45756", "random": "#9D9D9D"}
FAITHFULNESS_HOW_TO_READ = (
    "Deletion blurs away the pixels a method ranks most important first and follows the model's log-odds of the "
    "class explained, rescaled so that the blurred image reads 0 and the original 1: a faithful explanation makes "
    "it fall fast (small area under the curve). Insertion starts from the blurred image and restores the most "
    "important pixels first: it should rise fast (large area). Log-odds keep moving where a probability would sit "
    "at 99 %. The random ordering is the baseline to beat on this image: the larger insertion − deletion, the "
    "more faithful the ordering."
)
LOW_SPAN_NOTE = (
    "Here the blurred image holds about as much evidence for {name} as the original (a blurred X-ray reads as "
    "haze), so the curves are shown in log-odds, not rescaled; insertion − deletion is in units of their gap."
)
FAITHFULNESS_OPEN = "faithfulness_open"
STABILITY_CHECKED = "stability_checked"
STABILITY_RERUNS = 4
# Below this median overlap with reruns the shown regions depend on the seed (bench/results/stability.txt).
STABLE_OVERLAP = 0.6
UNSTABLE_CAUTION = (
    "The regions shown change with the random seed: read the LIME views as a rough picture, not a precise map."
)
RECENT_READS = 10
AUDIT_OUTCOME = "audit_outcome_"
# How each outcome of Save is shown: (Streamlit's call, icon).
OUTCOME_STYLES = {"success": (st.success, "✅"), "warning": (st.warning, "⚠️"), "error": (st.error, "🚫")}
MASK = "••••••"


def _choose_source(source: str) -> None:
    st.session_state[SOURCE] = source


def sample_paths() -> list[Path]:
    return sorted(p for p in SAMPLES_DIR.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _take_review_request() -> None:
    """Honour another page's request (st.session_state["review_path"]) once, then forget it."""
    if REVIEW_PATH not in st.session_state:
        return
    path = Path(st.session_state.pop(REVIEW_PATH))
    try:
        st.session_state[PINNED] = (path.name, path.read_bytes())
    except OSError as error:
        st.error(plain(f"'{path.name}' could not be opened for review ({error.strerror})."))
        return
    st.session_state[SOURCE] = "review"


def chosen_files() -> list[tuple[str, bytes]]:
    """The (name, bytes) pairs to assess, from the source the user touched last."""
    _take_review_request()
    uploads = st.file_uploader(
        "Chest X-rays: JPEG, PNG or DICOM; several at once give a triage list",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key="diagnose_uploads",
        on_change=_choose_source,
        args=("upload",),
    )
    samples = {path.name: path for path in sample_paths()}
    sample = st.selectbox(
        "…or try a sample",
        list(samples),
        index=None,
        placeholder="Choose a sample X-ray (validation images the model never trained on)",
        key="diagnose_sample",
        on_change=_choose_source,
        args=("sample",),
    )
    source = st.session_state.get(SOURCE)
    if source == "review" and PINNED in st.session_state:
        return [st.session_state[PINNED]]
    if sample and (source == "sample" or not uploads):
        return [(sample, samples[sample].read_bytes())]
    return [(upload.name, upload.getvalue()) for upload in uploads or []]


@st.cache_resource(show_spinner=False)
def _ood_detector(directory: str) -> tuple[OodModel | None, str]:
    """The model's out-of-distribution detector, or None and why the page runs without it.

    The reason is cached too, so a model packaged without a detector is not
    searched and hashed again on every rerun.
    """
    unavailable = "Uploads cannot be checked for being unlike the training X-rays"
    try:
        return load_ood(directory), ""
    except FileNotFoundError:
        return None, f"{unavailable}: this model was packaged without that check."
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        return None, f"{unavailable}: {error}"


def ood_detector() -> tuple[OodModel | None, str]:
    return _ood_detector(str(artifacts_dir()))


@st.cache_resource(show_spinner=False)
def _view_checks(directory: str) -> tuple[Probe, ...]:
    """The lateral and adult probes, or none when the model was packaged without them (said on the page)."""
    try:
        return tuple(load_view_checks(directory))
    except (FileNotFoundError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return ()


def view_checks() -> tuple[Probe, ...]:
    return _view_checks(str(artifacts_dir()))


@st.cache_data(show_spinner="Reading, scoring and checking…", max_entries=16)
def _assess(
    files: tuple[tuple[str, bytes], ...], model_version: str, with_ood: bool, with_view_checks: bool,
    _classifier: Classifier, _ood: OodModel | None, _probes: tuple[Probe, ...],
) -> list[Assessment]:
    """Cached per files, model and which image checks ran (the unhashed checks are not in the key), at display size."""
    return [at_display_size(assessment) for assessment in assess_files(_classifier, files, _ood, _probes)]


def assessments(files: Sequence[tuple[str, bytes]]) -> list[Assessment]:
    model = classifier()
    detector, _ = ood_detector()
    probes = view_checks()
    return _assess(tuple(files), model.version, detector is not None, bool(probes), model, detector, probes)


def triage_table(ranked: Sequence[Assessment]) -> Assessment:
    """The batch, most likely pneumonia first; the selected row (by default the top one) is opened."""
    st.subheader("Triage")
    frame = pd.DataFrame(
        {
            "file": [a.name for a in ranked],
            "label": [a.label_name for a in ranked],
            "probability": [a.probability for a in ranked],
            "range": [interval_range(a.uncertainty) for a in ranked],
            "trust": [", ".join(a.trust_flags) for a in ranked],
            "flags": [", ".join(a.flags) for a in ranked],
        }
    )
    unreliable = [a.unreliable for a in ranked]
    event = st.dataframe(
        frame.style.apply(lambda row: ["color: gray" if unreliable[row.name] else ""] * len(row), axis=1),
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="triage_" + digest_of("".join(a.digest for a in ranked).encode())[:12],
        column_config={
            "probability": st.column_config.ProgressColumn(
                "probability of pneumonia", min_value=0.0, max_value=1.0, format="percent"
            ),
            "range": st.column_config.TextColumn("range under small shifts"),
            "trust": st.column_config.TextColumn(
                "trust", help="Unlike training X-rays, not-radiograph, not-chest, lateral: the result is unreliable. "
                "age-outside-training: the model was not trained at this age. Uncertain: the range crosses the "
                "threshold."
            ),
        },
    )
    st.caption(
        "Select a row to review that image; the most likely pneumonia is open by default. Greyed rows are "
        "images unlike the training X-rays or, by their DICOM header, not frontal chest radiographs: their "
        "results are unreliable."
    )
    rows = event.selection.rows
    return ranked[rows[0]] if rows and rows[0] < len(ranked) else ranked[0]


def _greyed(text: str, grey: bool) -> str:
    return f":gray[{text}]" if grey else text


def result_panel(assessment: Assessment) -> None:
    """The call with its trust signals; an image unlike the training X-rays gets its result greyed."""
    unreliable, spread = assessment.unreliable, assessment.uncertainty
    if assessment.ood is not None and assessment.ood.flagged:
        reasons = "\n".join(f"- {reason}" for reason in assessment.ood.reasons)
        st.error(f"**Image unlike the training X-rays.** {OOD_WARNING}\n\n{reasons}", icon="🚫")
    for flag in assessment.view_flags:
        if flag.unreliable:
            st.error(f"**Do not rely on this result.** {plain(flag.reason)}", icon="🚫")
        else:
            st.warning(plain(flag.reason), icon="⚠️")
    label, probability, threshold = st.columns(3)
    label.metric("Result", _greyed(assessment.label_name, unreliable))
    probability.metric(
        "Probability of pneumonia",
        _greyed(f"{assessment.probability:.1%}", unreliable),
        delta=interval_text(spread),
        delta_color="orange" if spread.straddles_threshold else "off",
        delta_arrow="off",
        help="The range is the lowest to highest probability over slightly cropped, shifted and re-exposed "
        "copies of the image.",
    )
    threshold.metric("Operating threshold", f"{assessment.threshold:.1%}")
    if unreliable:
        st.caption(UNRELIABLE_CAPTION)
    st.markdown(_greyed(certainty_sentence(assessment.probability, assessment.threshold), unreliable))
    if spread.straddles_threshold:
        st.warning(uncertainty_caution(spread), icon="⚠️")
    if is_near_threshold(assessment.probability, assessment.threshold):
        st.warning(NEAR_THRESHOLD_CAUTION, icon="⚠️")
    for note in assessment.image.notes:
        st.info(plain(note), icon="ℹ️")
    _, unavailable = ood_detector()
    if unavailable:
        st.info(unavailable, icon="ℹ️")


def metadata_panel(assessment: Assessment) -> None:
    """A DICOM's header in brief; patient identifiers stay masked unless the user asks to see them."""
    metadata = assessment.image.metadata
    if metadata is None:
        return
    with st.expander("DICOM header"):
        fields = {name: value for name, value in metadata.shown_fields().items() if value}
        st.dataframe(
            pd.DataFrame({"field": list(fields), "value": list(fields.values())}), hide_index=True,
            key=f"dicom_fields_{assessment.digest[:12]}",
        )
        shown = st.toggle(
            "Show patient identifiers", key=f"identifiers_{assessment.digest[:12]}",
            help="Name, ID and birth date stay off the screen, the PDF and the audit trail unless shown here.",
        )
        identifiers = metadata.identifiers()
        values = list(identifiers.values()) if shown else [MASK if value else "" for value in identifiers.values()]
        st.dataframe(
            pd.DataFrame({"identifier": list(identifiers), "value": values}), hide_index=True,
            key=f"dicom_identifiers_{assessment.digest[:12]}_{shown}",
        )


def explanation_settings() -> tuple[LimeSettings, int]:
    """LIME's settings and how many regions to show; changing only the latter never reruns LIME."""
    defaults = LimeSettings()
    with st.expander("Explanation settings"):
        algorithms = list(SEGMENTATION_PARAMETERS)
        algorithm = st.selectbox(
            "Segmentation algorithm", algorithms, index=algorithms.index(defaults.algorithm), key="lime_algorithm"
        )
        knob = SEGMENTATION_PARAMETERS[algorithm]
        parameter = st.slider(
            knob.name.capitalize(), knob.minimum, knob.maximum, knob.default, knob.step, help=knob.help,
            key=f"lime_{algorithm}_parameter",
        )
        samples = st.slider(
            "Perturbation samples", 200, 5000, defaults.num_samples, 100,
            help="More samples give a steadier explanation and take longer.", key="lime_samples",
        )
        count = st.slider("Regions shown", 1, MAX_REGIONS_SHOWN, 5, key="lime_regions")
        seed = st.number_input(
            "Random seed", 0, 2**31 - 1, defaults.seed, help="The same seed gives the same explanation.",
            key="lime_seed",
        )
    return LimeSettings(algorithm, int(parameter), int(samples), int(seed)), int(count)


@st.cache_data(show_spinner=False, max_entries=32)
def _lime(
    digest: str, settings: LimeSettings, model_version: str, _classifier: Classifier, _assessment: Assessment
) -> LimeExplanation:
    return in_line(
        f"LIME: scoring {settings.num_samples} perturbed copies of the image…",
        lambda progress: explain_with_lime(_classifier, _assessment.model_input, settings, progress),
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _picture(key: tuple, _figure: Callable[[], Figure]) -> bytes:
    """A figure encoded once per key (what it shows): reruns that change something else skip matplotlib."""
    return to_jpeg(_figure(), FIGURE_DPI)


def explanation_panel(
    assessment: Assessment, settings: LimeSettings, count: int
) -> tuple[LimeExplanation, ExplanationViews]:
    """Grad-CAM at once, then LIME with its progress, for the class the user picks (the predicted one by default).

    The call above is already on screen while LIME runs.
    """
    model = classifier()
    st.subheader("Why")
    choice, slider = st.columns(2)
    label = choice.radio(
        "Show the evidence for", (1, 0), index=0 if assessment.label == 1 else 1,
        format_func=CLASS_NAMES.__getitem__, horizontal=True, key=f"evidence_{assessment.digest}",
    )
    opacity = slider.slider("Heatmap opacity", 0.0, 1.0, DEFAULT_OPACITY, 0.05, key="heatmap_opacity")
    shown = (assessment.digest, model.version, label, opacity)
    lime_column, cam_column = st.columns(2)
    cam = grad_cam(model.network, assessment.model_input, label)
    xray = display_image(assessment.image.pixels)
    cam_overlay, cam_norm = grad_cam_heatmap(xray, cam, opacity)
    cam_column.image(
        _picture(("Grad-CAM", *shown), lambda: heatmap_figure(draw_grad_cam_heatmap, cam_overlay, cam_norm, label)),
        width="stretch",
    )
    cam_column.caption(GRAD_CAM_CAVEAT)
    with lime_column:
        explanation = _lime(assessment.digest, settings, model.version, model, assessment)
    views = explanation_views(assessment.image.pixels, explanation, cam, label, count, opacity)
    lime_picture = _picture(
        ("LIME", *shown, settings),
        lambda: heatmap_figure(draw_lime_heatmap, views.lime_heatmap, views.lime_norm, label),
    )
    lime_column.image(lime_picture, width="stretch")
    st.markdown(f"**Agreement of LIME and Grad-CAM:** {views.agreement.sentence()}")
    st.markdown(explanation.support_sentence(label, count))
    regions, top, pros_cons = st.columns(3)
    regions.image(views.boundaries, caption=f"{explanation.region_count} LIME regions ({settings.algorithm})")
    top.image(views.top_regions, caption=f"Top {count} regions supporting {CLASS_NAMES[label]}, rest dimmed")
    pros_cons.image(views.pros_cons, caption=f"Strongest {count} regions: green for {CLASS_NAMES[label]}, red against")
    st.caption(f"{HOW_TO_READ} LIME's local linear model explains R² = {explanation.score:.2f} of the changes.")
    return explanation, views


@st.cache_data(show_spinner=False, max_entries=32)
def _stability(
    digest: str, settings: LimeSettings, label: int, count: int, model_version: str, _classifier: Classifier,
    _assessment: Assessment, _explanation: LimeExplanation,
) -> Stability:
    return in_line(
        f"Rerunning LIME with {STABILITY_RERUNS} other seeds…",
        lambda progress: stability(
            _classifier, _assessment.model_input, _explanation, label, count, STABILITY_RERUNS, progress
        ),
    )


def stability_panel(assessment: Assessment, explanation: LimeExplanation, label: int, count: int) -> None:
    """On request, how far the regions shown survive other random seeds; the answer stays for this view."""
    model = classifier()
    key = (assessment.digest, explanation.settings, label, count)
    checked = st.session_state.setdefault(STABILITY_CHECKED, set())
    if st.button(
        "Check stability", icon=":material/replay:", key=f"stability_{assessment.digest[:12]}",
        help=f"Reruns LIME with {STABILITY_RERUNS} other seeds and compares the top regions with those shown.",
    ):
        checked.add(key)
    if key not in checked:
        return
    result = _stability(
        assessment.digest, explanation.settings, label, count, model.version, model, assessment, explanation
    )
    st.info(result.sentence(), icon="🔁")
    if result.median_overlap < STABLE_OVERLAP:
        st.warning(UNSTABLE_CAUTION, icon="⚠️")


@st.cache_data(show_spinner=False, max_entries=32)
def _faithfulness(
    digest: str, settings: LimeSettings, label: int, model_version: str, _classifier: Classifier,
    _assessment: Assessment, _explanation: LimeExplanation,
) -> dict[str, FaithfulnessCurves]:
    """Curves of the three orderings; the random one is seeded with LIME's seed, so the page is repeatable."""
    model_input = _assessment.model_input
    importance = {
        "LIME": _explanation.weight_map(label),
        "Grad-CAM": grad_cam(_classifier.network, model_input, label),
        "random": random_importance(model_input.shape[:2], settings.seed),
    }

    def curves(progress: Callable[[float], None]) -> dict[str, FaithfulnessCurves]:
        measured = {}
        for done, method in enumerate(FAITHFULNESS_METHODS, start=1):
            measured[method] = deletion_insertion(_classifier, model_input, importance[method], label)
            progress(done / len(FAITHFULNESS_METHODS))
        return measured

    return in_line("Measuring how faithful the explanations are…", curves)


def rescalable(curves: dict[str, FaithfulnessCurves]) -> bool:
    """Whether this image's curves can be rescaled; the same for every ordering (one original, one neutral)."""
    return next(iter(curves.values())).informative


def faithfulness_figure(curves: dict[str, FaithfulnessCurves], class_name: str) -> go.Figure:
    """Rescaled log-odds (neutral 0, original 1) when the image allows it, else the log-odds themselves."""
    rescale = rescalable(curves)
    figure = make_subplots(
        rows=1, cols=2, shared_yaxes=True,
        subplot_titles=("Deletion: most important first (lower area is better)",
                        "Insertion: most important first (higher area is better)"),
    )
    for method, curve in curves.items():
        pair = (curve.deletion, curve.insertion) if rescale else (curve.deletion_log_odds, curve.insertion_log_odds)
        for column, values in enumerate(pair, start=1):
            figure.add_scatter(
                x=curve.fractions, y=values, mode="lines+markers", name=method, legendgroup=method,
                showlegend=column == 1, line={"color": METHOD_COLOURS[method]}, row=1, col=column,
            )
    figure.update_xaxes(title_text="share of pixels changed", tickformat=".0%", range=[0, 1])
    title = f"evidence for {class_name} (blurred 0, original 1)" if rescale else f"log-odds of {class_name}"
    figure.update_yaxes(title_text=title, row=1, col=1)
    figure.update_layout(height=360, margin={"t": 60})
    return figure


def faithfulness_table(curves: dict[str, FaithfulnessCurves]) -> pd.DataFrame:
    """Areas under the rescaled curves (where they mean something) and the margin that ranks the orderings."""
    rescale = rescalable(curves)
    areas = pd.DataFrame({"method": list(curves)})
    if rescale:
        areas["deletion area"] = [c.deletion_area for c in curves.values()]
        areas["insertion area"] = [c.insertion_area for c in curves.values()]
    areas["insertion − deletion"] = [c.margin for c in curves.values()]
    return areas


def faithfulness_panel(assessment: Assessment, explanation: LimeExplanation, label: int) -> None:
    """Deletion and insertion curves of the explanations shown, measured only while the panel is open."""
    model = classifier()
    panel = st.expander(
        f"How faithful are these explanations to the model? (evidence for {CLASS_NAMES[label]})",
        key=FAITHFULNESS_OPEN, on_change="rerun",
    )
    if not panel.open:
        return
    with panel:
        curves = _faithfulness(
            assessment.digest, explanation.settings, label, model.version, model, assessment, explanation
        )
        st.plotly_chart(faithfulness_figure(curves, CLASS_NAMES[label]), key=f"faithfulness_{assessment.digest}")
        st.dataframe(
            faithfulness_table(curves).style.format(precision=3), hide_index=True,
            key=f"faithfulness_areas_{assessment.digest}",
        )
        st.caption(FAITHFULNESS_HOW_TO_READ)
        if not rescalable(curves):
            st.caption(LOW_SPAN_NOTE.format(name=CLASS_NAMES[label]))


def _save_read(assessment: Assessment, version: str) -> None:
    """Save's on_click: it runs before the page is drawn again, so only a stored read empties the form.

    A refused read keeps its note in the form, to be shortened or saved again; the outcome is shown below it.
    """
    key = assessment.digest[:12]
    read_key, note_key = f"audit_read_{key}", f"audit_note_{key}"
    read, note = st.session_state[read_key], st.session_state[note_key].strip()
    if read is None:
        outcome = ("warning", "Choose agree, disagree or unsure before saving.")
    elif problem := note_problem(note):
        outcome = ("error", problem)
    else:
        try:
            saved = AuditStore(default_audit_path()).record(
                image_sha256=assessment.digest, file_name=assessment.name, model_version=version,
                probability=assessment.probability, threshold=assessment.threshold,
                model_label=assessment.label_name, clinician_read=read, note=note,
            )
        except AuditStoreError as error:
            outcome = ("error", f"Audit trail: {error}")
        else:
            outcome = ("success", f"Saved to the audit trail at {saved.recorded_at} ({read}).")
            st.session_state[read_key], st.session_state[note_key] = None, ""
    st.session_state[AUDIT_OUTCOME + key] = outcome


def audit_panel(assessment: Assessment) -> None:
    """The clinician's own read, stored with what the model said; the store's errors are shown, never raised.

    Merely viewing an image creates no database: the file appears with the first saved read. A database
    that cannot take a read (read-only, locked, damaged) gets Save disabled and the reason beside it.
    """
    key = assessment.digest[:12]
    path = default_audit_path()
    store, unusable = None, ""
    if path.exists():
        try:
            store = AuditStore(path)
            entries, export = store.entries(), store.export_csv()
        except AuditStoreError as error:
            unusable = f"Audit trail: {error}"
    blocked = unusable or (store.read_only_reason if store else "")
    with st.form(f"audit_{key}", border=True):
        unreliable = f" — {UNRELIABLE_CAPTION}" if assessment.unreliable else ""
        st.markdown(
            f"**Your read** — the model says {assessment.label_name} ({assessment.probability:.1%}){unreliable}"
        )
        st.radio(
            "Do you agree with the model?", READS, index=None, format_func=str.capitalize,
            horizontal=True, key=f"audit_read_{key}",
        )
        # No max_chars: the browser would drop a longer paste whole; the limit is checked on Save instead.
        st.text_area(
            "Note (optional)", key=f"audit_note_{key}", height=68, help=f"Up to {MAX_NOTE_CHARS:,} characters.",
        )
        st.form_submit_button(
            "Save to the audit trail", icon=":material/save:", disabled=bool(blocked),
            on_click=_save_read, args=(assessment, classifier().version),
        )
    if outcome := st.session_state.pop(AUDIT_OUTCOME + key, None):
        kind, text = outcome
        show, icon = OUTCOME_STYLES[kind]
        show(plain(text), icon=icon)
    if unusable:
        st.error(plain(unusable), icon="🚫")
        return
    if store is None:
        st.caption(f"No reads recorded yet; they will be stored in {path} (set {AUDIT_DB_ENV} to change it).")
        return
    if store.read_only_reason:
        st.warning(plain(store.read_only_reason), icon="🔒")
    with st.expander(f"Audit trail: {len(entries)} read{'' if len(entries) == 1 else 's'} recorded"):
        if entries:
            recent = pd.DataFrame([asdict(entry) for entry in reversed(entries[-RECENT_READS:])])
            st.dataframe(
                recent[["recorded_at", "file_name", "model_label", "probability", "clinician_read", "note"]],
                hide_index=True,
                column_config={"probability": st.column_config.NumberColumn(format="percent")},
                key="audit_recent",
            )
        st.download_button(
            "Download the audit trail (CSV)", data=export, mime="text/csv", icon=":material/download:",
            file_name=f"xray_audit_trail_{datetime.now(UTC):%Y%m%d}.csv", on_click="ignore",
        )
        st.caption(f"Stored in {path}; set {AUDIT_DB_ENV} to keep it elsewhere.")


def report_button(assessment: Assessment, explanation: LimeExplanation, views: ExplanationViews) -> None:
    """The PDF is drawn only when asked for, so reruns stay fast."""
    version = classifier().version
    st.download_button(
        "Download PDF report",
        data=lambda: build_report(assessment, explanation, views, version, DISCLAIMER),
        file_name=report_file_name(assessment.name),
        mime="application/pdf",
        on_click="ignore",
        icon=":material/download:",
    )
