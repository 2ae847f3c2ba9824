"""The protocol-level load driver speaks Streamlit's protocol well enough to get a real call and explanation."""
from __future__ import annotations

import asyncio

import pytest

from bench.load_protocol import at_once, distinct_xrays
from model.paths import ARTIFACTS_ENV
from review.audit import AUDIT_DB_ENV
from tests.browser import streamlit_server


@pytest.mark.slow
def test_two_sessions_through_the_protocol_get_their_call_then_their_explanation(
    artifacts_dir, val_images, tmp_path
):
    originals = [path for path, _ in val_images]
    paths = distinct_xrays(originals, 2, 1, tmp_path, salt=0)
    assert len({path.read_bytes() for path in paths}) == 2, "distinct files, so no cached explanation"
    env = {ARTIFACTS_ENV: str(artifacts_dir), AUDIT_DB_ENV: str(tmp_path / "audit.sqlite3")}
    with streamlit_server(tmp_path / "streamlit.log", env) as server:
        timings = asyncio.run(at_once(server.url, paths))
    assert len(timings) == 2
    assert all(0 < timing.call < timing.explained for timing in timings)
