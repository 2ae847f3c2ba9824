"""The PACS path against a real Orthanc with DICOMweb (tests/services.py): search, retrieve as stored, score,
send the SR and Secondary Capture, read them back, and every failure in a reader's words."""
from __future__ import annotations

import csv
import io
import logging
import subprocess
from datetime import date
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, RLELossless

from model.imaging.decode import decode_image
from review.pacs.__main__ import main as pacs_cli
from review.pacs.connection import PacsError, StudyQuery
from review.pacs.dicomweb import DicomWebPacs
from review.pacs.dimse import DimsePacs
from review.pacs.results import (
    ABSENT,
    ALGORITHM_NAME,
    DECISION_SUPPORT,
    PNEUMONIA,
    PRESENT,
    SC_SERIES_NUMBER,
    SR_SERIES_NUMBER,
    THRESHOLD,
    ReaderRead,
    result_for,
)
from review.pacs.send import send_result, source_dataset
from review.pacs.settings import PacsSettings, PacsSettingsError, pacs_settings
from review.triage import assess_files
from tests.browser import free_port
from tests.inputs import store_studies
from tests.services import APP_AE_TITLE, PACS_AE_TITLE, PACS_PASSWORD, PACS_USER, orthanc_server, tls_in_front

READ = ReaderRead("Reader^Ada", "disagree", "consolidation left base", "2026-12-07T10:00:00+00:00", "Test Hospital")


def connect(pacs, **changes) -> DicomWebPacs:
    return DicomWebPacs(pacs_settings({"dicomweb_url": pacs.dicomweb_url, "username": PACS_USER,
                                       "password": PACS_PASSWORD, "timeout_seconds": 10, **changes}))


def dimse(pacs, **changes) -> DimsePacs:
    return DimsePacs(pacs_settings({"dimse_host": "127.0.0.1", "dimse_port": pacs.dicom_port, "called_ae_title":
                                    PACS_AE_TITLE, "calling_ae_title": APP_AE_TITLE, "timeout_seconds": 10, **changes}))


def content(dataset: pydicom.Dataset) -> list[pydicom.Dataset]:
    """Every content item of an SR, depth first."""
    items = []
    for item in dataset.get("ContentSequence", []):
        items.append(item)
        items += content(item)
    return items


def named(items: list[pydicom.Dataset], meaning: str) -> list[pydicom.Dataset]:
    return [item for item in items if item.ConceptNameCodeSequence[0].CodeMeaning == meaning]


def no_iod_errors(path: Path) -> None:
    """dciodvfy, the reference IOD checker: no Error line."""
    checked = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    errors = [line for line in (checked.stdout + checked.stderr).splitlines() if line.startswith("Error")]
    assert not errors, errors


@pytest.mark.parametrize("section, says", [
    ({"dicomweb_url": "pacs.example.org"}, "must start with http"),
    ({"dicomweb_url": "https://p", "token": "t", "username": "u", "password": "p"}, "either a token"),
    ({"dicomweb_url": "https://p", "username": "u"}, "both username and password"),
    ({"dicomweb": "https://p"}, "does not know: dicomweb"),
    ({"dimse_host": "pacs", "dimse_port": 104}, "called_ae_title"),
    ({"dimse_host": "pacs", "dimse_port": 104, "called_ae_title": "A" * 17}, "at most 16"),
    ({"dicomweb_url": "https://p", "timeout_seconds": "20"}, "must be a float"),
    ({"dicomweb_url": "https://p", "retries": 9}, "between 0 and 5"),
    ({"dicomweb_url": "https://p", "ca_bundle": "/no/such/ca.pem"}, "no readable file"),
])
def test_a_wrong_pacs_section_says_which_setting(section, says):
    with pytest.raises(PacsSettingsError, match=says):
        pacs_settings(section)
    assert not pacs_settings(None).configured and pacs_settings({"dicomweb_url": "https://p"}).uses_dicomweb


def test_search_finds_chest_radiographs_by_accession_patient_and_date(pacs, pacs_studies):
    client = connect(pacs)
    [found] = client.search(StudyQuery(accession="ACC-1002"))
    study = pacs_studies["ACC-1002"][0]
    assert (found.accession, found.modality, found.view, found.age, found.study_date) == (
        "ACC-1002", "DX", "PA", "003Y", "20261115")
    assert found.patient_id == "PID-2" and found.patient_name == study.patient_name
    assert "PID-2" not in found.file_name and "Roe" not in found.file_name, "no identifier in the shown name"
    assert [image.accession for image in client.search(StudyQuery(patient_id="PID-2"))] == ["ACC-1003", "ACC-1002"]
    in_range = client.search(StudyQuery(date_from=date(2026, 11, 10), date_to=date(2026, 11, 16)))
    assert [image.accession for image in in_range] == ["ACC-1002"]
    everything = client.search(StudyQuery(date_from=date(2000, 1, 1)))
    assert {image.modality for image in everything} <= {"CR", "DX"}, "the CT image is not a chest radiograph"
    assert {"ACC-1001", "ACC-1002", "ACC-1003"} <= {image.accession for image in everything}
    assert client.search(StudyQuery(accession="ACC-9999")) == []
    with pytest.raises(PacsError, match="Give an accession number"):
        client.search(StudyQuery())
    with pytest.raises(PacsError, match="Give an accession number"):
        client.search(StudyQuery(accession="*", patient_id="?"))  # a wildcard alone would match every patient


@pytest.mark.parametrize("accession, syntax", [("ACC-1002", JPEG2000Lossless), ("ACC-1003", RLELossless)])
def test_retrieve_gets_the_file_as_stored_and_it_decodes_as_the_original(pacs, pacs_studies, accession, syntax):
    client = connect(pacs)
    [image] = client.search(StudyQuery(accession=accession))
    data = client.retrieve(image)
    assert pydicom.dcmread(io.BytesIO(data)).file_meta.TransferSyntaxUID == syntax, "not transcoded"
    original = np.asarray(decode_image(pacs_studies[accession][2].read_bytes(), "original.jpeg").pixels)
    np.testing.assert_array_equal(decode_image(data, image.file_name).pixels, original)


@pytest.mark.slow
def test_a_result_goes_back_as_sr_and_secondary_capture_that_read_back_with_every_field(
    pacs, classifier, tmp_path
):
    client = connect(pacs)
    [image] = client.search(StudyQuery(accession="ACC-1001"))
    data = client.retrieve(image)
    [assessment] = assess_files(classifier, [(image.file_name, data)])
    source = source_dataset(data)
    result = result_for(assessment, classifier.version, READ)
    picture = np.full((600, 800, 3), 0.5)
    sent = send_result(client, source, result, picture)
    assert not sent.already_held

    sr_path, sc_path = tmp_path / "sr.dcm", tmp_path / "sc.dcm"
    sr_path.write_bytes(pacs.file(sent.sr_uid))
    sc_path.write_bytes(pacs.file(sent.sc_uid))
    sr, sc = pydicom.dcmread(sr_path), pydicom.dcmread(sc_path)
    for written in (sr, sc):
        assert written.StudyInstanceUID == image.study_uid and written.PatientID == "PID-1"
        assert written.AccessionNumber == "ACC-1001"
    assert sr.SeriesNumber == SR_SERIES_NUMBER and sc.SeriesNumber == SC_SERIES_NUMBER
    assert sr.VerificationFlag == "VERIFIED" and sr.VerifyingObserverSequence[0].VerifyingObserverName == READ.name
    items = content(sr)
    [finding] = named(items, PNEUMONIA.meaning)
    assert finding.ConceptCodeSequence[0].CodeValue == (PRESENT if assessment.label == 1 else ABSENT).value
    [probability] = named(items, "Probability")
    assert float(probability.MeasuredValueSequence[0].NumericValue) == pytest.approx(assessment.probability, abs=1e-4)
    [threshold] = named(items, THRESHOLD.meaning)
    assert float(threshold.MeasuredValueSequence[0].NumericValue) == pytest.approx(assessment.threshold, abs=1e-4)
    assert {item.TextValue for item in named(items, "Algorithm Name")} == {ALGORITHM_NAME}
    assert {item.TextValue for item in named(items, "Algorithm Version")} == {classifier.version}
    [source_image] = named(items, "Source of Measurement")
    assert source_image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == image.sop_uid
    comments = [item.TextValue for item in named(items, "Comment")]
    assert comments[0].startswith(DECISION_SUPPORT)
    assert any("disagrees with the model" in text and READ.note in text for text in comments)
    assert len(comments) == 2 + len(assessment.trust_signals)
    report = hd.sr.Comprehensive3DSR.from_dataset(sr)
    [group] = report.content.get_image_measurement_groups()
    [evaluation] = group.get_qualitative_evaluations()
    assert evaluation.value == (PRESENT if assessment.label == 1 else ABSENT), "highdicom reads the finding back"
    assert "AI decision support" in str(sc.ImageComments) and sc.BurnedInAnnotation == "YES"
    banner = sc.pixel_array[: sc.Rows - picture.shape[0]]
    assert banner.max() == 255 and banner.mean() < 60, "white text on a black band above the picture"
    np.testing.assert_array_equal(sc.pixel_array[-600:], np.full((600, 800, 3), 128, np.uint8))
    for path in (sr_path, sc_path):
        no_iod_errors(path)
    dump = subprocess.run(["dsrdump", str(sr_path)], capture_output=True, text=True, check=True).stdout
    assert "Pneumonia" in dump and "VERIFIED" in dump

    before = len(pacs.instances())
    again = send_result(client, source, result, picture)
    assert again.already_held and (again.sr_uid, again.sc_uid) == (sent.sr_uid, sent.sc_uid)
    assert len(pacs.instances()) == before, "a retried send is the same result, not a second one"
    unread = send_result(client, source, result_for(assessment, classifier.version), picture)
    assert unread.sr_uid != sent.sr_uid and unread.sc_uid == sent.sc_uid, "the same picture is the same image"
    assert pydicom.dcmread(io.BytesIO(pacs.file(unread.sr_uid))).VerificationFlag == "UNVERIFIED"
    assert len(pacs.instances()) == before + 1, "only the new report was stored"
    assert send_result(client, source, result, picture, once_per_model=True).already_held


def test_a_header_the_result_cannot_copy_is_a_message(pacs, classifier):
    client = connect(pacs)
    [image] = client.search(StudyQuery(accession="ACC-1003"))
    data = client.retrieve(image)
    [assessment] = assess_files(classifier, [(image.file_name, data)])
    source = source_dataset(data)
    del source.PatientSex, source.StudyID  # the General Study and Patient modules, which the result copies
    before = len(pacs.instances())
    with pytest.raises(PacsError, match="lacks something the result must copy"):
        send_result(client, source, result_for(assessment, classifier.version), np.zeros((50, 50, 3)))
    assert len(pacs.instances()) == before
    with pytest.raises(PacsError, match="cannot be read again"):
        source_dataset(b"not a DICOM file")


def test_a_refusing_or_stopped_pacs_gives_a_message_not_an_exception(pacs, tmp_path):
    with pytest.raises(PacsError, match="refused this app's credentials") as refused:
        connect(pacs, password="wrong").search(StudyQuery(accession="ACC-1001"))
    assert PACS_USER not in str(refused.value) and pacs.url not in str(refused.value)
    with orthanc_server(tmp_path / "stopped.log") as doomed:
        client = DicomWebPacs(PacsSettings(dicomweb_url=doomed.dicomweb_url, username=PACS_USER,
                                           password=PACS_PASSWORD, timeout_seconds=5, retries=1))
        assert client.search(StudyQuery(accession="ACC-1001")) == []
    with pytest.raises(PacsError, match="cannot be reached just now") as down:
        client.search(StudyQuery(accession="ACC-1001"))
    assert doomed.url not in str(down.value) and "127.0.0.1" not in str(down.value)
    assert down.value.detail, "what the library said is kept for admins"


def test_tls_with_the_sites_ca_bundle_and_a_message_without_it(pacs, tmp_path):
    with tls_in_front(pacs, tmp_path / "haproxy.log") as secure:
        trusted = connect(secure, ca_bundle=str(secure.ca_bundle))
        assert [image.accession for image in trusted.search(StudyQuery(accession="ACC-1001"))] == ["ACC-1001"]
        with pytest.raises(PacsError, match="certificate is not trusted"):
            connect(secure, retries=0).search(StudyQuery(accession="ACC-1001"))


def test_a_bearer_token_through_a_gateway(pacs, tmp_path):
    """A site whose PACS sits behind a gateway taking bearer tokens (HAProxy here, passing on as the PACS's user)."""
    with tls_in_front(pacs, tmp_path / "gateway.log", bearer_token="site-token") as gateway:
        def with_token(token: str) -> DicomWebPacs:
            return DicomWebPacs(pacs_settings({"dicomweb_url": gateway.dicomweb_url, "token": token,
                                               "ca_bundle": str(gateway.ca_bundle), "timeout_seconds": 10}))

        assert [image.accession for image in with_token("site-token").search(StudyQuery(accession="ACC-1001"))] == [
            "ACC-1001"]
        with pytest.raises(PacsError, match="refused this app's credentials"):
            with_token("wrong-token").search(StudyQuery(accession="ACC-1001"))


def test_no_patient_identifier_reaches_the_logs_or_a_message(pacs, caplog, tmp_path):
    """Even with the root logger at DEBUG, the PACS libraries (whose lines carry query URLs and datasets) stay
    quiet: while searching, and while retrying a PACS that has stopped."""
    caplog.set_level(logging.DEBUG)
    connect(pacs).search(StudyQuery(patient_id="PID-2"))
    dimse(pacs).search(StudyQuery(patient_id="PID-2"))
    with orthanc_server(tmp_path / "stopping.log") as stopping:
        client = connect(stopping, retries=2)
    with pytest.raises(PacsError) as down:
        client.search(StudyQuery(patient_id="PID-2"))
    assert "PID-2" not in caplog.text and "Roe" not in caplog.text
    assert "PID-2" not in str(down.value) and "PID-2" not in down.value.detail


@pytest.mark.slow
def test_batch_triage_scores_since_a_date_and_never_sends_a_result_twice(pacs_studies, tmp_path):
    """Its own PACS: the shared one holds results the page's tests sent."""
    with orthanc_server(tmp_path / "triage.log") as pacs:
        store_studies(pacs, pacs_studies.values())
        triage_twice(pacs, tmp_path / "triage.csv")


def triage_twice(pacs, out: Path) -> None:
    common = ["triage", "--dicomweb", pacs.dicomweb_url, "--user", PACS_USER, "--password", PACS_PASSWORD,
              "--since", "20261110", "--out", str(out)]
    assert pacs_cli([*common, "--send"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [row["accession"] for row in rows] == ["ACC-1003", "ACC-1002"]
    assert all(row["label"] in ("NORMAL", "PNEUMONIA") and row["sent"] == "stored" for row in rows)
    assert all(row["sop_instance_uid"] and row["study_instance_uid"] and not row["error"] for row in rows)
    held = len(pacs.instances())
    assert pacs_cli([*common, "--send"]) == 0
    assert [row["sent"] for row in csv.DictReader(out.open())] == ["already in the PACS"] * 2
    assert len(pacs.instances()) == held
    assert pacs_cli([*common[:-4], "--since", "2026-11-10", "--out", str(out)]) == 2, "a date it cannot read"


@pytest.mark.slow
def test_dimse_finds_retrieves_as_stored_and_stores_the_result(pacs, pacs_studies, classifier):
    """C-ECHO, C-FIND, C-GET and C-STORE against the same Orthanc's DICOM port."""
    client = dimse(pacs)
    client.echo()
    [image] = client.search(StudyQuery(accession="ACC-1002"))
    assert (image.modality, image.patient_id, image.view) == ("DX", "PID-2", "PA")
    assert [found.accession for found in client.search(StudyQuery(patient_id="PID-2"))] == ["ACC-1003", "ACC-1002"]
    data = client.retrieve(image)
    assert pydicom.dcmread(io.BytesIO(data)).file_meta.TransferSyntaxUID == JPEG2000Lossless, "not transcoded"
    original = decode_image(pacs_studies["ACC-1002"][2].read_bytes(), "original.jpeg").pixels
    np.testing.assert_array_equal(decode_image(data, image.file_name).pixels, original)
    [assessment] = assess_files(classifier, [(image.file_name, data)])
    result = result_for(assessment, classifier.version)
    sent = send_result(client, source_dataset(data), result, np.full((300, 400, 3), 0.5))
    assert [pydicom.dcmread(io.BytesIO(pacs.file(uid))).SOPInstanceUID for uid in (sent.sr_uid, sent.sc_uid)] == [
        sent.sr_uid, sent.sc_uid]
    assert pydicom.dcmread(io.BytesIO(pacs.file(sent.sr_uid))).StudyInstanceUID == image.study_uid
    assert send_result(client, source_dataset(data), result, np.full((300, 400, 3), 0.5)).already_held


def test_dimse_refusals_and_a_closed_port_say_so(pacs):
    with pytest.raises(PacsError, match="refused this app's association"):
        dimse(pacs, called_ae_title="NOT-THE-PACS").echo()
    with pytest.raises(PacsError, match="cannot be reached just now"):
        dimse(pacs, dimse_port=free_port(), timeout_seconds=3).search(StudyQuery(accession="ACC-1001"))
