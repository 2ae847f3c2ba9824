"""The PACS over DICOMweb (dicomweb-client): QIDO-RS search, WADO-RS retrieve as stored, STOW-RS store.

Retrieval asks for `application/dicom` with any transfer syntax, so the PACS
sends the file as it holds it instead of transcoding it. Every request has a
timeout and a bounded number of retries (connection failures and 502-504
answers; a retried store is harmless because results carry fixed UIDs).
"""
from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pydicom
import requests
from dicomweb_client import DICOMwebClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from review.pacs.connection import (
    MAX_RESULTS,
    WORKLIST_FIELDS,
    PacsError,
    StudyQuery,
    WorklistImage,
    search_chest_radiographs,
    unreachable,
)
from review.pacs.settings import CONNECT_SECONDS, PacsSettings

AS_STORED = (("application/dicom", "*"),)  # the stored transfer syntax, not a transcoded one
RETRIED_STATUSES = (502, 503, 504)

# The libraries' own loggers write URLs, whose queries hold patient IDs: urllib3 even in its retry warnings.
for _name, _level in (("dicomweb_client", logging.WARNING), ("requests", logging.WARNING),
                      ("urllib3", logging.ERROR)):
    logging.getLogger(_name).setLevel(_level)


class _SiteAdapter(HTTPAdapter):
    """Bounded retries, and the site's CA bundle on every request: requests lets REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE in the environment override a session's own `verify`, which would ignore [pacs] ca_bundle."""

    def __init__(self, retry: Retry, ca_bundle: str) -> None:
        super().__init__(max_retries=retry)
        self.ca_bundle = ca_bundle

    def send(self, request: requests.PreparedRequest, **options) -> requests.Response:
        if self.ca_bundle:
            options["verify"] = self.ca_bundle
        return super().send(request, **options)


def _session(settings: PacsSettings) -> requests.Session:
    session = requests.Session()
    if settings.username:
        session.auth = (settings.username, settings.password)
    retry = Retry(
        total=settings.retries, connect=settings.retries, read=settings.retries, status=settings.retries,
        backoff_factor=0.5, status_forcelist=RETRIED_STATUSES, allowed_methods=frozenset({"GET", "POST"}),
        raise_on_status=False,
    )
    adapter = _SiteAdapter(retry, settings.ca_bundle)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class DicomWebPacs:
    """One PACS's DICOMweb root, with the site's authentication, CA bundle, timeout and retries."""

    def __init__(self, settings: PacsSettings) -> None:
        self.timeout = settings.timeout_seconds
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else None
        self.client = DICOMwebClient(
            settings.dicomweb_url, session=_session(settings), headers=headers,
            timeout=(min(CONNECT_SECONDS, self.timeout), self.timeout),
        )
        # Its own retrying would try any failure 5 times with waits up to 16 s; the session's bounded retries do.
        self.client.set_http_retry_params(retry=False)

    @contextmanager
    def _speaking(self, action: str) -> Iterator[None]:
        """The PACS's failures in a reader's words; the library's words kept as the detail."""
        try:
            yield
        except requests.exceptions.SSLError as error:
            raise PacsError(
                f"The PACS's certificate is not trusted ({action}): ask IT to set [pacs] ca_bundle to the site's "
                "CA.", str(error)) from error
        except requests.exceptions.Timeout as error:
            raise PacsError(f"The PACS did not answer within {self.timeout:g} s ({action}). Try again, or narrow "
                            "the search.", str(error)) from error
        except requests.exceptions.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            if status in (401, 403):
                raise PacsError(f"The PACS refused this app's credentials ({action}): ask IT to check the [pacs] "
                                "settings.", str(error)) from error
            if status == 404:
                raise PacsError(f"The PACS does not hold what was asked for ({action}); it may have been moved "
                                "or deleted.", str(error)) from error
            raise PacsError(f"The PACS answered with an error, HTTP {status} ({action}). Try again later.",
                            str(error)) from error
        except (requests.exceptions.RequestException, OSError) as error:
            raise unreachable(action, str(error)) from error
        except (ValueError, KeyError, TypeError, pydicom.errors.InvalidDicomError) as error:
            raise PacsError(f"The PACS's answer could not be read ({action}).", str(error)) from error

    def search(self, query: StudyQuery) -> list[WorklistImage]:
        """QIDO-RS: chest radiographs (CR or DX) matching the query, newest first."""
        def find(filters: dict[str, str]) -> list[pydicom.Dataset]:
            answers = self.client.search_for_instances(fields=WORKLIST_FIELDS, search_filters=filters,
                                                       limit=MAX_RESULTS + 1)
            return [pydicom.Dataset.from_json(answer) for answer in answers]

        with self._speaking("searching"):
            return search_chest_radiographs(query, find)

    def retrieve(self, image: WorklistImage) -> bytes:
        """The image's file as the PACS stores it."""
        with self._speaking("retrieving the image"):
            dataset = self.client.retrieve_instance(
                image.study_uid, image.series_uid, image.sop_uid, media_types=AS_STORED
            )
            buffer = io.BytesIO()
            dataset.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()

    def store(self, datasets: Sequence[pydicom.Dataset]) -> None:
        """STOW-RS; a refusal of any of them is an error."""
        with self._speaking("storing the result"):
            answer = self.client.store_instances(list(datasets))
        failed = answer.get("FailedSOPSequence") if answer is not None else None
        if failed:
            reasons = sorted({str(item.get("FailureReason", "?")) for item in failed})
            raise PacsError(f"The PACS refused {len(failed)} of the result's {len(datasets)} objects "
                            f"(failure reason {', '.join(reasons)}).")

    def holds(self, study_uid: str, series_uid: str, sop_uid: str = "") -> bool:
        """Whether the PACS now holds this instance (any in the series, without `sop_uid`): asked again, not taken
        from a store's status."""
        with self._speaking("checking the PACS"):
            return bool(self.client.search_for_instances(
                study_instance_uid=study_uid, series_instance_uid=series_uid,
                search_filters={"SOPInstanceUID": sop_uid} if sop_uid else None, limit=1,
            ))
