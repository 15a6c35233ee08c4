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


# -- the fifth hostile-input audit -------------------------------------------------------------


def test_a_value_is_escaped_for_an_attribute_and_never_read_as_a_template():
    # A value lands in the page as text: quotes are escaped too (a value closing an attribute
    # could add an onerror), and tags inside a value are left as they are, never rendered.
    out = mustache.render('<img alt="{{v}}">{{w}}', {"v": '"><script>x()</script>', "w": "{{v}}"})
    assert out == '<img alt="&quot;&gt;&lt;script&gt;x()&lt;/script&gt;">{{v}}'


def test_unclosed_braces_are_text_read_in_one_pass():
    # A lazy regular expression searched again from each `{{{` for its `}}}`: 32 KB of them
    # took 20 seconds, these 160 KB many minutes. Now one pass (and the same text comes back).
    template = "{{{a" * 40_000
    assert mustache.render(template, {}) == template
    assert mustache.render("{{{a}} b {{c}}}|{{a}}}|{{ # s }}x{{ / s }}", {"a": 1, "s": 1}) \
        == "|1}|x"


def test_sections_nested_past_the_limit_are_refused_by_name():
    # Each level was a Python call: thousands of open sections were a RecursionError.
    deep = "{{#a}}" * 3000 + "x" + "{{/a}}" * 3000
    with pytest.raises(mustache.MustacheError, match=r"\{\{#a\}\} is nested more than 100"):
        mustache.render(deep, {"a": True})
    assert mustache.render("{{#a}}" * 100 + "x" + "{{/a}}" * 100, {"a": True}) == "x"


def test_a_render_that_multiplies_past_its_budget_is_refused(monkeypatch):
    # Thirty sections nested over a two-item list are 2^30 passes: a render that never ended.
    # The limit is lowered here so the test is quick; the engine's own is MAX_STEPS.
    monkeypatch.setattr(mustache, "MAX_STEPS", 10_000)
    with pytest.raises(mustache.MustacheError, match="renders more than 10,000 tags"):
        mustache.render("{{#a}}" * 30 + "x" + "{{/a}}" * 30, {"a": [1, 2]})
    assert mustache.render("{{#a}}{{.}}{{/a}}", {"a": list(range(1000))}) == "".join(
        map(str, range(1000)))
