"""Strings from outside (file names, DICOM header values, notes) shown as the plain text they are, and copied as such."""
from __future__ import annotations

import html
import re

# Everything Streamlit's markdown gives a meaning to, colour and emoji directives (":red[...]") and entity
# references ("&amp;") included.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")
# GitHub-flavoured markdown turns bare URLs and e-mail addresses into links after parsing, so escapes cannot
# stop it ("[x](http://host/p).png" still showed a live link). Inside a code span nothing is parsed, so a
# word holding the start of such a pattern is shown as code: no link, and copied it is the original text.
AUTOLINK_STARTS = re.compile(r"(?i)https?|ftp|www|mailto|@")
WORDS = re.compile(r"(\s+)")
# Markdown builds blocks from lines (headings underlined with ===, indented code, lists) and shows a line
# break inside a paragraph as a space, and no white space that opens or closes it: a string is kept to one
# line, as it reads.
LINE_BREAKS = re.compile(r"[ \t]*[\r\n][ \t\r\n]*")
BACKTICKS = re.compile(r"`+")


def code_span(text: str) -> str:
    """A word (no white space) as a markdown code span, whatever backticks it holds (CommonMark 6.1)."""
    fence = "`" * (max((len(run) for run in BACKTICKS.findall(text)), default=0) + 1)
    padded = f" {text} " if text[:1] in "` " or text[-1:] in "` " else text  # one space each side is stripped
    return f"{fence}{padded}{fence}"


def plain(text: str) -> str:
    """`text` for widgets that render markdown (st.error, st.header, st.tabs...), so it shows and copies as written.

    Markdown's special characters are escaped; a word that markdown would turn
    into a link is shown as code instead; line breaks become the spaces
    markdown would show, so no line starts a block.
    """
    line = LINE_BREAKS.sub(" ", text).strip()
    return "".join(
        code_span(word) if AUTOLINK_STARTS.search(word) else MARKDOWN_SPECIAL.sub(r"\\\1", word)
        for word in WORDS.split(line)
        if word
    )


def plotly_plain(text: str) -> str:
    """`text` for a plotly title, label or hover text, which render a subset of HTML: entities show as written."""
    return html.escape(text)
