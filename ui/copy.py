"""The clinician-facing prose of both pages, kept in one place; its numbers come from the constants they describe.

Captions and labels stay beside the widget they explain; what is here is read as a paragraph.
"""
from __future__ import annotations

from model.trust.trained_ages import TRAINED_AGES_YEARS

YOUNGEST, OLDEST = (f"{age:.0f}" for age in TRAINED_AGES_YEARS)

DISCLAIMER = (
    "Decision support only, not a diagnosis. The model was trained on pediatric frontal chest "
    "X-rays from one hospital; a clinician must review every image and make the call."
)

# Diagnose.
UNSTABLE_CAUTION = (
    "The regions shown change with the random seed: read the LIME views as a rough picture, not a precise map."
)
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

# Model & data.
MODEL_PAGE_INTRO = (
    "What the model was trained on, how well it does on each labelled set, how the threshold trades missed "
    "pneumonias against false alarms, and where it goes wrong."
)
PERFORMANCE_INTRO = (
    "One tab per evaluation set: the validation split, then every scored labelled folder — among them the later "
    "X-rays the operating point was fitted on, before and after that calibration."
)
ERRORS_INTRO = (
    "The validation images the model gets wrong most confidently at the shipped threshold. "
    "**Explain** opens one in the Diagnose page with its LIME and Grad-CAM explanation."
)
OWN_DATA_INTRO = (
    "Score a labelled set — a folder holding `NORMAL/` and `PNEUMONIA/` (or a dataset root with a `test/` "
    "split), or a zip of one. It becomes another evaluation set for this session; nothing is saved. "
    "Unreadable files are skipped and listed."
)
DATASET_CITATION = (
    "Kermany D, Zhang K, Goldbaum M (2018). *Labeled Optical Coherence Tomography (OCT) and Chest X-Ray "
    "Images for Classification*. Mendeley Data, V3. "
    "[doi:10.17632/rscbjbr9sj.3](https://doi.org/10.17632/rscbjbr9sj.3). Licence: "
    "[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/). Anterior-posterior chest X-rays of "
    f"pediatric patients aged {YOUNGEST} to {OLDEST} years from Guangzhou Women and Children's Medical Center, "
    "Guangzhou, graded by two expert physicians (the Kaggle *Chest X-Ray Images (Pneumonia)* layout)."
)
INTENDED_USE = (
    "Decision support when reviewing a frontal chest X-ray for pneumonia: the model gives a calibrated "
    "probability and shows which regions drove it, so a clinician can check the call. " + DISCLAIMER
)
KNOWN_LIMITS = f"""
- **Pediatric patients aged {YOUNGEST}–{OLDEST} only.** Adult chests and older children look different; the model has not
  been validated on them.
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
