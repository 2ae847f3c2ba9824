"""A piece of explanation work named by what decides its answer: its kind, the image, the model and the settings.

That name is also its key in the shared result store, so a second reader of
the same image, on any replica, gets the answer at once. Nothing here
imports TensorFlow: a worker's main process reads jobs before its pool forks.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from model.explain.lime import LimeSettings

EXPLANATION, STABILITY, FAITHFULNESS = "explanation", "stability", "faithfulness"
RESULT_PREFIX = "xray:result:v1"  # v1: the codec's format; a release that changes it moves to v2


class JobError(Exception):
    """Explanation work that could not be done or followed: the message is for every reader, the detail (what
    Redis or the worker said) for admins only."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Job:
    """One piece of explanation work; `params` is canonical JSON (LIME's settings and more), so equal work has one
    key."""

    kind: str
    digest: str
    model_version: str
    params: str

    @property
    def key(self) -> str:
        """Where its result lives in the shared store: the image digest, model version and settings decide it."""
        settings_hash = hashlib.sha256(self.params.encode()).hexdigest()[:24]
        return f"{RESULT_PREFIX}:{self.kind}:{self.model_version}:{self.digest}:{settings_hash}"


def _job(kind: str, digest: str, model_version: str, settings: LimeSettings, **more: int) -> Job:
    return Job(kind, digest, model_version, json.dumps({"settings": asdict(settings), **more}, sort_keys=True))


def explanation_job(digest: str, model_version: str, settings: LimeSettings) -> Job:
    return _job(EXPLANATION, digest, model_version, settings)


def stability_job(digest: str, model_version: str, settings: LimeSettings, label: int, count: int) -> Job:
    return _job(STABILITY, digest, model_version, settings, label=label, count=count)


def faithfulness_job(digest: str, model_version: str, settings: LimeSettings, label: int) -> Job:
    return _job(FAITHFULNESS, digest, model_version, settings, label=label)
