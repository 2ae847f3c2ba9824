"""Model & data: what the model learned from, how well it does, where it fails, and scoring new labelled data.

Everything is drawn from the artifacts training and evaluation wrote (model
card, validation scores, evaluation reports); nothing is retrained or
re-scored on load.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from model.calibration import (
    calibrated_probability,
    describe_operating_point,
    fitted_on_phrase,
)
from model.card import stored_threshold
from model.dataset import resolve_evaluation_folder
from model.errors import ImageInputError
from model.evaluate import evaluate_archive, evaluate_folder
from model.evaluation.bootstrap import BOOTSTRAP_RESAMPLES
from model.evaluation.data_summary import (
    PROJECT_ROOT,
    existing_folder,
    imbalance_ratio,
    label_counts,
)
from model.evaluation.metrics import (
    binary_metrics,
    most_confident_errors,
    per_class_report,
    pr_points,
    reliability,
    roc_points,
    threshold_sweep,
)
from model.evaluation.sets import EvaluationSet, report_set, unique_name
from review.archive import ArchiveError, open_labelled_zip
from ui import charts
from ui.diagnose import REVIEW_PATH, SAMPLES_DIR
from ui.model_page_data import (
    evaluation_sets,
    gallery_image,
    headline_intervals,
    network_summary,
    sample_images,
    size_sample,
)
from ui.progress import in_line
from ui.resources import DISCLAIMER, artifacts_dir, card, classifier
from ui.text import plain

OWN_EVALUATIONS = "own_evaluations"
OWN_NOTICE = "own_evaluation_notice"
THRESHOLD_KEY = "explorer_threshold"
DIAGNOSE_PAGE = "pages/diagnose.py"
SAMPLES_PER_CLASS = 4
ERRORS_SHOWN = 4
SWEEP_THRESHOLDS = np.linspace(0.0, 1.0, 401)
HEADLINE_LABELS = {"auroc": "AUROC", "accuracy": "accuracy", "sensitivity": "sensitivity",
                   "specificity": "specificity", "precision": "PPV", "npv": "NPV", "f1": "F1", "ece": "ECE"}

DATASET_CITATION = (
    "Kermany D, Zhang K, Goldbaum M (2018). *Labeled Optical Coherence Tomography (OCT) and Chest X-Ray "
    "Images for Classification*. Mendeley Data, V3. "
    "[doi:10.17632/rscbjbr9sj.3](https://doi.org/10.17632/rscbjbr9sj.3). Licence: "
    "[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/). Anterior-posterior chest X-rays of "
    "pediatric patients aged one to five years from Guangzhou Women and Children's Medical Center, "
    "Guangzhou, graded by two expert physicians (the Kaggle *Chest X-Ray Images (Pneumonia)* layout)."
)
INTENDED_USE = (
    "Decision support when reviewing a frontal chest X-ray for pneumonia: the model gives a calibrated "
    "probability and shows which regions drove it, so a clinician can check the call. " + DISCLAIMER
)
KNOWN_LIMITS = """
- **Pediatric patients aged 1–5 only.** Adult chests and older children look different; the model has not been
  validated on them.
- **One hospital (Guangzhou).** Other X-ray machines, exposure settings and populations can lower its accuracy:
  score a labelled local set below before relying on it.
- **Frontal views only.** Lateral views and non-chest images are outside what it has seen.
- **Two classes.** Bacterial and viral pneumonia are pooled; other findings (effusion, pneumothorax, tubes, masses)
  are not recognised and can push the probability either way.
"""
PATIENT_LEAK_NOTE = (
    "- **Validation split by file, not by patient.** Identical copies were kept together, but one child's different "
    "images can sit on both sides, so the validation figures may be optimistic; separately scored sets are the "
    "better guide."
)


def show_thumbnail(path: Path, caption: str) -> None:
    try:
        st.image(gallery_image(str(path)), caption=caption)
    except ImageInputError as error:
        st.warning(plain(str(error)))


def dataset_section(model_card: dict, sets: list[EvaluationSet]) -> None:
    st.header("Dataset")
    data = model_card["data"]
    counts = {"training": data["train"]["counts"], "validation": data["validation"]["counts"]}
    counts |= {f"evaluation: {s.name}": label_counts(s.scores.labels) for s in sets[1:]}
    st.plotly_chart(charts.class_distribution_figure(counts), key="class_distribution")
    st.caption(
        "Images of each class per split — training and validation as used to fit the model, then every "
        "evaluation set — with each bar's count and share of its split."
    )
    train = data["train"]["counts"]
    larger = max(train, key=train.get)
    smaller = min(train, key=train.get)
    weights = ", ".join(f"{k} {v:.2f}" for k, v in model_card["hyperparameters"]["class_weights"].items())
    balance = (
        "Training is balanced" if train[larger] == train[smaller]
        else f"Training holds **{imbalance_ratio(train):.2f} {larger} images per {smaller} image**"
    )
    st.markdown(
        f"{balance}; the loss weights the classes ({weights}) so both count equally. "
        f"Validation: {data['validation_source']}."
    )

    st.subheader("Image size and aspect")
    root = existing_folder(data["root"])
    if root is None:
        st.info(plain(f"The dataset folder '{data['root']}' is not on this machine; only the recorded summary is shown."))
    else:
        st.plotly_chart(charts.image_size_figure(size_sample(str(root))), key="image_sizes")
        st.caption(
            "Width against height and the aspect-ratio histogram of a seeded random sample of source images per "
            f"class from `{data['root']}`."
        )
    summary = {
        (split, measure): values
        for split in ("train", "validation")
        for measure, values in data[split]["image_size"].items()
    }
    st.dataframe(pd.DataFrame(summary).T.rename_axis(["split", "measure"]))
    st.caption(
        "Smallest, median and largest size of every image used in training and validation (model card). "
        f"The network sees each one squashed to {model_card['preprocessing']['resize']}."
    )

    st.subheader("Sample images")
    folder = root
    if folder is None:
        folder = SAMPLES_DIR
        st.info("Showing the example images bundled in `assets/samples` instead of the dataset.")
    samples = sample_images(str(folder), SAMPLES_PER_CLASS) if folder.is_dir() else {}
    if not any(samples.values()):
        st.info("No sample images are available on this machine.")
    for name, paths in samples.items():
        if not paths:
            continue
        st.markdown(f"**{plain(name)}**")
        for column, path in zip(st.columns(SAMPLES_PER_CLASS), paths):
            with column:
                show_thumbnail(path, path.name)


def training_section(model_card: dict) -> None:
    st.header("Training")
    hyper = model_card["hyperparameters"]
    st.plotly_chart(
        charts.training_curves_figure(model_card["history"], hyper.get("best_epoch")), key="training_curves"
    )
    selection = hyper["epoch_selection"]
    st.caption(
        "Loss, accuracy (at logit 0) and AUROC after each epoch on the augmented, class-weighted training images "
        f"and on the validation images; AUROC also on the selection set `{selection['data']}`, scored, never trained on."
    )
    st.markdown(
        f"{hyper['epochs_run']} of at most {hyper['epochs_max']} epochs; the weights kept are those of epoch "
        f"{hyper['best_epoch']}, {selection['rule']} (`{selection['data']}`: {selection['counts']['NORMAL']} NORMAL, "
        f"{selection['counts']['PNEUMONIA']} PNEUMONIA). Wall time {model_card['training_wall_time_seconds'] / 60:.1f} "
        "min on the machine that trained it."
    )


def metrics_table(metrics: dict, intervals: dict[str, list[float]]) -> pd.DataFrame:
    """Each headline metric with its 95 % patient-bootstrap interval."""
    return pd.DataFrame(
        [
            {"metric": label, "value": metrics[key], "95 % CI": f"{intervals[key][0]:.3f} – {intervals[key][1]:.3f}"}
            for key, label in HEADLINE_LABELS.items()
        ]
    )


def performance_panel(evaluation: EvaluationSet, model_card: dict, shipped: float) -> None:
    labels, probabilities = evaluation.scores.labels, evaluation.scores.probabilities
    threshold = evaluation.threshold(shipped)
    metrics = binary_metrics(labels, probabilities, threshold)
    if evaluation.previous_threshold is not None:
        st.info(
            f"Scored by `{evaluation.model_version}` at its operating point (threshold {threshold:.3f}), before the "
            "current one was fitted: compare it with the tab of the same set after calibration."
        )
    elif evaluation.model_version != model_card["version"]:
        st.warning(
            f"These scores come from model `{evaluation.model_version}`, not the current `{model_card['version']}`; "
            "run `python -m model.evaluate` again to refresh them."
        )
    intervals = headline_intervals(labels, probabilities, threshold, evaluation.patients)
    st.dataframe(metrics_table(metrics, intervals).style.format({"value": "{:.3f}"}), hide_index=True)
    st.caption(
        f"{metrics['n']} images at threshold {threshold:.3f}; PNEUMONIA is the positive class. The 95 % intervals "
        f"come from {BOOTSTRAP_RESAMPLES} bootstrap resamples of patients (images of one patient are drawn together)."
    )
    st.plotly_chart(
        charts.confusion_matrix_figure(metrics["confusion_matrix"], f"Confusion matrix, {evaluation.name}"),
        key=f"confusion_{evaluation.name}",
    )
    st.caption(
        f"Rows are the true class, columns the prediction at threshold {threshold:.3f}: counts on the left, share of "
        "each true class on the right (FN are missed pneumonias)."
    )
    report = per_class_report(labels, probabilities, threshold)
    st.dataframe(
        pd.DataFrame({k: v for k, v in report.items() if k != "accuracy"}).T.style.format(
            {"precision": "{:.3f}", "recall": "{:.3f}", "f1-score": "{:.3f}", "support": "{:.0f}"}
        )
    )
    st.caption(
        f"scikit-learn's classification report: precision, recall, F1 and support per class; accuracy "
        f"{report['accuracy']:.3f} over {metrics['n']} images."
    )
    if len(np.unique(labels)) == 2:
        st.plotly_chart(
            charts.roc_pr_figure(roc_points(labels, probabilities), pr_points(labels, probabilities), metrics),
            key=f"roc_pr_{evaluation.name}",
        )
        st.caption(
            "ROC (sensitivity against false-positive rate) and precision-recall curves over every threshold; "
            f"the cross is threshold {threshold:.3f}."
        )
    else:
        st.info("ROC and precision-recall curves need images of both classes.")
    if evaluation.skipped:
        with st.expander(f"{len(evaluation.skipped)} files skipped"):
            st.dataframe(pd.DataFrame(evaluation.skipped), hide_index=True)


def performance_section(sets: list[EvaluationSet], model_card: dict, threshold: float) -> None:
    st.header("Performance")
    st.markdown(
        "One tab per evaluation set: the validation split, then every scored labelled folder — among them the later "
        "X-rays the operating point was fitted on, before and after that calibration."
    )
    for tab, evaluation in zip(st.tabs([plain(s.name) for s in sets]), sets):
        with tab:
            performance_panel(evaluation, model_card, threshold)


def choose_set(sets: list[EvaluationSet], key: str) -> EvaluationSet:
    names = [s.name for s in sets]
    return sets[names.index(st.selectbox("Evaluation set", names, key=key))]


def rate_metric(label: str, value: float, shipped_value: float) -> None:
    if np.isnan(value - shipped_value) or value == shipped_value:
        st.metric(label, "–" if np.isnan(value) else f"{value:.3f}")
    else:
        st.metric(label, f"{value:.3f}", f"{value - shipped_value:+.3f}", delta_description="vs shipped threshold")


def reset_threshold(shipped: float) -> None:
    st.session_state[THRESHOLD_KEY] = shipped


@st.fragment
def threshold_explorer(sets: list[EvaluationSet], shipped: float) -> None:
    """A fragment, so moving the slider redraws only this section."""
    st.header("Threshold explorer")
    evaluation = choose_set(sets, "explorer_set")
    st.session_state.setdefault(THRESHOLD_KEY, shipped)
    chosen = st.slider(
        "Threshold on the calibrated probability of pneumonia", 0.0, 1.0, step=0.001, format="%.3f",
        key=THRESHOLD_KEY,
    )
    st.button(f"Back to the shipped threshold ({shipped:.3f})", on_click=reset_threshold, args=(shipped,))
    labels, probabilities = evaluation.scores.labels, evaluation.scores.probabilities
    at_chosen = binary_metrics(labels, probabilities, chosen)
    at_shipped = binary_metrics(labels, probabilities, shipped)
    for column, (key, label) in zip(
        st.columns(4),
        (("sensitivity", "Sensitivity"), ("specificity", "Specificity"), ("precision", "PPV"), ("npv", "NPV")),
    ):
        with column:
            rate_metric(label, at_chosen[key], at_shipped[key])
    missed, missed_shipped = at_chosen["confusion_matrix"][1][0], at_shipped["confusion_matrix"][1][0]
    if missed > missed_shipped:
        st.warning(
            f"At {chosen:.3f} the model misses {missed} of {int(labels.sum())} pneumonias in '{evaluation.name}', "
            f"{missed - missed_shipped} more than at the shipped threshold {shipped:.3f}. A missed pneumonia costs "
            "more than a false alarm."
        )
    st.plotly_chart(
        charts.confusion_matrix_figure(at_chosen["confusion_matrix"], f"Confusion matrix at threshold {chosen:.3f}"),
        key="threshold_confusion",
    )
    st.caption(plain(f"Counts and shares of each true class in '{evaluation.name}' at the chosen threshold."))
    st.plotly_chart(
        charts.threshold_sweep_figure(threshold_sweep(labels, probabilities, SWEEP_THRESHOLDS), chosen, shipped),
        key="threshold_sweep",
    )
    st.caption(
        f"Sensitivity, specificity, PPV and NPV in '{evaluation.name}' at every threshold; solid line shipped, "
        "dashed line chosen."
    )


def calibration_section(sets: list[EvaluationSet], model_card: dict) -> None:
    st.header("Calibration")
    fitted_on = model_card["operating_point"]["fitted_on"]["name"]
    names = [s.name for s in sets]
    st.session_state.setdefault("calibration_set", fitted_on if fitted_on in names else names[0])
    evaluation = choose_set(sets, "calibration_set")
    temperature = float(model_card["temperature"])
    labels, logits = evaluation.scores.labels, evaluation.scores.logits
    before = reliability(labels, calibrated_probability(logits, 1.0))
    after = reliability(labels, calibrated_probability(logits, temperature))
    left, right = st.columns(2)
    left.metric("ECE before temperature scaling", f"{before['ece']:.4f}")
    right.metric("ECE after temperature scaling", f"{after['ece']:.4f}", f"{after['ece'] - before['ece']:+.4f}",
                 delta_color="inverse")
    st.plotly_chart(charts.reliability_figure(before, after, temperature), key="reliability")
    st.caption(
        "Per probability bin of width 0.1: mean predicted probability against the share that truly had pneumonia; "
        "on the dotted diagonal a probability means what it says."
    )
    st.markdown(
        f"The temperature T = {temperature:.3f} was fitted on {fitted_on_phrase(model_card)} by minimising "
        f"log-loss, so on `{fitted_on}` the 'after' curve is in-sample; other sets show how well it carries over."
    )


def errors_section(validation: EvaluationSet, threshold: float) -> None:
    st.header("Errors")
    if validation.image_root is None:
        st.info("The validation images are not on this machine, so the error gallery cannot be shown.")
        return
    st.markdown(
        "The validation images the model gets wrong most confidently at the shipped threshold. "
        "**Explain** opens one in the Diagnose page with its LIME and Grad-CAM explanation."
    )
    scores = validation.scores
    errors = most_confident_errors(scores.labels, scores.probabilities, threshold, ERRORS_SHOWN)
    for kind, title in (
        ("false_negatives", "Missed pneumonias (false negatives), lowest probability first"),
        ("false_positives", "False alarms (false positives), highest probability first"),
    ):
        st.subheader(title)
        if not len(errors[kind]):
            st.success("None in the validation split.")
            continue
        for column, index in zip(st.columns(ERRORS_SHOWN), errors[kind]):
            file = scores.files[index]
            path = validation.image_path(file)
            with column:
                if path is None:
                    st.warning(plain(f"'{file}' is not on this machine."))
                    continue
                show_thumbnail(path, f"p = {scores.probabilities[index]:.3f} · {Path(file).name}")
                if st.button("Explain", key=f"review_{file}", icon=":material/search:"):
                    st.session_state[REVIEW_PATH] = str(path.resolve())
                    st.switch_page(DIAGNOSE_PAGE)


def model_card_section(model_card: dict, artifacts: str) -> None:
    st.header("Model card")
    architecture = model_card["architecture"]
    size = model_card["image_size"]
    st.markdown(
        f"""
- **Version** `{model_card['version']}`, trained {model_card['trained_at']}
  ({model_card['hyperparameters']['epochs_run']} epochs, seed {model_card['seed']}).
- **Architecture** {architecture['summary']}; **{architecture['parameters']:,} parameters**; input {size}×{size}
  grayscale; output {architecture['output']}; Grad-CAM layer `{architecture['last_conv_layer']}`.
- **Operating point** {describe_operating_point(model_card)}
- **Preprocessing** {model_card['preprocessing']['decode']}; resize {model_card['preprocessing']['resize']};
  CLAHE clip limit {model_card['preprocessing']['clahe']['clip_limit']}.
"""
    )
    with st.expander("Layer table (Keras summary)"):
        st.code(network_summary(artifacts), language=None)
    with st.expander("Hyperparameters and library versions"):
        st.json({"hyperparameters": model_card["hyperparameters"], "libraries": model_card["library_versions"]})
    st.subheader("Training data and licence")
    st.markdown(DATASET_CITATION)
    st.subheader("Intended use")
    st.markdown(INTENDED_USE)
    st.subheader("Known limits")
    leak = PATIENT_LEAK_NOTE if "train/" in model_card["data"]["validation_source"] else ""
    st.markdown(KNOWN_LIMITS + leak)


def score(evaluate: Callable[[Callable[[int, int], None]], dict], taken: list[str]) -> None:
    """Score a labelled set in the shared lane, behind other sessions' work, and keep it for this session."""
    def scored(progress: Callable[[float], None]) -> dict:
        return evaluate(lambda done, total: progress(done / total))

    try:
        report = in_line("Scoring the labelled images…", scored)
    except (FileNotFoundError, ValueError) as error:
        st.error(plain(str(error)))
        return
    report["name"] = unique_name(report["name"], taken)
    st.session_state.setdefault(OWN_EVALUATIONS, []).append(report)
    st.session_state[OWN_NOTICE] = (
        f"Scored '{report['name']}': {report['n']} images, {len(report['skipped'])} skipped. It is now a tab "
        "under Performance and a choice in the threshold explorer and calibration."
    )
    st.rerun()


def score_folder(text: str, taken: list[str]) -> None:
    path = Path(text).expanduser()
    path = path if path.is_absolute() else PROJECT_ROOT / path
    if not path.is_dir():
        st.error(plain(f"There is no folder '{text}' on this machine."))
        return
    try:
        folder = resolve_evaluation_folder(path)
    except FileNotFoundError as error:
        st.error(plain(str(error)))
        return
    score(lambda progress: evaluate_folder(classifier(), folder, progress), taken)


def score_archive(upload: UploadedFile, taken: list[str]) -> None:
    """An uploaded zip is read member by member from memory; nothing is written to disk."""
    try:
        archive = open_labelled_zip(upload.getvalue(), upload.name)
    except ArchiveError as error:
        st.error(plain(str(error)))
        return
    score(lambda progress: evaluate_archive(classifier(), archive, progress), taken)


def own_data_section(taken: list[str]) -> None:
    st.header("Evaluate your own data")
    st.markdown(
        "Score a labelled set — a folder holding `NORMAL/` and `PNEUMONIA/` (or a dataset root with a `test/` "
        "split), or a zip of one. It becomes another evaluation set for this session; nothing is saved. "
        "Unreadable files are skipped and listed."
    )
    if OWN_NOTICE in st.session_state:
        st.success(plain(st.session_state.pop(OWN_NOTICE)))
    from_folder, from_zip = st.columns(2)
    with from_folder:
        text = st.text_input("Labelled folder on this machine", key="own_folder",
                             placeholder="/path/to/folder with NORMAL/ and PNEUMONIA/")
        if st.button("Score folder", key="score_folder"):
            if text.strip():
                score_folder(text.strip(), taken)
            else:
                st.error("Enter the path of a labelled folder first.")
    with from_zip:
        upload = st.file_uploader("…or a zip holding NORMAL/ and PNEUMONIA/", type=["zip"], key="own_zip")
        if st.button("Score archive", key="score_zip"):
            if upload is not None:
                score_archive(upload, taken)
            else:
                st.error("Choose a zip file first.")


st.title("Model & data")
st.markdown(
    "What the model was trained on, how well it does on each labelled set, how the threshold trades missed "
    "pneumonias against false alarms, and where it goes wrong."
)
model_card = card()
artifacts = str(artifacts_dir())
sets, problems = evaluation_sets(artifacts, model_card)
sets = sets + [report_set(report) for report in st.session_state.get(OWN_EVALUATIONS, [])]
for problem in problems:
    st.warning(plain(problem))
shipped = stored_threshold(model_card["threshold"])

dataset_section(model_card, sets)
training_section(model_card)
performance_section(sets, model_card, shipped)
threshold_explorer(sets, shipped)
calibration_section(sets, model_card)
errors_section(sets[0], shipped)
model_card_section(model_card, artifacts)
own_data_section([s.name for s in sets])
