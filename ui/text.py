"""Strings from outside (file names, DICOM header values, notes) shown as the plain text they are."""
from __future__ import annotations

import re

# Everything Streamlit's markdown gives a meaning to, colour and emoji directives (":red[...]") included.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
# GitHub-flavoured markdown turns bare URLs and e-mail addresses into links after parsing, so escapes
# cannot stop it ("[x](http://host/p).png" still showed a live link); an invisible word joiner after
# the start of each such pattern does, and the text reads the same.
AUTOLINK_STARTS = re.compile(r"(?i)https?|ftp|www|mailto|@")
WORD_JOINER = "\u2060"


def plain(text: str) -> str:
    """`text` escaped for widgets that render markdown (st.error, st.warning, st.markdown), so it shows as written."""
    escaped = MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return AUTOLINK_STARTS.sub(lambda match: match.group(0) + WORD_JOINER, escaped)
