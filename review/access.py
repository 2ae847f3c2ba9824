"""Who is reading and what they may do: a signed-in identity and the role a site's settings give it.

No Streamlit here: the claims come from the identity provider's token (Streamlit's st.user), the policy
from the `[access]` section of `.streamlit/secrets.toml`, and both are plain mappings so the rules can
be tested alone. A reader diagnoses and sees their own reads; an admin also sees everyone's reads and
scores labelled folders on the server.
"""
from __future__ import annotations

import getpass
import json
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

READER, ADMIN = "reader", "admin"
ACCESS_SECTION = "access"
# The keys of [access]; each list holds claim values, e-mail addresses or subjects.
ROLES_CLAIM_KEY, ADMIN_ROLES_KEY, READER_ROLES_KEY, ADMINS_KEY, READERS_KEY = (
    "roles_claim", "admin_roles", "reader_roles", "admins", "readers",
)
LIST_KEYS = (ADMIN_ROLES_KEY, READER_ROLES_KEY, ADMINS_KEY, READERS_KEY)
LOCAL_SUBJECT = "local"
PROVIDER_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Reader:
    """The person using the app: the token's issuer and subject identify them; name and e-mail are as given."""

    subject: str
    issuer: str
    name: str
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def label(self) -> str:
        return display_name(self.name, self.email, self.subject)

    @property
    def is_local(self) -> bool:
        return (self.subject, self.issuer) == (LOCAL_SUBJECT, "")

    @property
    def signature(self) -> str:
        """The name with the e-mail beside it, as a report is signed; the local user says sign-in was off."""
        if self.is_local:
            return f"{self.name} (local user; sign-in off)"
        return f"{self.label} ({self.email})" if self.email and self.email != self.label else self.label


def display_name(name: str, email: str, subject: str) -> str:
    """How a person is named on the page, in the PDF and in the trail: their name, else e-mail, else subject."""
    return name or email or subject


def local_reader() -> Reader:
    """Sign-in off: the one person at this computer, who owns the app's data and settings."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # a container's user id with no passwd entry and no USER
        name = "local user"
    return Reader(subject=LOCAL_SUBJECT, issuer="", name=name, email="", role=ADMIN)


def _claim_values(value: object) -> set[str]:
    """A roles or groups claim is a list of strings in most providers, a single string or space-separated in some."""
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return {str(item) for item in value}
    return set()


@dataclass(frozen=True)
class AccessPolicy:
    """Which claim carries roles, which of its values and which people are admins or readers.

    Listing readers (by claim value or by person) turns the list into an allow-list: anyone else is
    refused. Without one, every signed-in person is at least a reader.
    """

    roles_claim: str = ""
    admin_roles: frozenset[str] = frozenset()
    reader_roles: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    readers: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, section: Mapping[str, object]) -> AccessPolicy:
        """Read `[access]`; a wrongly typed value raises ValueError naming the key, rather than opening the app."""
        unknown = set(section) - {ROLES_CLAIM_KEY, *LIST_KEYS}
        if unknown:
            raise ValueError(f"[{ACCESS_SECTION}] has keys this app does not know: {', '.join(sorted(unknown))}.")
        roles_claim = section.get(ROLES_CLAIM_KEY, "")
        if not isinstance(roles_claim, str):
            raise ValueError(f"[{ACCESS_SECTION}] {ROLES_CLAIM_KEY} must be the name of a claim, in quotes.")
        lists = {}
        for key in LIST_KEYS:
            value = section.get(key, [])
            if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
                raise ValueError(f"[{ACCESS_SECTION}] {key} must be a list of strings, e.g. {key} = [\"…\"].")
            lists[key] = frozenset(item.casefold() for item in value)
        if (lists[ADMIN_ROLES_KEY] or lists[READER_ROLES_KEY]) and not roles_claim:
            raise ValueError(f"[{ACCESS_SECTION}] lists roles but no {ROLES_CLAIM_KEY} says which claim holds them.")
        return cls(roles_claim=roles_claim, **lists)

    @property
    def is_allow_list(self) -> bool:
        return bool(self.reader_roles or self.readers)

    def role_for(self, claims: Mapping[str, object]) -> str | None:
        """ADMIN, READER, or None for someone an allow-list leaves out.

        People are matched by subject, or by e-mail only where the provider vouches for it
        (email_verified true): an address someone typed into their own profile must not make them an
        admin. Entra ID sends no email_verified, so there roles or subjects are the way.
        """
        people = {str(claims.get("sub", "")).casefold()}
        if claims.get("email") and claims.get("email_verified") is True:
            people.add(str(claims["email"]).casefold())
        roles = {value.casefold() for value in _claim_values(claims.get(self.roles_claim))} if self.roles_claim else set()
        if roles & self.admin_roles or people & self.admins:
            return ADMIN
        if roles & self.reader_roles or people & self.readers or not self.is_allow_list:
            return READER
        return None


def reader_from_claims(claims: Mapping[str, object], policy: AccessPolicy) -> Reader | None:
    """The signed-in person with their role, or None when the site's allow-list does not include them."""
    role = policy.role_for(claims)
    if role is None:
        return None
    return Reader(subject=str(claims.get("sub", "")), issuer=str(claims.get("iss", "")), name=claimed_name(claims),
                  email=str(claims.get("email") or ""), role=role)


def claimed_name(claims: Mapping[str, object]) -> str:
    return str(claims.get("name") or claims.get("preferred_username") or "")


def provider_problem(metadata_url: str, timeout: float = PROVIDER_TIMEOUT_SECONDS) -> str:
    """Why the identity provider cannot sign anyone in now ("" when its discovery document answers).

    Asked before sending the browser there, so a provider that is down or misaddressed gets a
    sentence on the sign-in page instead of an error page from the redirect.
    """
    try:
        with urllib.request.urlopen(metadata_url, timeout=timeout) as response:
            document = json.load(response)
    except (OSError, ValueError):
        return "The hospital's sign-in service cannot be reached just now. Try again in a moment; tell IT if it lasts."
    if not isinstance(document, dict) or "authorization_endpoint" not in document:
        return "The hospital's sign-in service answered, but not as an OpenID Connect provider; tell IT."
    return ""
