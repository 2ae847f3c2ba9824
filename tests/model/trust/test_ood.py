"""The out-of-distribution check of the shipped model on real X-rays and on images that are not X-rays."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as samples

from model.card import MODEL_FILE, ModelCard, read_card, write_card
from model.dataset import CLASS_NAMES, training_splits
from model.errors import ImageInputError
from model.imaging.decode import decode_image
from model.trust.ood import (
    MAX_BLACK_FRACTION,
    MAX_WHITE_FRACTION,
    MIN_GREY_STD,
    OOD_STATS_FILE,
    OOD_SUMMARY_FILE,
    OodModel,
    assess,
    load_ood,
    main,
    pixel_reasons,
)
from tests.conftest import encode


@pytest.fixture(scope="module")
def ood(artifacts_dir) -> OodModel:
    return load_ood(artifacts_dir)


def assess_upload(classifier, ood: OodModel, data: bytes):
    """As the Diagnose page does: decode the bytes once, and judge the pixels with the colour decoding measured."""
    image = decode_image(data)
    return assess(classifier, ood, image.pixels, pixel_reasons(image.pixels, image.colour_fraction))


def colour_fraction(data: bytes) -> float:
    """The colour decoding measured on a file."""
    return decode_image(data).colour_fraction


def test_no_validation_original_is_flagged(classifier, ood, val_images):
    for path, _ in val_images:
        result = assess_upload(classifier, ood, path.read_bytes())
        assert not result.flagged, (path.name, result.reasons)
        assert result.reasons == ()
        assert result.distance <= result.threshold == ood.threshold


def test_a_colour_photograph_is_flagged_for_its_colour(classifier, ood):
    result = assess_upload(classifier, ood, encode(Image.fromarray(samples.astronaut()), "PNG"))
    assert result.flagged
    assert any("in colour" in reason for reason in result.reasons)


def test_a_grayscale_photograph_is_flagged_by_the_network_alone(classifier, ood):
    result = assess(classifier, ood, samples.camera())
    assert result.flagged
    assert result.distance > result.threshold
    assert any("does not look like the frontal chest X-rays" in reason for reason in result.reasons)


def test_a_blank_image_is_flagged_as_uniform(classifier, ood):
    result = assess_upload(classifier, ood, encode(Image.new("L", (512, 512), 200), "PNG"))
    assert result.flagged
    assert any("almost uniform" in reason for reason in result.reasons)


def test_an_over_exposed_xray_is_flagged_as_saturated(classifier, ood, xray_pixels):
    burnt = np.clip(xray_pixels.astype(np.float32) * 3.0, 0, 255).astype(np.uint8)
    result = assess(classifier, ood, burnt, pixel_reasons(burnt, colour=0.0))
    assert result.flagged
    assert any("pure white" in reason for reason in result.reasons)


@pytest.mark.parametrize(
    ("distortion", "named"),
    [(lambda x: 255 - x, "inverted"), (np.rot90, "on its side"), (lambda x: np.rot90(x, 2), "upside down")],
    ids=["inverted", "sideways", "upside-down"],
)
def test_an_inverted_or_turned_xray_is_flagged_and_named(classifier, ood, xray_pixels, distortion, named):
    result = assess(classifier, ood, distortion(xray_pixels))
    assert result.flagged
    assert any(named in reason for reason in result.reasons)


def test_colour_is_measured_on_the_file_as_decoded(xray_pixels):
    assert colour_fraction(encode(Image.fromarray(samples.coffee()), "JPEG")) > 0.5
    assert colour_fraction(encode(Image.fromarray(xray_pixels).convert("RGB"), "JPEG", quality=90)) == 0.0
    assert colour_fraction(encode(Image.fromarray(xray_pixels), "PNG")) == 0.0
    with pytest.raises(ImageInputError):
        colour_fraction(b"not an image")


@pytest.fixture
def small_dataset(tmp_path, val_images) -> Path:
    """The 16 originals laid out as a dataset root with only train/."""
    for path, label in val_images:
        target = tmp_path / "data" / "train" / CLASS_NAMES[label] / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return tmp_path / "data"


def copy_of_model(artifacts_dir: Path, target: Path, card: ModelCard) -> Path:
    target.mkdir()
    shutil.copyfile(artifacts_dir / MODEL_FILE, target / MODEL_FILE)
    write_card(card, target)
    return target


def test_the_cli_fits_the_detector_on_the_models_own_split(small_dataset, artifacts_dir, tmp_path):
    card = read_card(artifacts_dir)
    fit_files, val_files, _ = training_splits(
        small_dataset, card.hyperparameters["validation_fraction"], card.seed
    )
    card.data["train"]["counts"] = fit_files.class_counts()
    model_dir = copy_of_model(artifacts_dir, tmp_path / "model", card)
    assert main(["--data", str(small_dataset), "--model", str(model_dir)]) == 0
    fitted = load_ood(model_dir)
    assert fitted.summary["train_images"] == len(fit_files)
    assert fitted.summary["validation_images"] == len(val_files)
    assert fitted.mean.shape == (fitted.precision.shape[0],)
    assert fitted.threshold > 0


def test_the_cli_refuses_a_dataset_the_model_was_not_trained_on(small_dataset, artifacts_dir, tmp_path, capsys):
    model_dir = copy_of_model(artifacts_dir, tmp_path / "model", read_card(artifacts_dir))
    assert main(["--data", str(small_dataset), "--model", str(model_dir)]) == 2
    assert "not the dataset or split the model was trained on" in capsys.readouterr().err
    assert not (model_dir / OOD_STATS_FILE).exists() and not (model_dir / OOD_SUMMARY_FILE).exists()


def test_a_detector_fitted_for_another_model_file_is_refused(tmp_path, artifacts_dir):
    for name in (OOD_STATS_FILE, OOD_SUMMARY_FILE):
        (tmp_path / name).write_bytes((artifacts_dir / name).read_bytes())
    (tmp_path / MODEL_FILE).write_bytes(b"another model")
    with pytest.raises(ValueError, match="another model file"):
        load_ood(tmp_path)


@pytest.mark.parametrize(("level", "word"), [(255, "pure white"), (0, "pure black")])
def test_the_saturated_share_is_judged_at_its_limit(level, word):
    """One histogram gives the shares: just over the limit is flagged, at it is not."""
    limit = MAX_WHITE_FRACTION if level == 255 else MAX_BLACK_FRACTION
    rng = np.random.default_rng(0)
    pixels = rng.integers(60, 190, size=(400, 500), dtype=np.uint8)
    flat = pixels.reshape(-1)
    flat[: int(limit * flat.size)] = level
    assert not any(word in reason for reason in pixel_reasons(pixels, colour=0.0))
    flat[: int(limit * flat.size) + 2] = level
    assert any(word in reason for reason in pixel_reasons(pixels, colour=0.0))


def test_the_uniformity_check_uses_the_grey_levels_spread():
    rng = np.random.default_rng(1)
    spread = rng.normal(128, MIN_GREY_STD * 1.2, size=(300, 300)).clip(0, 255).astype(np.uint8)
    flat = rng.normal(128, MIN_GREY_STD * 0.8, size=(300, 300)).clip(0, 255).astype(np.uint8)
    assert not any("almost uniform" in reason for reason in pixel_reasons(spread, colour=0.0))
    assert any("almost uniform" in reason for reason in pixel_reasons(flat, colour=0.0))
