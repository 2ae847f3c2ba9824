"""User strings through ui.text read exactly as written, copy as written, and carry no markdown, directive or link."""
from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import MARKDOWN, displayed
from ui.text import AUTOLINK_STARTS, code_span, plain, plotly_plain

# Any text a name, a DICOM value or a note can hold, line breaks and tabs included.
TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs"), include_characters="\n\r\t"))


def as_a_paragraph_shows(text: str) -> str:
    """What markdown shows of text in a paragraph: each line break as a space, no white space at either end."""
    return re.sub(r"[ \t]*[\r\n][ \t\r\n]*", " ", text).strip()


def inline_tokens(markdown: str) -> list:
    return MARKDOWN.parseInline(markdown)[0].children or []


@given(TEXT)
def test_what_a_reader_sees_is_the_string_itself(text):
    assert displayed(plain(text)) == as_a_paragraph_shows(text)


@given(TEXT)
def test_nothing_is_parsed_as_a_block_link_emphasis_or_html_and_no_link_can_start_outside_code(text):
    markdown = plain(text)
    assert {token.type for token in MARKDOWN.parse(markdown)} <= {"paragraph_open", "inline", "paragraph_close"}
    tokens = inline_tokens(markdown)
    assert {token.type for token in tokens} <= {"text", "code_inline"}
    assert not any(AUTOLINK_STARTS.search(token.content) for token in tokens if token.type == "text")


def test_lines_that_markdown_would_make_blocks_stay_one_line_of_text():
    for text in ("x\n===", "a\n\n    indented code", "- item\n- item", "# heading", "> quote\n\n1. one"):
        assert displayed(plain(text)) == as_a_paragraph_shows(text), text


def test_links_emphasis_and_directives_are_defused_and_linkable_words_become_code():
    name = "[Open prior study](http://127.0.0.1:9/phish) **chest** :red[x] www.example.org a@b.org.png"
    shown = plain(name)
    for escaped in ("\\[Open", "\\*\\*chest\\*\\*", "\\:red\\[x\\]", "`study](http://127.0.0.1:9/phish)`",
                    "`www.example.org`", "`a@b.org.png`"):
        assert escaped in shown, escaped
    assert "\u2060" not in shown, "nothing invisible is added: the copied text is the original"


@given(TEXT.filter(lambda text: text and not text.isspace() and not any(c.isspace() for c in text)))
def test_a_code_span_holds_any_word(word):
    tokens = inline_tokens(code_span(word))
    assert [token.type for token in tokens] == ["code_inline"] and tokens[0].content == word


def test_plotly_text_shows_tags_and_entities_as_written():
    name = "<b>bold</b> <a href='http://x'>link</a> &amp;"
    assert html.unescape(plotly_plain(name)) == name
    assert "<" not in plotly_plain(name) and ">" not in plotly_plain(name)
