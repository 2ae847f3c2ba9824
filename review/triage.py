"""Score a batch of uploaded files, and say in plain words what each score means and how far to trust it.

Every file is decoded on its own, so one bad file gets its own message and
the others still get a result; the readable ones go through the network in
one batch per test-time shift. Each result carries its trust signals: the
range of the probability under small shifts, and, when the model ships an
out-of-distribution detector, whether the image is unlike the training X-rays.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from scipy.special import logit

from model.dataset import CLASS_NAMES
from model.errors import ImageInputError
from model.explain.views import viewer_shape
from model.imaging.decode import decode_image
from model.imaging.decoded import DecodedImage
from model.inference import Classifier
from model.operating_point import OperatingPoint, calls_at
from model.trust.metadata import TrustFlag, metadata_flags
from model.trust.ood import OodAssessment, OodModel, assess, pixel_reasons
from model.trust.uncertainty import UNCERTAIN_LABEL, Uncertainty, uncertainties
from model.trust.view_checks import Probe, image_flags, view_features

NEAR_THRESHOLD_ODDS_FACTOR = 3.0
NEAR_THRESHOLD_FLAG = "near threshold"
NEAR_THRESHOLD_CAUTION = (
    "The probability lies close to the threshold (odds of pneumonia within a factor of 3 of the threshold's): "
    "a slightly different image could flip the label. Read this X-ray with particular care."
)
OOD_FLAG = "unlike training X-rays"
# Short codes of the trust signals that are not read from a DICOM header (model.trust.metadata has those).
UNLIKE_TRAINING = "unlike-training"
UNCERTAIN = "uncertain"
UNRELIABLE_CAPTION = "Unreliable: not a frontal chest X-ray like the training ones (see why above)."
OOD_WARNING = (
    "Do not rely on this result: the image does not look like the frontal chest X-rays the model was trained "
    "on, and the model answers NORMAL or PNEUMONIA for anything it is given."
)


@dataclass
class Assessment:
    """One uploaded file: its prediction and how far to trust it, or why there is none."""

    name: str
    digest: str
    point: OperatingPoint  # the model's, which makes the call
    image: DecodedImage | None = None
    model_input: np.ndarray | None = None
    probability: float = float("nan")
    error: str | None = None
    error_detail: str = ""  # what the decoder said, for whoever supports the app; not part of the message
    flags: list[str] = field(default_factory=list)
    uncertainty: Uncertainty | None = None
    ood: OodAssessment | None = None
    image_flags: list[TrustFlag] = field(default_factory=list)  # lateral or adult, read from the pixels

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> int:
        """1 PNEUMONIA when the probability reaches the threshold, else 0 NORMAL."""
        return self.point.label_of(self.probability)

    @property
    def threshold(self) -> float:
        return self.point.threshold

    @property
    def label_name(self) -> str:
        return CLASS_NAMES[self.label]

    @property
    def view_flags(self) -> list[TrustFlag]:
        """What the DICOM header says against judging this image, then what the pixels say that it does not.

        The header is the better witness: an image-only flag is kept only when
        the header raised no flag with the same code.
        """
        metadata = self.image.metadata if self.image is not None else None
        flags = metadata_flags(metadata) if metadata is not None else []
        said = {flag.code for flag in flags}
        return flags + [flag for flag in self.image_flags if flag.code not in said]

    @property
    def unreliable(self) -> bool:
        """Unlike the training X-rays, not a frontal chest radiograph, or a lateral view: shown for reference only."""
        return (self.ood is not None and self.ood.flagged) or any(flag.unreliable for flag in self.view_flags)

    @property
    def trust_signals(self) -> list[TrustFlag]:
        """Every reason not to take the probability at face value, as short codes with plain reasons.

        The page, the triage table, the PDF and the batch CSV all read this list.
        """
        signals = list(self.view_flags)
        if self.ood is not None and self.ood.flagged:
            signals.append(TrustFlag(UNLIKE_TRAINING, " ".join(self.ood.reasons)))
        if self.uncertainty is not None and self.uncertainty.straddles_threshold:
            signals.append(TrustFlag(UNCERTAIN, uncertainty_caution(self.uncertainty), unreliable=False))
        return signals

    @property
    def trust_flags(self) -> list[str]:
        """The short names of the trust signals, for the triage table."""
        names = {UNLIKE_TRAINING: OOD_FLAG, UNCERTAIN: UNCERTAIN_LABEL}
        return [names.get(signal.code, signal.code) for signal in self.trust_signals]


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_near_threshold(probability: float, threshold: float) -> bool:
    """Odds of pneumonia within a factor of 3 of the threshold's odds.

    Measured in odds, not percentage points, so "near" means the same at a
    threshold of 0.2 as at 0.7: around 0.5 it is 0.25 to 0.75.
    """
    eps = 1e-9
    distance = logit(np.clip(probability, eps, 1 - eps)) - logit(np.clip(threshold, eps, 1 - eps))
    return bool(abs(distance) < np.log(NEAR_THRESHOLD_ODDS_FACTOR))


def interval_range(uncertainty: Uncertainty) -> str:
    return f"{uncertainty.low:.1%}–{uncertainty.high:.1%}"


def interval_text(uncertainty: Uncertainty) -> str:
    return f"{interval_range(uncertainty)} under small shifts"


def uncertainty_caution(uncertainty: Uncertainty) -> str:
    """Why an interval across the threshold needs a closer look, with the numbers."""
    return (
        f"{UNCERTAIN_LABEL.capitalize()}: slightly cropped, shifted or re-exposed copies of this image score "
        f"{interval_text(uncertainty)}, on both sides of the threshold ({uncertainty.threshold:.1%}). "
        "The label hangs on details a second film could change."
    )


def assess_files(
    classifier: Classifier, files: Sequence[tuple[str, bytes]], ood: OodModel | None = None,
    probes: Sequence[Probe] = (),
) -> list[Assessment]:
    """Decode and score every (name, bytes) pair, in the order given.

    Without `ood` (a model packaged without a detector) nothing is judged out
    of distribution and Assessment.ood stays None; without `probes` no image
    is checked for being a lateral view or an adult's chest.
    """
    assessments: list[Assessment] = []
    for name, data in files:
        assessment = Assessment(name, digest_of(data), classifier.point)
        try:
            assessment.image = decode_image(data, name)
        except ImageInputError as error:
            assessment.error, assessment.error_detail = str(error), error.detail
        else:
            assessment.model_input = classifier.model_input(assessment.image.pixels)
            image = assessment.image
            pixel_problems = pixel_reasons(image.pixels, image.colour_fraction, image.transparent_fraction)
            if ood is not None:
                assessment.ood = assess(classifier, ood, image.pixels, pixel_problems)
            # When the image checks already say why it is unlike the training X-rays (a photograph, a blank or
            # see-through image, one turned or inverted), the view and age probes would only add wrong reasons.
            explained = pixel_problems or (assessment.ood is not None and assessment.ood.correction)
            if probes and not explained:
                features = view_features(classifier, [image.pixels])
                assessment.image_flags = image_flags(list(probes), features)
        assessments.append(assessment)
    readable = [a for a in assessments if a.ok]
    for assessment, spread in zip(readable, uncertainties(classifier, [a.image.pixels for a in readable])):
        assessment.uncertainty = spread
        assessment.probability = spread.probability  # the unshifted copy's: the prediction itself
        if is_near_threshold(assessment.probability, assessment.threshold):
            assessment.flags.append(NEAR_THRESHOLD_FLAG)
        assessment.flags += assessment.image.notes
    return assessments


def at_display_size(assessment: Assessment) -> Assessment:
    """The assessment with its image shrunk to the size the viewer draws it at, for keeping in a cache.

    Everything that needs the full resolution (the model input, the trust
    checks, the uncertainty) is computed by then; an 8000x8000 upload kept as
    decoded would hold 61 MB per cache entry, and its 16-bit values 244 MB more.
    """
    image = assessment.image
    if image is None:
        return assessment
    height, width = viewer_shape(*image.shape)
    if (height, width) == image.shape:
        return assessment
    small = cv2.resize(image.pixels, (width, height), interpolation=cv2.INTER_AREA)
    grey = image.grey.resized(height, width) if image.grey is not None else None
    return replace(assessment, image=replace(image, pixels=small, grey=grey))


def by_probability(assessments: Sequence[Assessment]) -> list[Assessment]:
    """Readable files, most likely pneumonia first: the order a reader should look at them."""
    return sorted((a for a in assessments if a.ok), key=lambda a: -a.probability)


def certainty_sentence(probability: float, threshold: float) -> str:
    """How sure the model is, in one sentence a patient could follow.

    The probability is calibrated, so it reads as a frequency among X-rays
    that got the same score.
    """
    label = int(calls_at(probability, threshold))
    name = CLASS_NAMES[label].lower()
    own = probability if label == 1 else 1.0 - probability
    if own >= 0.95:
        opening = f"The model is very sure this is {name}"
    elif own >= 0.80:
        opening = f"The model is fairly sure this is {name}"
    elif own >= 0.60:
        opening = f"The model leans towards {name}"
    else:
        opening = f"The model is unsure and says {name}"
    return f"{opening}: about {round(100 * probability)} in 100 X-rays that score like this one show pneumonia."
