"""The Model & data page, rendered by Streamlit's AppTest from the committed artifacts with the real model."""
from __future__ import annotations

import base64
import html
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from model.card import CARD_FILE, VALIDATION_SCORES_FILE, read_card, read_scores
from model.evaluation.metrics import binary_metrics
from model.paths import ARTIFACTS_ENV, PROJECT_ROOT
from review.server_folders import DATA_ROOTS_ENV
from tests.app.conftest import sign_in
from tests.conftest import MARKDOWN, displayed
from tests.inputs import HOSTILE_ARCHIVE, make_zip, zip_bomb
from ui import state
from ui.pages import MODEL_AND_DATA_PATH

pytestmark = pytest.mark.slow  # the real app under AppTest

PAGE_CHARTS = {state.CLASS_DISTRIBUTION_CHART, state.IMAGE_SIZES_CHART, state.TRAINING_CURVES_CHART,
               state.THRESHOLD_CONFUSION_CHART, state.THRESHOLD_SWEEP_CHART, state.RELIABILITY_CHART}
EXPLORER_RATES = {"Sensitivity": "sensitivity", "Specificity": "specificity", "PPV": "precision", "NPV": "npv"}


def walk(node) -> Iterator:
    """Every element of the page in the order it is drawn, inside tabs, columns and expanders too."""
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for index in sorted(children):
        yield from walk(children[index])


def elements(at: AppTest) -> list:
    return list(walk(at.main))


def charts(at: AppTest) -> dict[str, dict]:
    return {node.key: json.loads(node.proto.spec) for node in elements(at) if node.type == "plotly_chart"}


def counts_drawn(spec: dict) -> list[list[int]]:
    """The counts heatmap of a confusion-matrix figure; plotly ships numpy arrays base64-encoded."""
    z = spec["data"][0]["z"]
    if isinstance(z, dict):
        z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(2, 2)
    return np.asarray(z).astype(int).tolist()


def texts(nodes) -> str:
    return "\n".join(displayed(str(node.value)) for node in nodes)


@pytest.fixture
def page(artifacts_dir: Path) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(MODEL_AND_DATA_PATH).run()
    assert not at.exception, texts(at.exception)
    return at


@pytest.fixture
def card(artifacts_dir: Path) -> dict:
    """The card as stored (JSON), which the page's figures must match."""
    return read_card(artifacts_dir).to_json()


def test_every_chart_is_drawn_with_a_title_and_a_caption(page: AppTest) -> None:
    assert [title.value for title in page.title] == ["Model & data"]
    assert not page.error, texts(page.error)
    tabs = [displayed(tab.label) for tab in page.tabs]
    assert tabs[0] == "validation"
    drawn = charts(page)
    expected = PAGE_CHARTS | {state.CONFUSION_CHART + name for name in tabs} | {state.ROC_PR_CHART + name for name in tabs}
    assert expected <= set(drawn)
    for key, spec in drawn.items():
        assert spec["layout"]["title"]["text"], key
        assert spec["data"], key
    nodes = elements(page)
    for i, node in enumerate(nodes):
        if node.type == "plotly_chart":
            assert nodes[i + 1].type == "caption" and nodes[i + 1].value, f"chart {node.key} has no caption"


def test_dataset_section_counts_are_the_card_counts(page: AppTest, card: dict) -> None:
    bars = [trace for trace in charts(page)[state.CLASS_DISTRIBUTION_CHART]["data"] if trace["type"] == "bar"]
    drawn = {(trace["xaxis"], trace["name"]): trace["y"][0] for trace in bars}
    for axis, split in (("x", "train"), ("x2", "validation")):
        for name, count in card["data"][split]["counts"].items():
            assert drawn[(axis, name)] == count
    assert len([node for node in elements(page) if node.type == "image"]) >= 8


def test_threshold_explorer_at_the_shipped_threshold_equals_the_card(page: AppTest, card: dict) -> None:
    expected = card["validation_metrics"]
    assert page.slider(key=state.EXPLORER_THRESHOLD).value == pytest.approx(card["threshold"], abs=1e-6)
    shown = {metric.label: metric.value for metric in page.metric}
    for label, key in EXPLORER_RATES.items():
        assert shown[label] == f"{expected[key]:.3f}", label
    assert counts_drawn(charts(page)[state.THRESHOLD_CONFUSION_CHART]) == expected["confusion_matrix"]
    assert "more than at the shipped threshold" not in texts(page.warning)


def test_a_stricter_threshold_redraws_live_and_warns_about_missed_pneumonias(
    page: AppTest, card: dict, artifacts_dir: Path
) -> None:
    scores = read_scores(artifacts_dir / VALIDATION_SCORES_FILE)
    strict = binary_metrics(scores.labels, scores.probabilities, 0.999)
    page.slider(key=state.EXPLORER_THRESHOLD).set_value(0.999).run()
    assert not page.exception, texts(page.exception)
    assert counts_drawn(charts(page)[state.THRESHOLD_CONFUSION_CHART]) == strict["confusion_matrix"]
    shown = {metric.label: metric.value for metric in page.metric}
    assert shown["Sensitivity"] == f"{strict['sensitivity']:.3f}"
    missed = strict["confusion_matrix"][1][0]
    assert missed > card["validation_metrics"]["confusion_matrix"][1][0]
    assert f"misses {missed} of" in texts(page.warning)
    next(b for b in page.button if b.label.startswith("Back to the shipped threshold")).click().run()
    assert counts_drawn(charts(page)[state.THRESHOLD_CONFUSION_CHART]) == card["validation_metrics"]["confusion_matrix"]
    assert "more than at the shipped threshold" not in texts(page.warning)


def test_reliability_diagram_shows_the_card_ece(page: AppTest, card: dict) -> None:
    """The page recomputes ECE from the stored (rounded) logits; it agrees with training's to the digits shown."""
    shown = {metric.label: float(metric.value) for metric in page.metric}
    assert shown["ECE before temperature scaling"] == pytest.approx(card["calibration"]["ece_before"], abs=1e-4)
    assert shown["ECE after temperature scaling"] == pytest.approx(card["calibration"]["ece_after"], abs=1e-4)


def test_explain_opens_a_confident_error_in_the_diagnose_page(page: AppTest) -> None:
    explain = [button for button in page.button if (button.key or "").startswith(state.EXPLAIN_ERROR)]
    assert explain, "the validation images are beside the project, so the error gallery has buttons"
    explain[0].click().run()
    assert not page.exception, texts(page.exception)
    assert [title.value for title in page.title] == ["Diagnose"]
    assert state.REVIEW_PATH not in page.session_state


def test_a_labelled_folder_is_scored_and_added_as_an_evaluation_set(
    page: AppTest, val_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = val_images[0][0].parent.parent
    monkeypatch.setenv(DATA_ROOTS_ENV, f"/nonexistent{os.pathsep}{folder.parent}")
    page.run()
    page.text_input(key=state.OWN_FOLDER).input(str(folder))
    page.button(key=state.SCORE_FOLDER).click().run()
    assert not page.exception, texts(page.exception)
    assert "16 images, 0 skipped" in texts(page.success)
    added = displayed(page.tabs[-1].label)
    assert added.startswith(folder.name)
    drawn = charts(page)
    assert {f"confusion_{added}", f"roc_pr_{added}"} <= set(drawn)
    assert sum(map(sum, counts_drawn(drawn[f"confusion_{added}"]))) == 16


def test_an_uploaded_zip_is_scored_and_its_bad_files_skipped(page: AppTest, val_images) -> None:
    chosen = val_images[:2] + val_images[8:10]
    members = {f"ward/{('NORMAL', 'PNEUMONIA')[label]}/{path.name}": path.read_bytes() for path, label in chosen}
    members["ward/NORMAL/broken.jpeg"] = b"\xff\xd8\xff this is not a JPEG"
    members["ward/readme.txt"] = b"four images"
    page.file_uploader(key=state.OWN_ZIP).set_value(("ward.zip", make_zip(members), "application/zip"))
    page.button(key=state.SCORE_ZIP).click().run()
    assert not page.exception, texts(page.exception)
    assert "Scored 'ward': 4 images, 2 skipped" in texts(page.success)
    assert page.tabs[-1].label == "ward"
    assert sum(map(sum, counts_drawn(charts(page)["confusion_ward"]))) == 4
    skipped = [node for node in elements(page) if node.type == "dataframe"]
    assert any("broken.jpeg" in node.value.to_string() for node in skipped)


def markdown_of(node) -> str:
    return str(node.label if node.type == "tab" else node.value)


def test_an_archive_named_in_markdown_and_html_is_shown_as_written_and_its_bomb_named(page: AppTest, val_images) -> None:
    """Every place the set's name appears shows it as written, with no link, bold or HTML; the bomb is skipped by name."""
    members = {f"{('NORMAL', 'PNEUMONIA')[label]}/{path.name}": path.read_bytes()
               for path, label in val_images[:2] + val_images[8:10]}
    archive = zip_bomb(zipfile.ZIP_BZIP2, 64 << 20, declared=1000, others=members)
    page.file_uploader(key=state.OWN_ZIP).set_value((HOSTILE_ARCHIVE, archive, "application/zip"))
    page.button(key=state.SCORE_ZIP).click().run()
    assert not page.exception, texts(page.exception)
    name = HOSTILE_ARCHIVE.removesuffix(".zip")
    notice = page.success
    assert f"Scored '{name}': 4 images, 1 skipped" in texts(notice)
    assert "NORMAL/bomb.png: 'NORMAL/bomb.png' unpacks to more than the 1,000 bytes its zip entry declares" in texts(
        page.warning)
    page.selectbox(key=state.EXPLORER_SET).set_value(name).run()
    page.slider(key=state.EXPLORER_THRESHOLD).set_value(1.0).run()
    assert f"pneumonias in '{name}'," in texts(page.warning)
    assert f"Sensitivity, specificity, PPV and NPV in '{name}' at every threshold" in texts(page.caption)
    assert displayed(page.tabs[-1].label) == name
    shown = [node for node in elements(page) + list(page.tabs) if node.type in ("warning", "caption", "tab")
             and name in displayed(markdown_of(node))]
    assert len(shown) >= 4, "the explorer's warning and caption, the threshold caption and the tab"
    for node in shown + list(notice):
        tokens = MARKDOWN.parseInline(markdown_of(node))[0].children
        assert {token.type for token in tokens} <= {"text", "code_inline", "softbreak"}, markdown_of(node)
    drawn = charts(page)
    titles = [drawn[state.CONFUSION_CHART + name]["layout"]["title"]["text"]] + [
        annotation["text"] for annotation in drawn[state.CLASS_DISTRIBUTION_CHART]["layout"]["annotations"]]
    assert f"Confusion matrix, {name}" == html.unescape(titles[0])
    assert any(name in html.unescape(title) for title in titles[1:])
    assert not any(tag in title for title in titles for tag in ("<b>ward", "<a ")), titles


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"PK\x03\x04 truncated", "is not a readable zip archive"),
        (make_zip({"NORMAL/a.jpeg": b"x", "PNEUMONIA/b.jpeg": b"x", "../../escape.jpeg": b"x"}), "unsafe path"),
        (make_zip({"images/a.jpeg": b"x"}), "no folder holding both NORMAL/ and PNEUMONIA/"),
    ],
)
def test_malformed_archives_are_refused_with_a_message(page: AppTest, upload: bytes, message: str) -> None:
    page.file_uploader(key=state.OWN_ZIP).set_value(("upload.zip", upload, "application/zip"))
    page.button(key=state.SCORE_ZIP).click().run()
    assert not page.exception, texts(page.exception)
    assert message in texts(page.error)
    assert "upload" not in [tab.label for tab in page.tabs]


def test_folders_outside_the_open_roots_get_one_message_whether_or_not_they_exist(
    page: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = tmp_path / "open", tmp_path / "closed"
    (root / "empty").mkdir(parents=True)
    (outside / "NORMAL").mkdir(parents=True)
    (root / "link").symlink_to(outside)
    monkeypatch.setenv(DATA_ROOTS_ENV, str(root))
    page.run()
    assert str(root) in texts(page.caption), "an admin is told which folders are open"
    messages = {}
    for folder in (str(outside), str(tmp_path / "absent"), "/etc", "/no/such/folder", "link", "../closed",
                   f"{root}/../closed", "empty", "missing"):
        page.text_input(key=state.OWN_FOLDER).input(folder)
        page.button(key=state.SCORE_FOLDER).click().run()
        assert not page.exception, texts(page.exception)
        messages[folder] = texts(page.error).replace(folder, "…")
    refusals = {messages.pop(name) for name in ("empty", "missing")}
    assert len(set(messages.values())) == 1 and "is not a folder this server scores" in messages["/etc"]
    assert any("holds neither NORMAL/ and PNEUMONIA/" in text for text in refusals)
    assert any("There is no folder" in text for text in refusals)


def test_without_open_roots_folders_cannot_be_scored_at_all(page: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    page.run()
    assert not page.text_input, "no path box"
    assert "Scoring folders on this server is off" in texts(page.info)


def test_a_reader_scores_zips_but_sees_no_folder_on_the_server(
    page: AppTest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(DATA_ROOTS_ENV, str(tmp_path))
    sign_in(page, {"sub": "reader-1", "name": "Dr Reader", "email": "r@example.org"})
    page.run()
    assert not page.exception, texts(page.exception)
    assert [title.value for title in page.title] == ["Model & data"]
    assert not page.text_input and page.get("file_uploader"), "the zip uploader stays, the path box goes"
    shown = "\n".join(str(node.value) for node in elements(page) if isinstance(getattr(node, "value", None), str))
    shown += "\n".join(node.proto.body for node in page.json)
    for server_path in (str(tmp_path), str(PROJECT_ROOT), str(PROJECT_ROOT.parent), "shared/data"):
        assert server_path not in displayed(shown), f"{server_path} is shown to a reader"


def test_without_the_dataset_the_page_falls_back_to_the_bundled_samples(
    artifacts_dir: Path, card: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = tmp_path / "artifacts"
    shutil.copytree(artifacts_dir, moved)
    (moved / CARD_FILE).write_text(json.dumps({**card, "data": {**card["data"], "root": str(tmp_path / "gone")}}))
    monkeypatch.setenv(ARTIFACTS_ENV, str(moved))
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(MODEL_AND_DATA_PATH).run()
    assert not at.exception, texts(at.exception)
    notes = texts(at.info)
    assert "training images are not on this server" in notes
    assert str(tmp_path / "gone") not in notes, "no server path is shown"
    assert "assets/samples" in notes
    assert "validation images are not on this machine" in notes
    assert state.IMAGE_SIZES_CHART not in charts(at)
    assert PAGE_CHARTS - {state.IMAGE_SIZES_CHART} <= set(charts(at))
    assert [node for node in elements(at) if node.type == "image"]


def test_the_calibration_sample_is_shown_before_and_after_with_intervals(page: AppTest, card: dict) -> None:
    fitted_on = card["operating_point"]["fitted_on"]["name"]
    tabs = [displayed(tab.label) for tab in page.tabs]
    assert fitted_on in tabs and f"{fitted_on} (before calibration)" in tabs
    tables = [node.value for node in elements(page) if node.type == "dataframe"]
    headline = [table for table in tables if "95 % CI" in table.columns]
    assert len(headline) == len(tabs), "every set has its headline metrics with intervals"
    for table in headline:
        assert set(table["metric"]) >= {"AUROC", "accuracy", "sensitivity", "specificity", "ECE"}
        for value, interval in zip(table["value"], table["95 % CI"]):
            low, high = (float(x) for x in interval.split(" – "))
            assert low - 1e-9 <= value <= high + 1e-9
    after = headline[tabs.index(fitted_on)].set_index("metric")["value"]
    assessed = card["operating_point"]["assessment"]["after"]
    assert after["specificity"] == pytest.approx(assessed["specificity"], abs=1e-3)
    before = headline[tabs.index(f"{fitted_on} (before calibration)")].set_index("metric")["value"]
    assert before["specificity"] == pytest.approx(card["operating_point"]["assessment"]["before"]["specificity"],
                                                  abs=1e-3)
    assert "before the current one was fitted" in texts(page.info)


def test_the_threshold_rule_is_described_from_the_card(page: AppTest, card: dict) -> None:
    point = card["operating_point"]
    text = "\n".join(str(node.value) for node in page.markdown)  # the page's own markdown, as written
    described = text[text.index("**Operating point**"):]
    assert f"{card['threshold']:.3f}" in described and f"`{point['fitted_on']['name']}`" in described
    assert point["method"]["threshold"] in described
    assert f"{point['fitted_on']['counts']['NORMAL']} NORMAL" in described
    assert "on validation" not in described or point["fitted_on"]["name"] == "validation"
