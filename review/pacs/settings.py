"""Where the hospital's PACS is and how to reach it: the `[pacs]` section of the app's secrets, or the CLI's flags.

    [pacs]
    dicomweb_url = "https://pacs.example.org/dicom-web"   # QIDO-RS, WADO-RS and STOW-RS under one root
    username = "xray-app"                                 # HTTP basic, with password; or token = "..." (bearer)
    password = "..."
    ca_bundle = "/etc/ssl/certs/hospital-ca.pem"          # the site's CA, for TLS
    timeout_seconds = 20
    retries = 2
    dimse_host = "pacs.example.org"                       # DIMSE, for a PACS that speaks no DICOMweb
    dimse_port = 104
    called_ae_title = "PACS"
    calling_ae_title = "XRAYAPP"
    organization = "St Elsewhere Children's Hospital"       # the verifying clinician's, in the SR

DICOMweb is used when both are configured. A wrong section keeps the PACS
off and says why; nothing here is ever logged.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

PACS_SECTION = "pacs"  # of .streamlit/secrets.toml
DEFAULT_TIMEOUT_SECONDS = 20.0
CONNECT_SECONDS = 10.0  # at most, to open a connection (HTTP or DICOM association)
DEFAULT_RETRIES = 2
MAX_RETRIES = 5
DEFAULT_CALLING_AE_TITLE = "XRAYAPP"


class PacsSettingsError(ValueError):
    """The [pacs] section cannot be used; the message says which setting and why."""


@dataclass(frozen=True)
class PacsSettings:
    dicomweb_url: str = ""
    username: str = ""
    password: str = ""
    token: str = ""
    ca_bundle: str = ""
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    retries: int = DEFAULT_RETRIES
    dimse_host: str = ""
    dimse_port: int = 0
    called_ae_title: str = ""
    calling_ae_title: str = DEFAULT_CALLING_AE_TITLE
    organization: str = ""

    @property
    def uses_dicomweb(self) -> bool:
        return bool(self.dicomweb_url)

    @property
    def uses_dimse(self) -> bool:
        return bool(self.dimse_host)

    @property
    def configured(self) -> bool:
        return self.uses_dicomweb or self.uses_dimse


def _checked(name: str, value: object, kind: type) -> object:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PacsSettingsError(f"[pacs] {name} must be a {kind.__name__}, not {type(value).__name__}.")
    return value


def pacs_settings(section: Mapping[str, object] | None) -> PacsSettings:
    """The [pacs] section as settings; PacsSettingsError says what is wrong with it. No section: no PACS."""
    if not section:
        return PacsSettings()
    known = {field.name: field.type for field in fields(PacsSettings)}
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise PacsSettingsError(f"[pacs] has settings this app does not know: {', '.join(unknown)}.")
    kinds = {"str": str, "float": float, "int": int}
    values = {name: _checked(name, value, kinds[known[name]]) for name, value in section.items()}
    settings = PacsSettings(**values)
    if settings.uses_dicomweb and not settings.dicomweb_url.startswith(("http://", "https://")):
        raise PacsSettingsError("[pacs] dicomweb_url must start with http:// or https://.")
    if settings.token and (settings.username or settings.password):
        raise PacsSettingsError("[pacs] takes either a token or a username and password, not both.")
    if bool(settings.username) != bool(settings.password):
        raise PacsSettingsError("[pacs] needs both username and password for HTTP basic authentication.")
    if settings.uses_dimse and not (0 < settings.dimse_port < 65536 and settings.called_ae_title):
        raise PacsSettingsError("[pacs] dimse_host needs dimse_port (1-65535) and the PACS's called_ae_title.")
    for name in ("called_ae_title", "calling_ae_title"):
        title = getattr(settings, name)
        if len(title) > 16 or not title.isascii() or "\\" in title:
            raise PacsSettingsError(f"[pacs] {name} must be at most 16 ASCII characters without a backslash.")
    if settings.ca_bundle and not Path(settings.ca_bundle).is_file():
        raise PacsSettingsError("[pacs] ca_bundle names no readable file on this server.")
    if not 0 < settings.timeout_seconds <= 600:
        raise PacsSettingsError("[pacs] timeout_seconds must be between 0 and 600.")
    if not 0 <= settings.retries <= MAX_RETRIES:
        raise PacsSettingsError(f"[pacs] retries must be between 0 and {MAX_RETRIES}.")
    return settings
