"""Roles from a site's [access] settings: a roles claim, allow-lists by person, and who is refused."""
from __future__ import annotations

import pytest

from review.access import ADMIN, READER, AccessPolicy, local_reader, reader_from_claims

GROUPS = {"roles_claim": "groups", "admin_roles": ["XRay-Admins"]}


def claims(**extra) -> dict:
    return {"sub": "u-1", "iss": "https://idp.example", "name": "Dr One", "email": "one@example.org", **extra}


@pytest.mark.parametrize(
    ("section", "given", "role"),
    [
        ({}, claims(), READER),
        (GROUPS, claims(groups=["xray-admins", "staff"]), ADMIN),
        (GROUPS, claims(groups="staff xray-admins"), ADMIN),  # some providers send one space-separated string
        (GROUPS, claims(groups=["staff"]), READER),
        (GROUPS, claims(), READER),
        ({"admins": ["ONE@example.org"]}, claims(email_verified=True), ADMIN),
        ({"admins": ["u-1"]}, claims(email=""), ADMIN),
        ({"admins": ["one@example.org"]}, claims(email_verified=False), READER),  # an unverified address proves nothing
        ({"admins": ["one@example.org"]}, claims(), READER),  # nor one the provider does not vouch for (Entra ID)
        ({"readers": ["two@example.org"]}, claims(email_verified=True), None),
        ({"readers": ["one@example.org"]}, claims(email_verified=True), READER),
        ({"readers": ["one@example.org"]}, claims(), None),
        ({**GROUPS, "reader_roles": ["xray-readers"]}, claims(groups=["staff"]), None),
        ({**GROUPS, "reader_roles": ["xray-readers"]}, claims(groups=["xray-readers"]), READER),
        ({**GROUPS, "reader_roles": ["xray-readers"]}, claims(groups=["xray-admins"]), ADMIN),
    ],
)
def test_roles_follow_the_sites_settings(section, given, role):
    reader = reader_from_claims(given, AccessPolicy.from_settings(section))
    assert (reader.role if reader else None) == role


def test_a_reader_carries_the_tokens_identity_and_is_named_by_it():
    reader = reader_from_claims(claims(), AccessPolicy())
    assert (reader.subject, reader.issuer, reader.name, reader.email) == ("u-1", "https://idp.example", "Dr One",
                                                                          "one@example.org")
    assert reader.signature == "Dr One (one@example.org)"
    assert reader_from_claims({"sub": "u-2", "preferred_username": "two"}, AccessPolicy()).label == "two"
    assert reader_from_claims({"sub": "u-3"}, AccessPolicy()).label == "u-3"
    local = local_reader()
    assert local.is_admin and local.is_local and local.signature.endswith("(local user; sign-in off)")


@pytest.mark.parametrize(
    ("section", "complaint"),
    [
        ({"admins": "one@example.org"}, "admins must be a list"),
        ({"readers": 5}, "readers must be a list"),
        ({"admins": {"a": "b"}}, "admins must be a list"),
        ({"roles_claim": ["groups"]}, "roles_claim must be the name of a claim"),
        ({"admin_roles": ["x"]}, "no roles_claim"),
        ({"admin": ["x"]}, "keys this app does not know: admin"),
    ],
)
def test_settings_that_cannot_be_meant_are_refused(section, complaint):
    with pytest.raises(ValueError, match=complaint):
        AccessPolicy.from_settings(section)
