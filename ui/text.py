"""Strings from outside (file names, DICOM header values, notes) shown as the plain text they are."""
from __future__ import annotations

import re

# Everything Streamlit's markdown gives a meaning to, colour and emoji directives (":red[...]") included.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: str) -> str:
    """`text` escaped for widgets that render markdown (st.error, st.warning, st.markdown), so it shows as written."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)
