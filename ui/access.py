"""Sign-in with the hospital's identity provider (Streamlit's st.login), and who is using the app this run.

With an `[auth]` section in `.streamlit/secrets.toml` nobody gets past the sign-in page without an
account the site's `[access]` rules admit; without one the app is one local user's, on this computer.
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from review.access import (
    ACCESS_SECTION,
    AccessPolicy,
    Reader,
    claimed_name,
    display_name,
    local_reader,
    provider_problem,
    reader_from_claims,
)
from ui import pages
from ui.copy import DISCLAIMER
from ui.pages import APP_TITLE
from ui.text import plain

AUTH_SECTION = "auth"
SIGN_IN_OFF_SAID = "sign_in_off_said"  # session key: the sign-in-off notice was shown in this session
LOOPBACK_ADDRESSES = ("localhost", "127.0.0.1", "::1")


def secret_section(name: str) -> dict:
    """A section of secrets.toml as a plain dict; {} when the file or the section is absent."""
    try:
        section = st.secrets.get(name, {})
    except FileNotFoundError:
        return {}
    return section.to_dict() if hasattr(section, "to_dict") else dict(section)


def sign_in_configured() -> bool:
    return bool(secret_section(AUTH_SECTION))


def _providers() -> dict[str | None, str]:
    """Each provider's discovery URL: the one in [auth] itself (None), and named ones ([auth.okta], [auth.entra]…).

    A provider is a table with a client_id; other tables in [auth] (client_kwargs) are its settings.
    """
    section = secret_section(AUTH_SECTION)
    providers = {None: section.get("server_metadata_url", "")} if "client_id" in section else {}
    for name, value in section.items():
        if isinstance(value, dict) and "client_id" in value:
            providers[name] = value.get("server_metadata_url", "")
    return providers


def current_reader() -> Reader | None:
    """The person this run is for, or None when sign-in is required and they are not (yet) admitted.

    Raises ValueError for settings that cannot be meant, so the app stays closed rather than open.
    """
    if not sign_in_configured():
        return local_reader()
    if not _providers():
        raise ValueError(f"[{AUTH_SECTION}] names no identity provider (no client_id in it or in a table under it).")
    if not st.user.is_logged_in:
        return None
    return reader_from_claims(st.user.to_dict(), AccessPolicy.from_settings(secret_section(ACCESS_SECTION)))


def _sign_in_view() -> None:
    """All a visitor who is not signed in may see: what the app is, and the way in."""
    st.title(APP_TITLE)
    st.markdown("Sign in with your hospital account to review chest X-rays.")
    st.caption(DISCLAIMER)
    for provider, metadata_url in _providers().items():
        label = "Sign in" if provider is None else f"Sign in with {provider}"
        if st.button(label, type="primary", icon=":material/login:", key=f"sign_in_{provider or 'default'}"):
            if problem := provider_problem(metadata_url):
                st.error(problem, icon="🚫")
            elif provider is None:
                st.login()
            else:
                st.login(provider)


def _refused_view() -> None:
    """Signed in, but not on the site's allow-list: say so by name, and offer the way out."""
    st.title(APP_TITLE)
    claims = st.user.to_dict()
    who = display_name(claimed_name(claims), str(claims.get("email") or ""), str(claims.get("sub") or ""))
    st.error(plain(
        f"You are signed in as {who or 'this account'}, but this app is not open to that account. Ask your "
        "department's administrator for access, or sign out and sign in with another account."
    ), icon="🚫")
    _sign_out_button()


def _misconfigured_view(problem: str) -> None:
    st.title(APP_TITLE)
    st.error(plain(f"Sign-in is not set up correctly, so the app stays closed: {problem}"), icon="🚫")
    if st.user.get("is_logged_in"):
        _sign_out_button()


def _sign_out_button() -> None:
    if st.button("Sign out", icon=":material/logout:", key="sign_out"):
        st.logout()


def _admission() -> tuple[Reader | None, Callable[[], None]]:
    """The reader for this run, or None and the view a visitor who is not admitted sees instead."""
    try:
        reader = current_reader()
    except ValueError as error:
        problem = str(error)

        def misconfigured() -> None:
            _misconfigured_view(problem)
        return None, misconfigured
    if reader is None and st.user.is_logged_in:
        return None, _refused_view
    return reader, _sign_in_view


def admit() -> Reader | None:
    """The reader for this run; otherwise draw the sign-in (or refusal) view alone and return None.

    That view is then the only page, registered under every page's address too, so a bookmark to
    one opens the way in, and no page's script runs.
    """
    reader, view = _admission()
    if reader is None:
        closed = [st.Page(view, title="Sign in", url_path=path, default=not path) for path in ("", *pages.URL_PATHS)]
        st.navigation(closed, position="hidden").run()
    return reader


def signed_in() -> Reader:
    """The admitted reader, for the pages; anyone else gets the sign-in view and the page stops there.

    Checked again here because Streamlit runs a script under pages/ by itself, without app.py, when it
    is the first page a new server process is asked for (and in AppTest).
    """
    reader, view = _admission()
    if reader is None:
        view()
        st.stop()
    return reader


def sign_in_off_notice() -> None:
    """Say once per session, plainly, that nobody signs in; louder when the server listens beyond this computer."""
    if sign_in_configured() or st.session_state.get(SIGN_IN_OFF_SAID):
        return
    st.session_state[SIGN_IN_OFF_SAID] = True
    address = st.get_option("server.address") or "every network interface"
    if address in LOOPBACK_ADDRESSES:
        st.info(
            "Sign-in is off: the app runs as one local user and listens on this computer only. "
            "To serve a department, configure sign-in (README, *Deploying for a department*).",
            icon="ℹ️",
        )
    else:
        st.warning(plain(
            f"Sign-in is off, yet this server listens on {address}: anyone who can reach it uses the app as the "
            "local user, with every read in the audit trail. Configure sign-in before sharing it."
        ), icon="⚠️")


def show_problem(message: str, detail: str, reader: Reader, said_by: str) -> None:
    """The reason in words for everyone; what `said_by` (the database, the PACS connection) said, only for an
    admin."""
    st.error(plain(message), icon="🚫")
    if detail and reader.is_admin:
        st.caption(plain(f"{said_by} said: {detail}"))


def identity_sidebar(reader: Reader) -> None:
    """Who is signed in, in what role, and the way out."""
    if reader.is_local:
        st.markdown(f"**Local user** {plain(reader.name)} · sign-in off")
        return
    st.markdown(f"**Signed in as** {plain(reader.label)} · {reader.role}")
    if reader.email and reader.email != reader.label:
        st.caption(plain(reader.email))
    _sign_out_button()

