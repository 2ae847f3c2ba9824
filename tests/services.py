"""Real outside systems the tests start themselves on free loopback ports, and stop: PostgreSQL, an OpenID provider,
a PACS (Orthanc with its DICOMweb plugin), Redis and the explanation workers of the task queue.

PostgreSQL comes from Debian's `postgresql` package (.ci/run installs it). initdb and pg_ctl refuse to
run as root, and CI runs as root, so there they run as the package's `postgres` user. The identity
provider is `oidc-provider-mock` from PyPI: it signs in whichever predefined user the browser picks.
Orthanc comes from Debian's `orthanc` and `orthanc-dicomweb` packages, with a throwaway configuration:
authentication on, storage in a temporary folder, DICOM and HTTP on free ports. Redis is Debian's
`redis-server`, with nothing saved to disk; the workers are `celery --app review.jobs.worker worker`,
as deploy/ runs them.
"""
from __future__ import annotations

import base64
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
import requests
import sqlalchemy as sa

from model.paths import PROJECT_ROOT
from review.jobs.settings import BROKER_ENV
from review.jobs.store import ResultStore
from tests.browser import HOST, answers, free_port, running

POSTGRES_BINARIES = "/usr/lib/postgresql/*/bin"
POSTGRES_USER = "postgres"
SUPERUSER, SUPERUSER_PASSWORD = "xray_super", "super-secret"
APP_USER, APP_PASSWORD = "xray_app", "app-secret"
VIEWER_USER, VIEWER_PASSWORD = "xray_viewer", "viewer-secret"
STARTUP_SECONDS = 60
DISCOVERY_PATH = "/.well-known/openid-configuration"


def _postgres_bin() -> Path:
    found = sorted(Path("/").glob(POSTGRES_BINARIES.lstrip("/")), key=lambda path: int(path.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL's server is not installed: install Debian's postgresql package (.ci/run does).")
    return found[-1]


def _as_server_user(command: Sequence[str]) -> list[str]:
    return ["runuser", "-u", POSTGRES_USER, "--", *command] if os.geteuid() == 0 else list(command)


@dataclass
class PostgresServer:
    """A running PostgreSQL cluster with a superuser, an app user that owns databases and a viewer that may only read."""

    port: int
    folder: Path

    def url(self, database: str, user: str = APP_USER, password: str = APP_PASSWORD, port: int | None = None) -> str:
        return str(sa.URL.create(
            "postgresql+psycopg", username=user, password=password, host=HOST, port=port or self.port,
            database=database,
        ).render_as_string(hide_password=False))

    def execute(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser, each on its own (CREATE DATABASE refuses a transaction)."""
        with psycopg.connect(
            host=HOST, port=self.port, user=SUPERUSER, password=SUPERUSER_PASSWORD, dbname=database, autocommit=True,
        ) as connection:
            for statement in statements:
                connection.execute(statement)

    def new_database(self, name: str) -> str:
        """An empty database owned by the app user, which the viewer may connect to; its URL for the app user."""
        self.execute(f"CREATE DATABASE {name} OWNER {APP_USER}", f"GRANT CONNECT ON DATABASE {name} TO {VIEWER_USER}")
        return self.url(name)

    def let_viewer_read(self, database: str) -> None:
        self.execute(
            f"GRANT USAGE ON SCHEMA public TO {VIEWER_USER}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {VIEWER_USER}",
            database=database,
        )


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """initdb a new cluster in a temporary folder, start it on a free port, stop it and remove the folder on exit."""
    binaries = _postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="xray-postgres-"))
    data, password_file, log = folder / "data", folder / "superuser-password", folder / "server.log"
    password_file.write_text(SUPERUSER_PASSWORD)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(POSTGRES_USER)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    port = free_port()
    server = PostgresServer(port, folder)
    subprocess.run(_as_server_user([
        str(binaries / "initdb"), "--pgdata", str(data), "--username", SUPERUSER, "--pwfile", str(password_file),
        "--auth", "scram-sha-256", "--no-sync", "--encoding", "UTF8", "--locale", "C",
    ]), check=True, capture_output=True, cwd=folder)
    options = f"-p {port} -k {folder} -c listen_addresses={HOST} -c fsync=off"
    try:
        subprocess.run(_as_server_user([
            str(binaries / "pg_ctl"), "start", "--pgdata", str(data), "--log", str(log), "--wait",
            "--timeout", str(STARTUP_SECONDS), "-o", options,
        ]), check=True, capture_output=True, cwd=folder)
        server.execute(
            f"CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}'",
            f"CREATE ROLE {VIEWER_USER} LOGIN PASSWORD '{VIEWER_PASSWORD}'",
        )
        yield server
    finally:
        subprocess.run(_as_server_user([
            str(binaries / "pg_ctl"), "stop", "--pgdata", str(data), "--mode", "immediate", "--wait",
        ]), capture_output=True, cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class IdentityProvider:
    """A running OpenID Connect provider; `issuer` is also where its discovery document lives."""

    issuer: str
    process: subprocess.Popen

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}{DISCOVERY_PATH}"


@contextmanager
def identity_provider(users: Sequence[dict[str, object]], log: Path) -> Iterator[IdentityProvider]:
    """oidc-provider-mock on a free loopback port, with `users` (claims, each with "sub") one click away."""
    port = free_port()
    command = [sys.executable, "-m", "oidc_provider_mock", "--host", HOST, "--port", str(port)]
    for claims in users:
        command += ["--user-claims", json.dumps(claims)]
    issuer = f"http://{HOST}:{port}"
    provider_ready = lambda: answers(f"{issuer}{DISCOVERY_PATH}") is not None  # noqa: E731
    with running(command, log, provider_ready, "the identity provider") as process:
        yield IdentityProvider(issuer, process)


ORTHANC = "/usr/sbin/Orthanc"
ORTHANC_DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
PACS_USER, PACS_PASSWORD = "xray-app", "pacs-secret"
PACS_AE_TITLE = "ORTHANC"
APP_AE_TITLE = "XRAYAPP"  # the app's own AE title, which the PACS knows (C-GET and C-MOVE answer it)


@dataclass
class OrthancServer:
    """A running Orthanc; `url` is its REST root, `dicomweb_url` its DICOMweb root; `ca_bundle` the certificate
    that signs its HTTPS, when it serves HTTPS."""

    url: str
    dicom_port: int
    folder: Path
    ca_bundle: Path | None = None

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def store(self, data: bytes) -> str:
        """Put one DICOM file into the PACS through its REST API (not the app's path); its Orthanc id."""
        response = requests.post(f"{self.url}/instances", data=data, auth=(PACS_USER, PACS_PASSWORD), timeout=30,
                                 verify=str(self.ca_bundle or True))
        response.raise_for_status()
        return response.json()["ID"]

    def instances(self) -> list[dict]:
        """Every instance the PACS holds, with its main tags."""
        auth = (PACS_USER, PACS_PASSWORD)
        ids = requests.get(f"{self.url}/instances", auth=auth, timeout=30).json()
        return [requests.get(f"{self.url}/instances/{i}/simplified-tags", auth=auth, timeout=30).json() for i in ids]

    def file(self, sop_instance_uid: str) -> bytes:
        """The file the PACS holds for an instance, as stored."""
        auth = (PACS_USER, PACS_PASSWORD)
        found = requests.post(f"{self.url}/tools/lookup", data=sop_instance_uid, auth=auth, timeout=30).json()
        [instance] = [item["ID"] for item in found if item["Type"] == "Instance"]
        return requests.get(f"{self.url}/instances/{instance}/file", auth=auth, timeout=30).content


def _answers_signed_in(url: str, ca_bundle: Path | None = None, headers: dict[str, str] | None = None) -> bool:
    try:
        auth = None if headers else (PACS_USER, PACS_PASSWORD)
        return requests.get(url, auth=auth, headers=headers, timeout=2,
                            verify=str(ca_bundle or True)).status_code == 200
    except requests.RequestException:
        return False


@contextmanager
def tls_in_front(server: OrthancServer, log: Path, bearer_token: str = "") -> Iterator[OrthancServer]:
    """HAProxy terminating HTTPS in front of `server`, under a certificate made for the run (openssl), which is
    also the CA bundle a client must be given. (Debian's Orthanc 1.10 crashes on a TLS handshake of its own.)
    With `bearer_token`, it is a gateway that lets through only requests carrying that token, as the PACS's user."""
    folder = Path(tempfile.mkdtemp(prefix="xray-tls-"))
    key, certificate = folder / "key.pem", folder / "certificate.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(certificate), "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}"],
                   check=True, capture_output=True)
    (folder / "server.pem").write_text(certificate.read_text() + key.read_text())
    port, backend = free_port(), server.url.removeprefix("http://")
    gateway = ""
    if bearer_token:
        basic = base64.b64encode(f"{PACS_USER}:{PACS_PASSWORD}".encode()).decode()
        token_given = f'{{ req.hdr(authorization) -m str "Bearer {bearer_token}" }}'
        gateway = (f"  http-request deny deny_status 401 unless {token_given}\n"
                   f'  http-request set-header Authorization "Basic {basic}"\n')
    (folder / "haproxy.cfg").write_text(
        "defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"
        f"frontend pacs\n  bind {HOST}:{port} ssl crt {folder / 'server.pem'}\n{gateway}  default_backend orthanc\n"
        f"backend orthanc\n  server orthanc {backend}\n"
    )
    url = f"https://{HOST}:{port}"
    headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
    try:
        with running(["haproxy", "-db", "-f", str(folder / "haproxy.cfg")], log,
                     lambda: _answers_signed_in(f"{url}/system", certificate, headers), "HAProxy"):
            yield OrthancServer(url, server.dicom_port, server.folder, certificate)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def orthanc_server(log: Path) -> Iterator[OrthancServer]:
    """Orthanc on free loopback ports with a new, empty store."""
    folder = Path(tempfile.mkdtemp(prefix="xray-orthanc-"))
    http_port, dicom_port = free_port(), free_port()
    config = {
        "Name": "xray-tests",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {PACS_USER: PACS_PASSWORD},
        "DicomAet": PACS_AE_TITLE,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": True,
        "DicomModalities": {"xray-app": [APP_AE_TITLE, HOST, free_port()]},
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": False,
        "Plugins": [ORTHANC_DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "SaveJobs": False,
        "StableAge": 1,
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    url = f"http://{HOST}:{http_port}"
    try:
        with running([ORTHANC, str(folder / "orthanc.json")], log, lambda: _answers_signed_in(f"{url}/system"), "Orthanc",
                     cwd=folder):
            yield OrthancServer(url, dicom_port, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def redis_server(log: Path) -> Iterator[str]:
    """Redis on a free loopback port, keeping nothing on disk; yields its URL."""
    folder = Path(tempfile.mkdtemp(prefix="xray-redis-"))
    port = free_port()
    url = f"redis://{HOST}:{port}/0"
    command = ["redis-server", "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
               "--dir", str(folder)]
    try:
        with running(command, log, lambda: _redis_answers(url), "Redis"):
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@contextmanager
def celery_worker(broker_url: str, log: Path, env: dict[str, str] | None = None, concurrency: int = 1
                  ) -> Iterator[subprocess.Popen]:
    """Explanation workers as deploy/ starts them, ready once every pool process says it is alive."""
    command = [sys.executable, "-m", "celery", "--app", "review.jobs.worker", "worker", "--concurrency",
               str(concurrency), "--loglevel", "INFO", "--hostname", f"test-{free_port()}@%h"]
    environment = {**os.environ, BROKER_ENV: broker_url, **(env or {})}
    store = ResultStore(broker_url)
    with running(command, log, lambda: store.workers() >= concurrency, "the Celery worker", cwd=PROJECT_ROOT,
                 env=environment) as worker:
        yield worker
