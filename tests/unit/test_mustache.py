"""headwater's Mustache engine (what ``MetaflowCard._get_mustache()`` returns)."""

from __future__ import annotations

import io

import pytest

from headwater.cards import mustache


def test_variables_are_escaped_unless_triple_or_ampersand():
    out = mustache.render("{{x}}|{{{x}}}|{{& x}}|{{ missing }}|{{n}}", {"x": "<b>&", "n": None})
    assert out == "&lt;b&gt;&amp;|<b>&|<b>&||"


def test_sections_lists_dicts_inverted_dotted_and_comments():
    data = {"items": [{"k": 1}, {"k": 2}], "d": {"a": {"b": "deep"}}, "empty": [], "yes": True,
            "top": "T"}
    template = ("{{#items}}<{{k}}{{top}}>{{/items}}{{^empty}}none{{/empty}}{{#empty}}x{{/empty}}"
                "{{d.a.b}}{{#yes}}Y{{/yes}}{{! a comment }}{{#items}}{{{.}}}{{/items}}")
    assert mustache.render(template, data) == "<1T><2T>nonedeepY{'k': 1}{'k': 2}"


def test_a_file_template_is_read():
    assert mustache.render(io.StringIO("a {{{v}}} b"), {"v": "<js>"}) == "a <js> b"


@pytest.mark.parametrize("template, said", [
    ("{{#open}}never closed", "never closed"),
    ("{{/stray}}", "closes no open section"),
    ("{{> partial}}", "not supported"),
])
def test_what_it_cannot_render_is_an_error_naming_the_tag(template, said):
    with pytest.raises(mustache.MustacheError, match=said):
        mustache.render(template, {})
