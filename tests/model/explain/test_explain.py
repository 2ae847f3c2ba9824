"""LIME, Grad-CAM and their pictures, on the real trained model and real X-rays."""
from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
from lime.lime_image import LimeImageExplainer
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from model.dataset import list_labelled_files
from model.explain.agreement import agreement
from model.explain.figures import GRAD_CAM_COLORBAR_LABEL, draw_grad_cam_heatmap, draw_lime_heatmap
from model.explain.grad_cam import grad_cam
from model.explain.lime import SEGMENTATION_PARAMETERS, LimeExplanation, LimeSettings, explain_with_lime, segment
from model.explain.stability import jaccard, stability
from model.explain.views import display_image, explanation_views, grad_cam_heatmap, lime_heatmap
from model.imaging.decode import read_image
from model.inference import BATCH_SIZE, Classifier
from tests.conftest import DATA_ROOT

FAST = LimeSettings(num_samples=150, seed=7)


@pytest.fixture(scope="module")
def pneumonia_pixels(val_images) -> np.ndarray:
    return read_image(val_images[-1][0]).pixels


@pytest.fixture(scope="module")
def model_input(classifier: Classifier, pneumonia_pixels: np.ndarray) -> np.ndarray:
    return classifier.model_input(pneumonia_pixels)


@pytest.fixture(scope="module")
def explanation(classifier: Classifier, model_input: np.ndarray) -> LimeExplanation:
    return explain_with_lime(classifier, model_input, FAST)


@pytest.fixture(scope="module")
def reinitialised(classifier: Classifier) -> Classifier:
    """The same architecture with fresh random weights: explanations must not survive this."""
    keras.utils.set_random_seed(3)
    return Classifier(keras.models.clone_model(classifier.network), classifier.card)


@pytest.mark.parametrize("algorithm", sorted(SEGMENTATION_PARAMETERS))
def test_default_segmentations_give_a_few_dozen_numbered_regions(algorithm, model_input):
    regions = segment(model_input[..., 0] / 255.0, algorithm, SEGMENTATION_PARAMETERS[algorithm].default)
    count = regions.max() + 1
    assert regions.shape == model_input.shape[:2]
    assert np.array_equal(np.unique(regions), np.arange(count))
    assert 15 <= count <= 90, f"{algorithm} gave {count} regions"


def test_unknown_algorithm_is_refused(model_input):
    with pytest.raises(ValueError, match="Unknown segmentation"):
        segment(model_input[..., 0] / 255.0, "watershed", 10)


def test_lime_fits_the_log_odds_so_a_saturated_call_keeps_its_explanation(classifier, model_input, explanation):
    """A 20 times sharper temperature saturates the probability; the explanation only scales with it.

    LIME fits the log-odds (logit / T), so the weights grow by exactly the same
    factor and the fit stays as good. A linear model of the probability would
    see almost nothing move when regions are hidden and fit noise.
    """
    sharp_card = replace(classifier.card, point=replace(classifier.point, temperature=classifier.temperature / 20))
    sharp = Classifier(classifier.network, sharp_card, classifier.precision)
    probability = float(sharp.probabilities(model_input[np.newaxis])[0])
    assert abs(probability - 0.5) > 0.4999
    saturated = explain_with_lime(sharp, model_input, FAST)
    np.testing.assert_allclose(saturated.weights, 20 * explanation.weights, rtol=1e-3, atol=1e-6)
    assert saturated.score == pytest.approx(explanation.score, abs=1e-6)


def test_lime_is_lime_image_explainer_with_the_perturbed_images_built_at_once(classifier, model_input, explanation):
    """Same seed, same draws, same kernel and fit: the vectorised run gives lime's own weights and R²."""
    image = model_input[..., 0].astype(np.float32)

    def log_odds(batch: np.ndarray) -> np.ndarray:
        pneumonia = classifier.log_odds(batch[..., :1])
        return np.column_stack([-pneumonia, pneumonia])

    reference = LimeImageExplainer(random_state=FAST.seed).explain_instance(
        image, log_odds, labels=(0, 1), hide_color=None, top_labels=None,
        num_features=explanation.region_count, num_samples=FAST.num_samples, batch_size=BATCH_SIZE,
        segmentation_fn=lambda _: explanation.segments, random_seed=FAST.seed,
    )
    for label in (0, 1):
        weights = np.zeros(explanation.region_count)
        for region, weight in reference.local_exp[label]:
            weights[region] = weight
        np.testing.assert_allclose(explanation.weights[label], weights, rtol=1e-6, atol=1e-9)
    assert explanation.score == pytest.approx(reference.score)


def test_a_saturated_real_call_keeps_large_weights_and_a_good_fit(classifier):
    """The most confident call among later X-rays, at the page's defaults: weights of whole log-odds units, R² >= 0.7.

    On the probability scale such calls got weights of 1e-6 to 1e-2 and R² around 0.35.
    """
    later = list_labelled_files(DATA_ROOT / "calibration").paths[::8]
    inputs = np.stack([classifier.model_input(read_image(path).pixels) for path in later])
    probabilities = classifier.probabilities(inputs)
    most_sure = int(np.argmax(np.abs(probabilities - 0.5)))
    assert abs(probabilities[most_sure] - 0.5) > 0.49, "the later X-rays include a saturated call"
    label = int(probabilities[most_sure] >= classifier.threshold)
    result = explain_with_lime(classifier, inputs[most_sure])
    assert result.score >= 0.7
    assert np.abs(result.weights[label]).max() > 0.1
    assert result.weights[label][result.supporting_regions(label, 5)].sum() > 0.3


def test_lime_colour_bar_is_labelled_in_log_odds_of_the_class_shown(
    pneumonia_pixels, explanation, classifier, model_input
):
    """The PDF's colour bars, as drawn (the viewer's are tested in tests/review/test_viewer.py)."""
    xray = display_image(pneumonia_pixels)
    for label, name in ((1, "pneumonia"), (0, "normal")):
        overlay, norm = lime_heatmap(xray, explanation, label, 0.5)
        figure = Figure()
        draw_lime_heatmap(figure, figure.add_subplot(), overlay, norm, label)
        assert figure.axes[1].get_ylabel() == f"change in log-odds of {name}"
    overlay, norm = grad_cam_heatmap(xray, grad_cam(classifier.network, model_input, 1), 0.5)
    figure = Figure()
    draw_grad_cam_heatmap(figure, figure.add_subplot(), overlay, norm, 1)
    assert figure.axes[1].get_ylabel() == GRAD_CAM_COLORBAR_LABEL


def test_jaccard_of_region_sets():
    assert jaccard(np.array([1, 2, 3]), np.array([3, 2, 1])) == 1.0
    assert jaccard(np.array([1, 2]), np.array([2, 3])) == pytest.approx(1 / 3)
    assert jaccard(np.array([], int), np.array([], int)) == 1.0


def test_stability_reruns_other_seeds_and_counts_where_the_regions_recur(classifier, model_input, explanation):
    seen: list[float] = []
    result = stability(classifier, model_input, explanation, 1, 5, other_seeds=2, progress=seen.append)
    assert result.seeds == (FAST.seed + 1, FAST.seed + 2) and result.runs == 3
    assert len(result.overlaps) == 2 and np.all((result.overlaps >= 0) & (result.overlaps <= 1))
    np.testing.assert_array_equal(result.shown_regions, explanation.supporting_regions(1, 5))
    assert np.all(result.appearances[result.shown_regions] >= 1) and result.appearances.max() <= 3
    assert seen == sorted(seen) and seen[-1] == 1.0
    rerun = explain_with_lime(classifier, model_input, LimeSettings(num_samples=FAST.num_samples, seed=FAST.seed + 1))
    assert result.overlaps[0] == jaccard(explanation.supporting_regions(1, 5), rerun.supporting_regions(1, 5))
    assert "median Jaccard" in result.sentence()


def test_lime_explains_both_classes_of_every_region(explanation, model_input):
    regions = explanation.region_count
    assert explanation.segments.shape == model_input.shape[:2]
    assert explanation.weights.shape == (2, regions)
    assert np.all(np.isfinite(explanation.weights))
    # The log-odds of NORMAL are those of PNEUMONIA negated, so the two local linear models mirror each other.
    np.testing.assert_allclose(explanation.weights[0], -explanation.weights[1], atol=1e-9)
    np.testing.assert_allclose(explanation.intercept.sum(), 0.0, atol=1e-6)
    assert explanation.score <= 1.0
    assert np.abs(explanation.weights).max() > 0


def test_same_seed_gives_the_same_explanation(classifier, model_input, explanation):
    again = explain_with_lime(classifier, model_input, FAST)
    np.testing.assert_array_equal(again.segments, explanation.segments)
    np.testing.assert_array_equal(again.weights, explanation.weights)


def test_another_seed_gives_another_explanation(classifier, model_input, explanation):
    other = explain_with_lime(classifier, model_input, LimeSettings(num_samples=FAST.num_samples, seed=8))
    assert not np.allclose(other.weights, explanation.weights)


def test_lime_reports_progress_up_to_done(classifier, model_input):
    seen: list[float] = []
    explain_with_lime(classifier, model_input, LimeSettings(num_samples=130, seed=1), seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 2


def test_supporting_regions_are_positive_and_strongest_first(explanation):
    for label in (0, 1):
        top = explanation.supporting_regions(label, 5)
        weights = explanation.weights[label][top]
        assert np.all(weights > 0)
        assert np.all(np.diff(weights) <= 0)
        others = np.delete(explanation.weights[label], top)
        assert len(top) < 5 or weights.min() >= others.max()


@pytest.mark.parametrize("label", [0, 1])
def test_grad_cam_is_a_map_in_unit_range(classifier, model_input, label):
    cam = grad_cam(classifier.network, model_input, label)
    assert cam.shape == model_input.shape[:2]
    assert cam.min() >= 0.0 and cam.max() <= 1.0
    assert cam.max() == 0.0 or cam.max() > 0.99


def test_grad_cam_of_the_two_classes_differ(classifier, model_input):
    pneumonia = grad_cam(classifier.network, model_input, 1)
    normal = grad_cam(classifier.network, model_input, 0)
    assert not np.allclose(pneumonia, normal)


def test_agreement_is_full_when_grad_cam_ranks_lime_regions_first(explanation):
    label = 1
    top = explanation.supporting_regions(label, 3)
    cam = explanation.mask(top).astype(np.float64)
    result = agreement(explanation, cam, label, 3)
    assert result.share == pytest.approx(1.0)
    assert 0.0 < result.chance < 1.0
    opposite = agreement(explanation, 1.0 - cam, label, 3)
    assert opposite.share == pytest.approx(0.0)


def hottest_area_iou(first: np.ndarray, second: np.ndarray, share: float = 0.2) -> float:
    """Intersection over union of the `share` of pixels each map ranks highest (all of a flat map)."""
    top_first = first >= np.quantile(first, 1.0 - share)
    top_second = second >= np.quantile(second, 1.0 - share)
    return float((top_first & top_second).sum() / (top_first | top_second).sum())


def test_explanation_of_trained_model_differs_from_reinitialised_one(
    classifier, reinitialised, model_input, explanation
):
    """Sanity check of Adebayo et al. (2018): an explanation that ignores the weights explains nothing."""
    random_lime = explain_with_lime(reinitialised, model_input, FAST)
    np.testing.assert_array_equal(random_lime.segments, explanation.segments)
    lime_rank, _ = spearmanr(random_lime.weights[1], explanation.weights[1])
    assert abs(lime_rank) < 0.5
    assert np.abs(random_lime.weights).max() < 0.1 * np.abs(explanation.weights).max()
    trained_cam = grad_cam(classifier.network, model_input, 1)
    random_cam = grad_cam(reinitialised.network, model_input, 1)
    assert trained_cam.max() > 0.99
    assert hottest_area_iou(trained_cam, random_cam) < 0.5


def test_views_keep_the_uploaded_aspect_and_unit_range(classifier, pneumonia_pixels, model_input, explanation):
    cam = grad_cam(classifier.network, model_input, 1)
    views = explanation_views(pneumonia_pixels, explanation, cam, label=1, count=4, opacity=0.5)
    height, width = pneumonia_pixels.shape
    images = [views.xray, views.boundaries, views.top_regions, views.pros_cons, views.lime_heatmap,
              views.grad_cam_heatmap]
    for image in images:
        assert image.shape == views.xray.shape and image.shape[2] == 3
        assert image.min() >= 0.0 and image.max() <= 1.0
    assert abs(views.xray.shape[1] / views.xray.shape[0] - width / height) < 0.01
    assert views.lime_norm.vmin == -views.lime_norm.vmax
    assert not np.allclose(views.boundaries, views.xray)
    assert views.top_regions.mean() < views.xray.mean()


def test_opacity_zero_shows_the_plain_xray(classifier, pneumonia_pixels, model_input, explanation):
    cam = grad_cam(classifier.network, model_input, 1)
    views = explanation_views(pneumonia_pixels, explanation, cam, label=1, count=4, opacity=0.0)
    np.testing.assert_allclose(views.lime_heatmap, display_image(pneumonia_pixels), atol=1e-6)
    np.testing.assert_allclose(views.grad_cam_heatmap, display_image(pneumonia_pixels), atol=1e-6)


def test_support_sentence_gives_the_log_odds_and_the_factor_on_the_odds(explanation):
    regions = explanation.supporting_regions(1, 3)
    total = explanation.weights[1][regions].sum()
    sentence = explanation.support_sentence(1, 3)
    assert f"{total:+.2f}" in sentence and f"{np.exp(total):.3g}" in sentence
