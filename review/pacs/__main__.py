"""Batch triage from the PACS: find chest radiographs, score each as the Diagnose page does, optionally send back.

    python -m review.pacs triage --dicomweb URL [--user U --password P | --token T] [--ca-bundle FILE]
        [--since YYYYMMDD] [--send] --out FILE.csv [--model DIR]
    python -m review.pacs triage --dimse HOST:PORT --called-ae PACS [--calling-ae XRAYAPP] ...   (DIMSE)

Each row has model.predict's columns (label, probability, `flags`,
`reasons`, as the page would say them) and the image's StudyInstanceUID,
SeriesInstanceUID, SOPInstanceUID and accession number; with --send, the SR
and the Secondary Capture are stored in each image's study, and `sent` says
whether they were stored now or were there already (an image with any
result of this model version, from this command or from the page, gets no
other). The password may come
from XRAY_PACS_PASSWORD instead of the command line, where others can read it.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from datetime import datetime
from pathlib import Path

from model.paths import DEFAULT_ARTIFACTS_DIR
from review.pacs.connection import MAX_RESULTS, PacsError, StudyQuery
from review.pacs.settings import DEFAULT_CALLING_AE_TITLE, PacsSettings, PacsSettingsError, pacs_settings

PASSWORD_ENV = "XRAY_PACS_PASSWORD"
PACS_FIELDS = ("study_instance_uid", "series_instance_uid", "sop_instance_uid", "accession", "sent")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m review.pacs", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    triage = commands.add_parser("triage", help="score the chest radiographs since a date")
    where = triage.add_mutually_exclusive_group(required=True)
    where.add_argument("--dicomweb", default="", help="the PACS's DICOMweb root URL")
    where.add_argument("--dimse", default="", help="the PACS's DICOM port as HOST:PORT (C-FIND, C-GET, C-STORE)")
    triage.add_argument("--called-ae", default="", help="the PACS's AE title, with --dimse")
    triage.add_argument("--calling-ae", default=DEFAULT_CALLING_AE_TITLE, help="this app's AE title, with --dimse")
    triage.add_argument("--user", default="")
    triage.add_argument("--password", default=os.environ.get(PASSWORD_ENV, ""))
    triage.add_argument("--token", default="", help="a bearer token instead of user and password")
    triage.add_argument("--ca-bundle", default="", help="the site's CA certificates, for TLS")
    triage.add_argument("--timeout", type=float, default=PacsSettings.timeout_seconds)
    triage.add_argument("--since", default="", help="studies from this date on (YYYYMMDD); default: all")
    triage.add_argument("--send", action="store_true", help="store the SR and Secondary Capture of each result")
    triage.add_argument("--out", type=Path, required=True)
    triage.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS_DIR, help="artifacts folder")
    return parser.parse_args(argv)


def _query(since: str) -> StudyQuery:
    if not since:
        return StudyQuery(date_from=datetime(1900, 1, 1).date())
    return StudyQuery(date_from=datetime.strptime(since, "%Y%m%d").date())


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        host, _, port = args.dimse.rpartition(":")
        settings = pacs_settings({
            "dicomweb_url": args.dicomweb, "username": args.user, "password": args.password, "token": args.token,
            "ca_bundle": args.ca_bundle, "timeout_seconds": args.timeout, "dimse_host": host,
            "dimse_port": int(port) if port.isdigit() else 0, "called_ae_title": args.called_ae,
            "calling_ae_title": args.calling_ae,
        })
        if not settings.configured:
            raise PacsSettingsError("--dimse takes the PACS's DICOM port as HOST:PORT.")
        query = _query(args.since)
    except (PacsSettingsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # TensorFlow only now: the arguments are checked and the PACS is to be asked.
    from model.predict import FIELDS
    from review.pacs.triage import found_images, triage_rows

    try:
        pacs, images = found_images(settings, query)
    except PacsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if len(images) > MAX_RESULTS:
        print(f"note: the PACS holds more matching images than the {MAX_RESULTS} per modality it was asked for; "
              "run again with a later --since for the rest", file=sys.stderr)
    rows = []
    with args.out.open("w", newline="") as handle:  # row by row: a batch stopped halfway keeps what it scored
        writer = csv.DictWriter(handle, fieldnames=[*FIELDS, *PACS_FIELDS])
        writer.writeheader()
        for row in triage_rows(pacs, images, args.model, args.send):
            writer.writerow(row)
            handle.flush()
            rows.append(row)
    sent = sum(row["sent"] == "stored" for row in rows)
    held = sum(row["sent"] == "already in the PACS" for row in rows)
    failed = sum(bool(row["error"]) for row in rows)
    print(f"{len(rows)} images, {failed} not scored" + (f"; results stored for {sent}, already there for {held}"
                                                          if args.send else "") + f". Written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
