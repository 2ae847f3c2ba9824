"""Image-only checks: lateral views and adult chests told apart from the pediatric frontal X-rays."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from model.card import MODEL_FILE
from model.imaging.decode import read_image
from model.imaging.formats import image_files
from model.trust.metadata import AGE_OUTSIDE_TRAINING, LATERAL
from model.trust.ood import load_ood
from model.trust.view_checks import (
    LIMIT_SAMPLE,
    MAX_PEDIATRIC_FLAG_RATE,
    VIEW_CHECKS_FILE,
    fit_probe,
    image_flags,
    load_view_checks,
    mirror_symmetry,
)
from review.triage import assess_files
from tests.conftest import DATA_ROOT
from tests.inputs import dicom_bytes

OTHER_XRAYS = DATA_ROOT.parent / "other_xrays"


@pytest.fixture(scope="module")
def probes(artifacts_dir):
    return load_view_checks(artifacts_dir)


def test_the_committed_probes_record_how_they_were_fitted_and_how_well_they_held_out(probes):
    summary = {probe.code: probe.summary for probe in probes}
    assert set(summary) == {LATERAL, AGE_OUTSIDE_TRAINING}
    for fitted in summary.values():
        assert fitted["pediatric_later_images"] == 157 and fitted["pediatric_training_images"] == LIMIT_SAMPLE
        assert fitted["pediatric_later_flagged"] <= MAX_PEDIATRIC_FLAG_RATE
        assert fitted["pediatric_training_flagged"] <= MAX_PEDIATRIC_FLAG_RATE
    assert summary[LATERAL]["positives_flagged_leave_one_out"] >= 0.95
    assert summary[AGE_OUTSIDE_TRAINING]["positives_flagged_leave_one_out"] >= 0.6


@pytest.mark.slow  # 21 full-resolution X-rays through the whole triage
def test_pediatric_originals_pass_and_lateral_views_are_flagged(classifier, artifacts_dir, probes, val_images):
    files = [(path.name, path.read_bytes()) for path, _ in val_images]
    laterals = image_files(OTHER_XRAYS / "lateral")[:5]
    files += [(path.name, path.read_bytes()) for path in laterals]
    results = assess_files(classifier, files, load_ood(artifacts_dir), probes)
    pediatric, lateral = results[: len(val_images)], results[len(val_images) :]
    assert not any(flag.code == LATERAL for a in pediatric for flag in a.view_flags)
    for assessment in lateral:
        codes = [signal.code for signal in assessment.trust_signals]
        assert LATERAL in codes and assessment.unreliable, assessment.name
        assert "lateral" in assessment.trust_flags


def test_a_probe_limit_flags_at_most_the_allowed_share_of_later_pediatric_xrays():
    rng = np.random.default_rng(0)
    pediatric = rng.normal(0, 1, (300, 8))
    later = rng.normal(0, 1, (200, 8))
    wider = rng.normal(0, 1.5, (400, 8))
    other = rng.normal(0, 1, (20, 8)) + np.r_[6.0, np.zeros(7)]
    probe = fit_probe(LATERAL, other, pediatric, {"later": later, "wider": wider})
    for held_back in (later, wider):
        assert np.mean(probe.scores(held_back) > probe.limit) <= MAX_PEDIATRIC_FLAG_RATE + 1 / len(held_back)
    # The wider set sets the limit: the later one alone would flag more of it.
    assert np.mean(probe.scores(later) > probe.limit) < MAX_PEDIATRIC_FLAG_RATE
    assert probe.summary["positives_flagged_leave_one_out"] >= 0.9
    [flag] = image_flags([probe], other[:1])
    assert flag.code == LATERAL and flag.unreliable and "lateral" in flag.reason
    assert image_flags([probe], np.zeros((1, 8))) == []


@pytest.mark.slow  # 20 full-resolution adult X-rays through the whole triage
def test_a_dicom_header_age_is_not_repeated_by_the_image_check(classifier, probes):
    """An adult the pixels already betray, with PatientAge in its header: one age flag, the header's."""
    adults = [(path.name, path.read_bytes()) for path in image_files(OTHER_XRAYS / "adult_frontal")]
    flagged = [a for a in assess_files(classifier, adults, None, probes)
               if AGE_OUTSIDE_TRAINING in [flag.code for flag in a.image_flags]]
    assert flagged, "the adult probe flags some adult frontal X-rays"
    pixels = flagged[0].image.pixels.astype(np.uint16) * 16
    [dicom] = assess_files(classifier, [("adult.dcm", dicom_bytes(pixels, PatientAge="062Y"))], None, probes)
    age_flags = [flag for flag in dicom.view_flags if flag.code == AGE_OUTSIDE_TRAINING]
    assert len(age_flags) == 1 and "by the DICOM header" in age_flags[0].reason


def test_frontal_xrays_are_more_mirror_symmetric_than_lateral_ones(val_images):
    """Exposure does not matter: the symmetry is measured on an equalised copy."""
    frontal = [read_image(path).pixels for path, _ in val_images[:4]]
    lateral = [read_image(path).pixels for path in image_files(OTHER_XRAYS / "lateral")[:4]]
    frontal_symmetry = [mirror_symmetry(pixels) for pixels in frontal]
    assert min(frontal_symmetry) > np.median([mirror_symmetry(pixels) for pixels in lateral])
    darker = (frontal[0] * 0.6).astype(np.uint8)
    assert abs(mirror_symmetry(darker) - frontal_symmetry[0]) < 0.05
    assert mirror_symmetry(frontal[0][:, ::-1]) == pytest.approx(frontal_symmetry[0], abs=0.02)


def test_probes_fitted_for_other_features_are_refused(artifacts_dir, tmp_path):
    for name in (MODEL_FILE, VIEW_CHECKS_FILE):
        shutil.copy(artifacts_dir / name, tmp_path / name)
    payload = json.loads((tmp_path / VIEW_CHECKS_FILE).read_text())
    payload["feature_layers"] = ["pool"]
    (tmp_path / VIEW_CHECKS_FILE).write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="refit"):
        load_view_checks(tmp_path)
