"""What the Diagnose page's AppTest modules share: the app opened on the Diagnose page, its own audit trail, uploads."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from model.paths import ARTIFACTS_ENV, PROJECT_ROOT
from review.audit import AUDIT_DB_ENV, DATABASE_URL_ENV
from ui import state
from ui.pages import DIAGNOSE_PATH

# [auth] as a site writes it; AppTest never contacts the provider, it takes the signed-in user from AppTest.user.
TEST_AUTH = {
    "client_id": "xray-review", "client_secret": "test-secret", "cookie_secret": "test-cookie-secret-0123456789",
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    "client_kwargs": {"scope": "openid profile email", "prompt": "login"},
}
ISSUER = "https://idp.example"


@pytest.fixture
def audit_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.sqlite3"
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.setenv(AUDIT_DB_ENV, str(path))
    return path


def sign_in(app: AppTest, claims: dict | None, access: dict | None = None) -> AppTest:
    """Turn sign-in on for `app` and sign in as `claims` (None: nobody signed in) under the `[access]` rules given."""
    app.secrets["auth"] = TEST_AUTH
    if access is not None:
        app.secrets["access"] = access
    app.user = {"is_logged_in": False} if claims is None else {"is_logged_in": True, "iss": ISSUER, **claims}
    return app


def open_app(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv(ARTIFACTS_ENV, str(model_dir))
    test = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    test.run()
    test.switch_page(DIAGNOSE_PATH).run()
    assert not test.exception
    return test


@pytest.fixture
def app(artifacts_dir: Path, audit_db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_app(artifacts_dir, monkeypatch)


def upload(app: AppTest, *paths_or_files) -> AppTest:
    files = [
        (item.name, item.read_bytes(), "image/jpeg") if isinstance(item, Path) else item for item in paths_or_files
    ]
    app.file_uploader(key=state.UPLOADS).set_value(files)
    return app.run()


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def viewers(app: AppTest) -> list[dict]:
    """The data each reading-room viewer on the page sends to the browser (ui/diagnose/viewer.js draws it)."""
    return [json.loads(element.proto.json) for element in app.get("bidi_component")]
