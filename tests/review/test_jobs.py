"""Explanation work on the task queue: a real Redis and a real Celery worker, as deploy/ runs them."""
from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from model.explain.faithfulness import FaithfulnessCurves
from model.explain.lime import LimeExplanation, LimeSettings
from model.explain.stability import Stability
from model.paths import ARTIFACTS_ENV
from review.jobs import client
from review.jobs.codec import pack, unpack
from review.jobs.job import JobError, explanation_job, faithfulness_job, stability_job
from review.jobs.kinds import Explanation, run
from review.jobs.settings import WORKER_NICENESS
from review.jobs.store import ResultStore, StoreUnreachableError
from review.triage import Assessment, assess_files
from tests.browser import ARTIFACTS, free_port
from tests.services import celery_worker, redis_server

FAST = LimeSettings(num_samples=200)  # a real LIME run, short
SLOW = LimeSettings(num_samples=2000)  # seconds long: time to kill a worker in the middle of one


def small_explanation() -> Explanation:
    segments = np.arange(16).reshape(4, 4) % 3
    lime = LimeExplanation(segments, np.array([[0.5, -0.2, 0.1], [-0.5, 0.2, -0.1]]), np.zeros(2), 0.8, FAST)
    return Explanation(lime, (np.full((4, 4), 0.25, np.float32), np.eye(4, dtype=np.float32)))


def test_results_go_to_redis_as_arrays_and_json_and_come_back_equal():
    explanation = small_explanation()
    back = unpack(pack(explanation))
    assert isinstance(back, Explanation) and back.lime.settings == FAST and back.lime.score == 0.8
    np.testing.assert_array_equal(back.lime.segments, explanation.lime.segments)
    np.testing.assert_array_equal(back.cams[1], explanation.cams[1])
    stability = Stability(1, 3, (1, 2), np.array([0.5, 1.0]), np.array([0, 2]), np.array([3, 1, 2]))
    back = unpack(pack(stability))
    assert back.seeds == (1, 2) and back.sentence() == stability.sentence()
    curves = {"LIME": FaithfulnessCurves(1, np.linspace(0, 1, 3), np.array([2.0, 1, 0]), np.array([0.0, 1, 2]))}
    assert unpack(pack(curves))["LIME"].margin == curves["LIME"].margin


def test_bytes_that_would_need_pickle_are_refused():
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(b'{"array": "a0"}', dtype=np.uint8), a0=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        unpack(buffer.getvalue())


def test_the_key_is_the_image_the_model_and_every_setting():
    job = explanation_job("ab" * 32, "v1", FAST)
    assert job.key == explanation_job("ab" * 32, "v1", LimeSettings(num_samples=200)).key
    others = [
        explanation_job("cd" * 32, "v1", FAST), explanation_job("ab" * 32, "v2", FAST),
        explanation_job("ab" * 32, "v1", LimeSettings(num_samples=200, seed=1)),
        stability_job("ab" * 32, "v1", FAST, 1, 5), faithfulness_job("ab" * 32, "v1", FAST, 1),
    ]
    assert len({job.key, *(other.key for other in others)}) == len(others) + 1


def test_a_store_that_does_not_answer_is_said_at_once():
    started = time.monotonic()
    with pytest.raises(StoreUnreachableError, match="did not answer"):
        client.run_remotely(f"redis://127.0.0.1:{free_port()}/0", explanation_job("ab" * 32, "v1", FAST),
                            np.zeros((224, 224, 1), np.float32), lambda note, done: None)
    assert time.monotonic() - started < 10


@pytest.fixture(scope="module")
def assessments(classifier, val_images) -> list[Assessment]:
    return assess_files(classifier, [(path.name, path.read_bytes()) for path, _ in val_images[:4]])


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server(ARTIFACTS / "redis-jobs.log") as url:
        yield url


@pytest.fixture(scope="module")
def worker(redis_url: str, artifacts_dir: Path):
    with celery_worker(redis_url, ARTIFACTS / "celery-jobs.log", {ARTIFACTS_ENV: str(artifacts_dir)}) as process:
        yield process


def pool_children(worker) -> list[int]:
    """The worker's pool processes: the children of its main process."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == worker.pid:
                children.append(int(entry.name))
    return children


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.slow
def test_a_worker_explains_as_this_process_does_reports_progress_and_the_next_reader_gets_it_at_once(
    redis_url, worker, classifier, assessments
):
    assessment = assessments[0]
    job = explanation_job(assessment.digest, classifier.version, FAST)
    reports: list[tuple[str, float]] = []
    remote = client.run_remotely(redis_url, job, assessment.model_input, lambda note, done: reports.append((note, done)))
    here = run(job, classifier, assessment.model_input, lambda: None, lambda done: None)
    np.testing.assert_array_equal(remote.lime.segments, here.lime.segments)
    np.testing.assert_allclose(remote.lime.weights, here.lime.weights, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(remote.cams[assessment.label], here.cams[assessment.label], atol=1e-4)
    progress = [done for note, done in reports if not note]
    assert reports and progress == sorted(progress) and all(0 <= done <= 1 for done in progress)

    again: list[tuple[str, float]] = []
    assert client.run_remotely(redis_url, job, assessment.model_input, lambda *report: again.append(report)).lime.score \
        == remote.lime.score
    assert again == [], "a second reader of the same image waited for a worker"

    # Stability and faithfulness start from the explanation in the store, as the page's panels do.
    stability = client.run_remotely(redis_url, stability_job(assessment.digest, classifier.version, FAST, 1, 5),
                                    assessment.model_input, lambda *report: None)
    assert stability.runs == 5 and stability.label == 1
    curves = client.run_remotely(redis_url, faithfulness_job(assessment.digest, classifier.version, FAST, 1),
                                 assessment.model_input, lambda *report: None)
    assert set(curves) == {"LIME", "Grad-CAM", "random"}


@pytest.mark.slow
def test_the_worker_imports_tensorflow_only_in_its_pool_which_yields_to_the_web_processes(worker):
    [child] = pool_children(worker)
    assert "tensorflow" not in loaded_libraries(worker.pid), "TensorFlow was imported before the pool forked"
    assert "tensorflow" in loaded_libraries(child)
    assert niceness(child) == WORKER_NICENESS


@pytest.mark.slow
def test_two_readers_of_a_new_image_share_one_task(redis_url, worker, classifier, assessments):
    assessment = assessments[1]
    job = explanation_job(assessment.digest, classifier.version, FAST)
    log = ARTIFACTS / "celery-jobs.log"
    received_before = log.read_text().count("received")
    results: list[Explanation] = []
    readers = [threading.Thread(target=lambda: results.append(client.run_remotely(
        redis_url, job, assessment.model_input, lambda *report: None))) for _ in range(2)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=120)
    assert len(results) == 2 and results[0].lime.score == results[1].lime.score
    assert log.read_text().count("received") - received_before == 1


@pytest.mark.slow
def test_a_pool_process_killed_mid_task_has_its_task_run_again(redis_url, worker, classifier, assessments):
    assessment = assessments[2]
    job = explanation_job(assessment.digest, classifier.version, SLOW)
    killed: list[int] = []

    def report(note: str, done: float) -> None:
        if done > 0 and not killed:
            killed.extend(pool_children(worker))
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    explanation = client.run_remotely(redis_url, job, assessment.model_input, report)
    assert killed, "no progress was reported before the explanation ended"
    assert explanation.lime.region_count > 0 and worker.poll() is None
    here = run(job, classifier, assessment.model_input, lambda: None, lambda done: None)
    np.testing.assert_allclose(explanation.lime.weights, here.lime.weights, rtol=1e-3, atol=1e-4)


@pytest.mark.slow
def test_a_worker_serving_another_model_says_so(redis_url, worker, assessments):
    job = explanation_job(assessments[3].digest, "another-model", FAST)
    with pytest.raises(JobError, match="must run the same model"):
        client.run_remotely(redis_url, job, assessments[3].model_input, lambda *report: None)


@pytest.mark.slow
def test_with_no_worker_alive_the_page_is_told_and_not_kept_waiting(monkeypatch, assessments):
    monkeypatch.setattr(client, "STALL_SECONDS", 2)
    with redis_server(ARTIFACTS / "redis-no-worker.log") as url:
        notes: list[str] = []
        job = explanation_job(assessments[3].digest, "v1", FAST)
        with pytest.raises(JobError, match="No explanation worker is running"):
            client.run_remotely(url, job, assessments[3].model_input, lambda note, done: notes.append(note))
        assert client.NO_WORKER in notes
        assert ResultStore(url).waiting() == 1, "the task stays queued for a worker that starts later"


@pytest.mark.slow
def test_a_claim_is_taken_over_only_in_place_of_the_task_named_and_released_only_by_its_own(redis_url):
    store, job = ResultStore(redis_url), explanation_job("ef" * 32, "v1", FAST)
    assert store.claim(job, "first") == "first"
    assert store.claim(job, "second") == "first", "a second reader took over a live claim"
    assert store.claim(job, "third", replacing="not-the-holder") == "first"
    store.release(job, "second")
    assert store.task_of(job) == "first", "a reader gave up another's claim"
    assert store.claim(job, "fourth", replacing="first") == "fourth"
    store.release(job, "fourth")
    assert store.task_of(job) is None


@pytest.mark.slow
def test_a_damaged_stored_result_counts_as_none_and_is_dropped(redis_url):
    store, job = ResultStore(redis_url), explanation_job("12" * 32, "v1", FAST)
    redis.Redis.from_url(redis_url).set(job.key, b"not an npz")
    assert store.result(job) is None
    assert not store.has_result(job)


@pytest.mark.slow
def test_a_task_never_sent_is_given_up_not_waited_for(monkeypatch, redis_url, worker, classifier, assessments):
    monkeypatch.setattr(client, "STALL_SECONDS", 2)
    store = ResultStore(redis_url)
    job = explanation_job(assessments[3].digest, classifier.version, LimeSettings(num_samples=300))
    store.claim(job, "sent-by-a-replica-that-died-before-sending-it")
    notes: list[str] = []
    with pytest.raises(JobError, match="lost on its way to a worker"):
        client.run_remotely(redis_url, job, assessments[3].model_input, lambda note, done: notes.append(note))
    assert store.task_of(job) is None, "the dead claim was kept, so the next reader would wait on it too"
    assert client.run_remotely(redis_url, job, assessments[3].model_input, lambda *report: None).lime.region_count
