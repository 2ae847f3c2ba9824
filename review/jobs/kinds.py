"""What each kind of job computes, the same in a worker's pool process and in the app's own process."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.explain.faithfulness import FaithfulnessCurves, deletion_insertion, random_importance
from model.explain.grad_cam import grad_cam
from model.explain.lime import LimeExplanation, LimeSettings, explain_with_lime
from model.explain.stability import STABILITY_RERUNS, Stability, stability
from model.inference import Classifier
from review.jobs.job import EXPLANATION, FAITHFULNESS, STABILITY, Job, explanation_job

# LIME first: it was the more faithful method over the validation split (bench/results/faithfulness.txt).
FAITHFULNESS_METHODS = ("LIME", "Grad-CAM", "random")


@dataclass(frozen=True)
class Explanation:
    """LIME for both classes and Grad-CAM for each: all the Why panel draws, whichever class the reader picks."""

    lime: LimeExplanation
    cams: tuple[np.ndarray, np.ndarray]


def explain(
    classifier: Classifier, model_input: np.ndarray, settings: LimeSettings, progress: Callable[[float], None]
) -> Explanation:
    """LIME (its progress), then Grad-CAM for each class (two gradient passes, a fraction of LIME's time)."""
    lime = explain_with_lime(classifier, model_input, settings, progress)
    cams = tuple(grad_cam(classifier.network, model_input, label) for label in (0, 1))
    return Explanation(lime, cams)


def faithfulness(
    classifier: Classifier, model_input: np.ndarray, explanation: Explanation, label: int, seed: int,
    progress: Callable[[float], None],
) -> dict[str, FaithfulnessCurves]:
    """Deletion and insertion curves of LIME, Grad-CAM and a random ordering seeded with LIME's seed (repeatable)."""
    importance = {
        "LIME": explanation.lime.weight_map(label),
        "Grad-CAM": explanation.cams[label],
        "random": random_importance(model_input.shape[:2], seed),
    }
    measured = {}
    for done, method in enumerate(FAITHFULNESS_METHODS, start=1):
        measured[method] = deletion_insertion(classifier, model_input, importance[method], label)
        progress(done / len(FAITHFULNESS_METHODS))
    return measured


def run(
    job: Job, classifier: Classifier, model_input: np.ndarray, explanation: Callable[[], Explanation],
    progress: Callable[[float], None],
) -> Explanation | Stability | dict[str, FaithfulnessCurves]:
    """Compute `job`; `explanation()` gives the explanation shown, which stability and faithfulness start from."""
    params = json.loads(job.params)
    settings = LimeSettings(**params["settings"])
    if job.kind == EXPLANATION:
        return explain(classifier, model_input, settings, progress)
    if job.kind == STABILITY:
        return stability(
            classifier, model_input, explanation().lime, params["label"], params["count"], STABILITY_RERUNS, progress
        )
    if job.kind == FAITHFULNESS:
        return faithfulness(classifier, model_input, explanation(), params["label"], settings.seed, progress)
    raise ValueError(f"unknown kind of job {job.kind!r}")


def shown_explanation(job: Job) -> Job:
    """The explanation a stability or faithfulness job starts from: the same image, model and LIME settings."""
    return explanation_job(job.digest, job.model_version, LimeSettings(**json.loads(job.params)["settings"]))
