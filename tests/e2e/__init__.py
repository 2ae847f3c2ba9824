"""Tests through a real browser; every module here carries BROWSER_TEST as its pytestmark."""
import pytest

from tests.browser import CHROMIUM

BROWSER_TEST = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}; install Debian's chromium and chromium-driver"
    ),
]
