"""User strings through ui.text.plain read exactly as written and carry no markdown, directive or link."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import displayed
from ui.text import WORD_JOINER, plain


@given(st.text())
def test_what_a_reader_sees_is_the_string_itself(text):
    assert displayed(plain(text)) == text


def test_links_emphasis_and_directives_are_defused():
    name = "[Open prior study](http://127.0.0.1:9/phish) **chest** :red[x] www.example.org a@b.org.png"
    shown = plain(name)
    for escaped in ("\\[Open", "\\]\\(", "\\*\\*chest", "\\:red\\[", f"http{WORD_JOINER}\\:", f"www{WORD_JOINER}\\.",
                    f"a@{WORD_JOINER}b"):
        assert escaped in shown, escaped
    assert shown.count(WORD_JOINER) == 3
