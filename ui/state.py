"""Every key the app gives Streamlit, named once, so that pages, panels and tests cannot drift apart.

A widget's value lives in st.session_state under its key, so widget keys are listed too, and so are
the keys of charts and tables, by which tests find them. Keys that end in "_" are prefixes:
for_image adds the image, so that each image keeps its own answers.
"""
from __future__ import annotations

IMAGE_KEY_CHARS = 12

# Handed from one page to another.
REVIEW_PATH = "review_path"  # a file another page asks Diagnose to open, once

# Diagnose: where the files come from.
UPLOADS = "diagnose_uploads"
SAMPLE = "diagnose_sample"
SOURCE = "diagnose_source"  # the source the user touched last
PINNED_FILE = "diagnose_pinned_file"  # (name, bytes) of the file opened for review
TRIAGE_SELECTION = "triage_"  # + the batch
TRIAGE_OPEN = "triage_open_"  # + the batch: the row open for review
TRIAGE_NEXT = "triage_next"
TRIAGE_PREVIOUS = "triage_previous"

# Diagnose: the PACS (ui/diagnose/pacs.py); per session only, never in a shared cache.
PACS_PANEL = "pacs_panel"  # open or not
PACS_SEARCH = "pacs_search"
PACS_SEARCHES = "pacs_searches"  # how many searches this session made: numbers the worklist's table
PACS_WORKLIST = "pacs_worklist"  # the last search's images (review.pacs.connection.WorklistImage)
PACS_TABLE = "pacs_table_"  # + the search's number and whether identifiers are shown
PACS_WANTED = "pacs_wanted"  # the row just chosen, retrieved on this run
PACS_IDENTIFIERS = "pacs_identifiers"
PACS_OPEN = "pacs_open"  # (WorklistImage, the file's bytes) of the image opened from the PACS
PACS_SEND = "pacs_send_"  # + the image

# Diagnose: one image's panels.
IDENTIFIERS_SHOWN = "identifiers_"
EVIDENCE_CLASS = "evidence_"  # + the image's whole digest
VIEWER = "viewer_"  # + the image: the viewer component
VIEWER_CHOICE = "viewer_choice_"  # + the image: its window and invert (review.viewer.ViewerChoice)
VIEWER_IMAGE = "viewer_image"  # the windowed X-ray last encoded for the viewer, with its key
VIEWER_WINDOW = "viewer_window_"
VIEWER_INVERT = "viewer_invert_"
VIEWER_CENTRE = "viewer_centre_"
VIEWER_WIDTH = "viewer_width_"
LIME_ALGORITHM = "lime_algorithm"
LIME_SAMPLES = "lime_samples"
LIME_REGIONS = "lime_regions"
LIME_SEED = "lime_seed"
STABILITY_BUTTON = "stability_"
JOB_RETRY = "job_retry_"  # + the kind of job and the image: ask the task queue again after it failed
JOB_FAILURES = "job_failures"  # job key -> the JobError that ended it, until the reader asks again
STABILITY_CHECKED = "stability_checked"  # the views whose stability was asked for
FAITHFULNESS_OPEN = "faithfulness_open"
AUDIT_READ = "audit_read_"
AUDIT_NOTE = "audit_note_"
AUDIT_OUTCOME = "audit_outcome_"  # what Save did, shown once under the form
AUDIT_FORM = "audit_"
AUDIT_RECENT = "audit_recent"
DICOM_FIELDS = "dicom_fields_"
DICOM_IDENTIFIERS = "dicom_identifiers_"  # + whether they are shown
FAITHFULNESS_CHART = "faithfulness_"  # + the image's whole digest
FAITHFULNESS_AREAS = "faithfulness_areas_"  # + the image's whole digest

# Reads.
READS_FILTER = "reads_filter"  # the readers an admin narrowed the trail to
READS_TABLE = "reads_table"

# Model & data.
EXPLORER_SET = "explorer_set"
EXPLORER_THRESHOLD = "explorer_threshold"
CALIBRATION_SET = "calibration_set"
EXPLAIN_ERROR = "review_"  # + the misclassified file
OWN_FOLDER = "own_folder"
SCORE_FOLDER = "score_folder"
OWN_ZIP = "own_zip"
SCORE_ZIP = "score_zip"
OWN_EVALUATIONS = "own_evaluations"  # reports of the sets scored in this session
OWN_EVALUATION_NOTICE = "own_evaluation_notice"  # the name of the set just scored, for its notice
CLASS_DISTRIBUTION_CHART = "class_distribution"
IMAGE_SIZES_CHART = "image_sizes"
TRAINING_CURVES_CHART = "training_curves"
THRESHOLD_CONFUSION_CHART = "threshold_confusion"
THRESHOLD_SWEEP_CHART = "threshold_sweep"
RELIABILITY_CHART = "reliability"
CONFUSION_CHART = "confusion_"  # + the evaluation set's name
ROC_PR_CHART = "roc_pr_"  # + the evaluation set's name


def lime_parameter(algorithm: str) -> str:
    """One key per algorithm: each segmentation knob keeps its own value when the algorithm changes."""
    return f"lime_{algorithm}_parameter"


def for_image(prefix: str, digest: str) -> str:
    """The key `prefix` for one image (or batch), from the start of its SHA-256 digest."""
    return prefix + digest[:IMAGE_KEY_CHARS]
