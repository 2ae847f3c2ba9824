"""The department's topology as deploy/local.sh runs it (PostgreSQL, Redis, two replicas, a worker, HAProxy), used
through the balancer in a real browser, with a replica and a worker killed under it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page

from model.paths import ARTIFACTS_ENV, PROJECT_ROOT
from review.jobs.job import RESULT_PREFIX
from review.jobs.queue import PROGRESS_STATE
from review.jobs.settings import BROKER_ENV
from tests.browser import (
    HOST,
    PAGE_TIMEOUT_MS,
    free_port,
    reads_page,
    save_a_read,
    shown_errors,
    wait_for_result,
    wait_until_idle,
)
from tests.e2e import BROWSER_TEST

pytestmark = BROWSER_TEST

LOCAL_SH = PROJECT_ROOT / "deploy" / "local.sh"
AFFINITY_COOKIE = "XRAY_REPLICA"  # deploy/haproxy.cfg
NOTE = "Left lower zone opacity (topology test)"
MOST_SAMPLES_KEYS = "End"  # on a focused slider: its largest value (5,000 LIME samples: seconds of work)


@dataclass
class Topology:
    url: str
    state: Path
    settings: dict[str, str]

    def pid(self, name: str) -> int:
        return int((self.state / "pids" / name).read_text())

    def store(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings[BROKER_ENV])


def local_sh(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(LOCAL_SH), command], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300)


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[Topology]:
    """`deploy/local.sh up` on a free port with one worker process; `down` afterwards, checked to leave nothing."""
    state, port = tmp_path_factory.mktemp("topology"), free_port()
    env = {**os.environ, "XRAY_LOCAL_DIR": str(state), "XRAY_PORT": str(port), "XRAY_WORKER_PROCESSES": "1",
           "PYTHON": sys.executable, ARTIFACTS_ENV: str(artifacts_dir)}
    groups: list[int] = []
    try:
        started = local_sh("up", env)
        groups = [int(path.read_text()) for path in (state / "pids").glob("*")]
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"All healthy. The app is at http://{HOST}:{port}" in started.stdout
        settings = dict(line.split("=", 1) for line in (state / "environment").read_text().splitlines())
        yield Topology(f"http://{HOST}:{port}", state, settings)
    finally:
        postgres = Path((state / "postgres_dir").read_text().strip()) if (state / "postgres_dir").exists() else None
        stopped = local_sh("down", env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not [pid for pid in groups if group_alive(pid)], "down left processes running"
        assert postgres is None or not postgres.exists(), "down left PostgreSQL's cluster"


def new_context(browser: Browser) -> BrowserContext:
    return browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)


def replica_of(context: BrowserContext) -> str:
    return next(cookie["value"] for cookie in context.cookies() if cookie["name"] == AFFINITY_COOKIE)


def test_a_read_outlives_the_replica_that_took_it_and_the_explanation_came_from_the_worker(
    topology, browser, val_images
):
    path = val_images[0][0]
    context = new_context(browser)
    page = context.new_page()
    page.goto(topology.url)
    save_a_read(page, path, NOTE)
    wait_for_result(page, path.name)
    explained = topology.store().keys(f"{RESULT_PREFIX}:explanation:*")
    assert explained, "the explanation shown was not computed by the worker into the shared store"

    first = replica_of(context)
    os.killpg(topology.pid(first), signal.SIGKILL)
    page.reload()
    page.get_by_test_id("stFileUploaderDropzoneInput").wait_for(state="attached", timeout=PAGE_TIMEOUT_MS)
    assert replica_of(context) != first, "the next page load went back to the dead replica"
    [row] = reads_page(page, "1 read recorded by everyone")
    assert row["note"] == NOTE

    # A second reader of the same image, on the replica left: the explanation from the store at once, no new task.
    other = new_context(browser).new_page()
    other.goto(topology.url)
    tasks_before = len(topology.store().keys("celery-task-meta-*"))
    other.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files([path])
    wait_for_result(other, path.name)
    assert len(topology.store().keys("celery-task-meta-*")) == tasks_before


def running_task(store: redis.Redis) -> bool:
    for key in store.keys("celery-task-meta-*"):
        meta = store.get(key)
        if meta is not None and json.loads(meta).get("status") == PROGRESS_STATE:
            return True
    return False


def pool_processes(worker_pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == worker_pid:
                    children.append(int(entry.name))
            except OSError:
                continue
    return children


def ask_for_most_samples(page: Page) -> None:
    """Open the explanation settings and move the samples slider to its end: a new, long LIME run."""
    page.get_by_text("Explanation settings").click()
    slider = page.get_by_test_id("stSlider").filter(has_text="Perturbation samples").get_by_role("slider")
    slider.focus()
    slider.press(MOST_SAMPLES_KEYS)


def test_a_worker_process_killed_during_an_explanation_and_the_page_still_gets_it(topology, browser, val_images):
    path = val_images[1][0]
    page = new_context(browser).new_page()
    page.goto(topology.url)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files([path])
    wait_for_result(page, path.name)
    store = topology.store()
    for key in store.keys("celery-task-meta-*"):
        store.delete(key)
    ask_for_most_samples(page)
    deadline = time.monotonic() + 60
    while not running_task(store):
        assert time.monotonic() < deadline, "the worker never started the longer explanation"
        time.sleep(0.05)
    killed = pool_processes(topology.pid("worker"))
    assert killed
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    wait_until_idle(page, timeout_ms=PAGE_TIMEOUT_MS)
    wait_for_result(page, path.name)
    assert not shown_errors(page), shown_errors(page)
    assert group_alive(topology.pid("worker")) and set(pool_processes(topology.pid("worker"))) - set(killed)
