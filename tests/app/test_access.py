"""Who sees what, through AppTest: the sign-in page alone for visitors, each reader their own reads, admins all."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from model.paths import PROJECT_ROOT
from review.access import local_reader
from review.audit import AuditStore
from tests.app.conftest import ISSUER, sign_in, upload
from tests.app.test_diagnose_audit import save_read
from tests.conftest import MARKDOWN, displayed
from ui import state
from ui.pages import DIAGNOSE_PATH, MODEL_AND_DATA_PATH, READS_PATH

pytestmark = pytest.mark.slow  # the real app under AppTest

READER_A = {"sub": "reader-a", "name": "Dr Ada", "email": "ada@example.org", "groups": ["xray-readers"]}
READER_B = {"sub": "reader-b", "name": "Dr Bea", "email": "bea@example.org", "groups": ["xray-readers"]}
ADMIN = {"sub": "admin-1", "name": "Dr Root", "email": "root@example.org", "groups": ["xray-admins"]}
GROUPS = {"roles_claim": "groups", "admin_roles": ["xray-admins"]}
NOTE_OF_A = "patchy opacity right lower zone, reader A"


def shown_text(app: AppTest) -> str:
    return "\n".join(displayed(str(node.value)) for kind in ("markdown", "caption", "info", "warning", "error", "success")
                     for node in app.get(kind))


def reads_table(app: AppTest):
    return next((frame.value for frame in app.dataframe if "clinician_read" in frame.value.columns), None)


def test_a_visitor_who_is_not_signed_in_sees_only_the_sign_in_page(app: AppTest, val_images, audit_db) -> None:
    AuditStore(audit_db).record(
        reader=local_reader(), image_sha256="0" * 64,
        file_name="someone.png", model_version="v", probability=0.9, threshold=0.4, model_label="PNEUMONIA",
        clinician_read="agree", note="an earlier read",
    )
    sign_in(app, None).run()
    assert not app.exception
    assert [button.label for button in app.button] == ["Sign in"]
    assert not app.get("file_uploader") and not app.selectbox and not app.dataframe and not app.sidebar.markdown
    assert "an earlier read" not in shown_text(app)
    for page in (MODEL_AND_DATA_PATH, READS_PATH):
        app.switch_page(page).run()
        assert not app.exception
        assert [button.label for button in app.button] == ["Sign in"]
        assert not app.get("plotly_chart") and not app.get("bidi_component") and not app.get("imgs") and not app.dataframe
        assert "an earlier read" not in shown_text(app)


def test_each_reader_sees_their_own_reads_and_an_admin_sees_everyones(app: AppTest, val_images, audit_db) -> None:
    path = val_images[-1][0]
    sign_in(app, READER_A, GROUPS).run()
    save_read(app, path, "agree", NOTE_OF_A)
    assert not app.exception and any("Saved to the audit trail" in node.value for node in app.success)
    [entry] = AuditStore(audit_db).entries()
    assert (entry.reader_subject, entry.reader_issuer, entry.reader_name, entry.reader_email) == (
        "reader-a", ISSUER, "Dr Ada", "ada@example.org"
    )
    assert list(reads_table(app)["note"]) == [NOTE_OF_A]
    assert str(audit_db) not in shown_text(app), "a reader is never shown where the trail is kept"

    sign_in(app, READER_B, GROUPS).run()
    assert not app.exception
    assert reads_table(app) is None and NOTE_OF_A not in shown_text(app)
    assert any(expander.label == "Your reads: 0 recorded" for expander in app.expander)
    export = next(button for button in app.get("download_button") if "CSV" in button.proto.label)
    assert export.proto.label == "Download your reads (CSV)"

    app.switch_page(READS_PATH).run()
    assert not app.exception
    assert reads_table(app) is None and "Your reads: 0 recorded" in shown_text(app)
    assert not app.multiselect, "a reader cannot ask for other readers' reads"

    sign_in(app, ADMIN, GROUPS)
    app.switch_page(DIAGNOSE_PATH).run()
    upload(app, path)
    assert not app.exception
    table = reads_table(app)
    assert list(table["reader"]) == ["Dr Ada"] and list(table["note"]) == [NOTE_OF_A]
    assert any("recorded by everyone" in expander.label for expander in app.expander)
    assert str(audit_db) in shown_text(app), "an admin is told where the trail is kept"
    app.switch_page(READS_PATH).run()
    assert list(reads_table(app)["reader"]) == ["Dr Ada"]
    assert app.multiselect(key=state.READS_FILTER).options == ["Dr Ada (ada@example.org)"]
    app.multiselect(key=state.READS_FILTER).set_value([(ISSUER, "reader-a")]).run()
    assert "1 of 1 reads, by the readers chosen" in shown_text(app)


def test_an_allow_list_refuses_everyone_else_by_name(app: AppTest, val_images, audit_db) -> None:
    sign_in(app, {"sub": "stranger", "name": "Mr Stranger", "email": "x@elsewhere.org"},
            {"readers": ["ada@example.org"]}).run()
    assert not app.exception
    assert "You are signed in as Mr Stranger" in displayed(app.error[0].value)
    assert [button.label for button in app.button] == ["Sign out"]
    assert not app.get("file_uploader")
    sign_in(app, {**READER_A, "email_verified": True}, {"readers": ["ADA@example.org"]}).run()
    assert app.get("file_uploader") and not app.error


def test_wrong_access_settings_keep_the_app_closed(app: AppTest, val_images, audit_db) -> None:
    sign_in(app, READER_A, {"admins": "root@example.org"}).run()
    assert not app.exception
    assert "Sign-in is not set up correctly" in displayed(app.error[0].value)
    assert not app.get("file_uploader") and [button.label for button in app.button] == ["Sign out"]
    app.secrets["auth"] = {key: value for key, value in app.secrets["auth"].items() if key != "client_id"}
    app.secrets["access"] = {}
    app.run()
    assert "names no identity provider" in displayed(app.error[0].value) and not app.get("file_uploader")


def test_without_sign_in_the_app_says_so_and_runs_as_the_local_user(audit_db) -> None:
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120).run()
    assert not app.exception
    assert any("Sign-in is off" in node.value and "this computer only" in node.value for node in app.info)
    assert app.sidebar.markdown[0].value.startswith("**Local user**")
    assert app.get("file_uploader")


def test_a_sign_in_service_that_is_down_gets_a_sentence_not_an_error_page(app: AppTest, val_images, audit_db) -> None:
    sign_in(app, None).run()  # TEST_AUTH points at a port nothing listens on
    app.button[0].click().run()
    assert not app.exception
    assert "sign-in service cannot be reached" in displayed(app.error[0].value)
    assert not app.get("file_uploader")


def test_identity_claims_are_shown_as_written_never_as_markdown(app: AppTest, val_images, audit_db) -> None:
    hostile = "**Dr** [Evil](http://127.0.0.1:9/phish) <b>x</b> :red[y]"
    sign_in(app, {"sub": "evil-1", "name": hostile, "email": "e@example.org"}, {"readers": ["someone-else"]}).run()
    refusal = app.error[0].value
    assert hostile in displayed(refusal)
    assert not any(token.type == "link_open" for token in MARKDOWN.parseInline(refusal)[0].children)
    fresh = sign_in(AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120),
                    {"sub": "evil-1", "name": hostile, "email": "e@example.org"}, {}).run()
    sidebar = fresh.sidebar.markdown[0].value  # the first run goes through app.py, which draws the sidebar
    assert f"Signed in as {hostile} · reader" == displayed(sidebar)
    assert not any(token.type == "link_open" for token in MARKDOWN.parseInline(sidebar)[0].children)
    sign_in(app, {"sub": "evil-1", "name": hostile, "email": "e@example.org"}, {}).run()
    app.switch_page(MODEL_AND_DATA_PATH).run()
    assert not app.exception
    app.switch_page(DIAGNOSE_PATH).run()
    save_read(app, val_images[0][0], "unsure", "hostile name")
    [entry] = AuditStore(audit_db).entries()
    assert entry.reader_name == hostile
