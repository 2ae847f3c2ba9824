"""Scoring a batch of uploads: one bad file gets its own message, the others their results."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data as samples

from model.explain.views import VIEWER_LONG_SIDE
from model.trust.ood import load_ood
from model.trust.uncertainty import UNCERTAIN_LABEL
from review.triage import (
    NEAR_THRESHOLD_FLAG,
    OOD_FLAG,
    assess_files,
    at_display_size,
    by_probability,
    certainty_sentence,
    is_near_threshold,
)
from tests.conftest import encode


@pytest.fixture(scope="module")
def batch(classifier, val_images):
    files = [(path.name, path.read_bytes()) for path, _ in (val_images[0], val_images[-1])]
    files.insert(1, ("broken.jpg", b"\xff\xd8\xff\xe0 this is not a JPEG"))
    return assess_files(classifier, files)


def test_a_bad_file_gets_a_message_naming_it_and_the_others_are_scored(batch, classifier):
    good, bad, other = batch
    assert not bad.ok and "broken.jpg" in bad.error and np.isnan(bad.probability)
    for assessment in (good, other):
        assert assessment.ok and 0.0 <= assessment.probability <= 1.0
        assert assessment.probability == pytest.approx(classifier.probability_of(assessment.image.pixels), abs=1e-6)
        assert assessment.label_name == ("PNEUMONIA" if assessment.probability >= classifier.threshold else "NORMAL")


def test_triage_order_is_most_likely_pneumonia_first_without_unreadable_files(batch):
    ranked = by_probability(batch)
    assert [a.name for a in ranked] == [a.name for a in sorted(batch[::2], key=lambda a: -a.probability)]


def test_without_a_detector_no_image_is_judged_out_of_distribution(batch):
    assert all(a.ood is None and not a.unreliable for a in batch)


def test_every_result_carries_its_interval_and_a_photograph_is_flagged(classifier, artifacts_dir, val_images):
    photo = encode(Image.fromarray(samples.astronaut()), "PNG")
    files = [(val_images[-1][0].name, val_images[-1][0].read_bytes()), ("astronaut.png", photo)]
    xray, picture = assess_files(classifier, files, load_ood(artifacts_dir))
    assert not xray.unreliable and OOD_FLAG not in xray.trust_flags
    assert picture.unreliable and OOD_FLAG in picture.trust_flags and picture.ood.reasons
    for assessment in (xray, picture):
        spread = assessment.uncertainty
        assert spread.low <= assessment.probability <= spread.high and spread.probability == assessment.probability
        assert (UNCERTAIN_LABEL in assessment.trust_flags) == spread.straddles_threshold


def test_near_threshold_is_flagged(classifier, val_images):
    data = val_images[0][0].read_bytes()
    [assessment] = assess_files(classifier, [("x.jpeg", data)])
    assert (NEAR_THRESHOLD_FLAG in assessment.flags) == is_near_threshold(assessment.probability, classifier.threshold)
    assert is_near_threshold(0.55, 0.5) and is_near_threshold(0.3, 0.5) and not is_near_threshold(0.2, 0.5)
    assert is_near_threshold(0.57, 0.73) and not is_near_threshold(0.95, 0.73)
    assert is_near_threshold(0.1, 0.2) and not is_near_threshold(0.02, 0.2)


def test_decoding_notes_become_flags(classifier, xray_pixels):
    sixteen_bit = Image.fromarray(xray_pixels.astype(np.uint16) * 257)
    [assessment] = assess_files(classifier, [("deep.png", encode(sixteen_bit, "PNG"))])
    assert assessment.ok and assessment.image.notes
    assert set(assessment.image.notes) <= set(assessment.flags)


def test_duplicate_files_share_a_digest(classifier, val_images):
    data = val_images[1][0].read_bytes()
    first, second = assess_files(classifier, [("a.jpeg", data), ("b.jpeg", data)])
    assert first.digest == second.digest and first.probability == second.probability


@pytest.mark.parametrize(
    ("probability", "threshold", "expected"),
    [
        (0.99, 0.3, "very sure this is pneumonia"),
        (0.85, 0.3, "fairly sure this is pneumonia"),
        (0.02, 0.3, "very sure this is normal"),
        (0.35, 0.3, "unsure and says pneumonia"),
        (0.30, 0.5, "leans towards normal"),
    ],
)
def test_certainty_sentence_follows_the_label_and_the_probability(probability, threshold, expected):
    sentence = certainty_sentence(probability, threshold)
    assert expected in sentence
    assert f"about {round(probability * 100)} in 100" in sentence


def test_a_cached_assessment_keeps_only_a_viewer_size_image(classifier, val_images):
    """An 8000x8000 upload would keep 61 MB per cache entry; the viewer draws at most 2048 pixels, 16-bit values too."""
    path = val_images[3][0]
    grey = np.asarray(Image.open(path).convert("L"), dtype=np.uint16)
    large = Image.fromarray(cv2.resize(grey * 257, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_LINEAR))
    [full] = assess_files(classifier, [("large.png", encode(large, "PNG"))])
    kept = at_display_size(full)
    assert max(kept.image.shape) == VIEWER_LONG_SIDE and max(full.image.shape) > VIEWER_LONG_SIDE
    assert kept.image.grey.values.shape == kept.image.shape, "the 16-bit values shrink with the pixels"
    assert full.image.grey.values.max() > 255
    ratio = (kept.image.shape[0] / kept.image.shape[1]) / (full.image.shape[0] / full.image.shape[1])
    assert ratio == pytest.approx(1.0, abs=0.01)
    assert kept.probability == full.probability and kept.trust_flags == full.trust_flags
    np.testing.assert_array_equal(kept.model_input, full.model_input)
    small = Image.fromarray(np.asarray(Image.open(path).convert("L").resize((400, 300))))
    [already] = assess_files(classifier, [("small.png", encode(small, "PNG"))])
    assert at_display_size(already) is already


@pytest.mark.parametrize("level", [0, 255])
def test_a_wide_collimation_border_is_cropped_not_called_an_inverted_image(classifier, artifacts_dir, val_images, level):
    """A framed film was once said to "be inverted, a negative"; cropped, it is judged like the X-ray itself."""
    path = val_images[4][0]
    pixels = np.asarray(Image.open(path).convert("L"))
    height, width = pixels.shape
    framed = np.full((height + height // 4, width + width // 4), level, np.uint8)
    framed[height // 8 : height // 8 + height, width // 8 : width // 8 + width] = pixels
    ood = load_ood(artifacts_dir)
    [plain_xray, in_frame] = assess_files(
        classifier, [(path.name, path.read_bytes()), ("framed.png", encode(Image.fromarray(framed), "PNG"))], ood
    )
    assert any("uniform border" in note for note in in_frame.image.notes)
    assert not in_frame.ood.flagged and not any("inverted" in reason for reason in in_frame.ood.reasons)
    assert in_frame.probability == pytest.approx(plain_xray.probability, abs=0.02)
