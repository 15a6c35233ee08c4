"""Card components, previews, the DAG picture and the page: what ends up in a card's HTML."""

from __future__ import annotations

import collections
import io
import json
import re

import numpy as np
import pytest

from headwater.cards import (
    Artifact,
    Error,
    Image,
    JSONViewer,
    Markdown,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
    YAMLViewer,
    card_class,
)
from headwater.cards.collector import CardCollector
from headwater.cards.dag import render_dag_svg
from headwater.cards.default_card import BlankCard, DefaultCard
from headwater.cards.page import html_page
from headwater.cards.preview import preview_html, short_repr
from headwater.cards.task_view import ArtifactInfo, CardTask
from headwater.exceptions import FlowDefinitionError

EVIL = "<script>alert('x')</script>"
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


def test_user_text_is_escaped_in_every_component():
    rendered = "".join(c.render() for c in [
        Markdown(f"# title\n\n{EVIL}"),
        Table([[EVIL, 1]], headers=[EVIL]),
        Artifact(EVIL, name=EVIL),
        Error(ValueError(EVIL), title=EVIL),
        ValueBox(EVIL, EVIL, subtitle=EVIL, change_indicator=EVIL),
        PythonCode(code_string=EVIL),
        JSONViewer({"k": EVIL}),
        YAMLViewer({"k": EVIL}),
        ProgressBar(label=EVIL, metadata=EVIL),
        Image(PNG_1PX, label=EVIL),
    ])
    assert "<script" not in rendered
    assert "&lt;script&gt;" in rendered


def test_markdown_is_rendered_and_raw_html_in_it_is_not():
    text = Markdown("# Big\n\nsome **bold** and <b>raw</b>\n\n| a | b |\n|---|---|\n| 1 | 2 |").render()
    assert "<h1>Big</h1>" in text and "<strong>bold</strong>" in text
    assert "&lt;b&gt;raw&lt;/b&gt;" in text
    assert "<table>" in text and "<td>1</td>" in text


def test_markdown_without_its_renderer_says_what_renders_it(monkeypatch):
    """Installed without the `cards` extra, a `# Title` shows as typed: the card says why
    (newuser7: it looked like a broken card), and the text stays escaped."""
    import builtins

    from headwater.cards import components

    real_import = builtins.__import__

    def no_markdown_it(name, *args, **kwargs):
        if name.startswith("markdown_it"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    components._markdown_parser.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_markdown_it)
    try:
        text = Markdown("# Sweep <b>x</b>").render()
    finally:
        monkeypatch.undo()
        components._markdown_parser.cache_clear()
    assert "<pre># Sweep &lt;b&gt;x&lt;/b&gt;</pre>" in text
    assert "pip install &#x27;headwater[cards]&#x27;" in text
    assert "headwater[cards]" not in Markdown("# Sweep").render()  # with it: rendered, no note


def test_markdown_drops_javascript_links():
    text = Markdown("[click](javascript:alert(1))").render()
    assert 'href="javascript' not in text


def test_table_holds_nested_components_and_truncates_long_data():
    table = Table([[1, Markdown("**in a cell**")]], headers=["n", "md"])
    assert "<strong>in a cell</strong>" in table.render()
    big = Table([[i] for i in range(5000)])
    html = big.render()
    assert html.count("<tr>") == 1000 and "showing 1,000 of 5,000 rows" in html


def test_table_from_a_dataframe_shows_columns_and_first_rows():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"city": ["Oslo", "Lima"], "pop": [0.7, 10.0]})
    html = Table.from_dataframe(frame).render()
    assert "<th>city</th>" in html and "<td><span class=\"hw-value\">Oslo</span></td>" in html


def test_a_ten_million_row_dataframe_gives_a_summary():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": np.zeros(10_000_000, dtype=np.int8)})
    text = preview_html(frame)
    assert "10,000,000 rows × 1 columns" in text
    assert text.count("<tr>") == 6  # the header row and five rows
    table = Table.from_dataframe(frame).render()
    assert "showing 1,000 of 10,000,000 rows" in table


def test_a_huge_array_preview_is_a_summary_of_bounded_size():
    # A broadcast view: 10 GB of float64 as the array reports it, 8 bytes in memory.
    huge = np.broadcast_to(np.float64(1.5), (1_250_000_000,))
    text = short_repr(huge)
    assert "shape=(1250000000,)" in text and "dtype=float64" in text
    assert "..." in text and len(text) < 1000


def test_short_repr_bounds_long_containers_and_survives_a_broken_repr():
    assert len(short_repr(list(range(100_000)))) < 300

    class Broken:
        def __repr__(self):
            raise RuntimeError("nope")

    assert "Broken" in short_repr(Broken())  # no exception out of the card


def test_image_from_bytes_pil_and_matplotlib():
    assert 'src="data:image/png;base64,' in Image(PNG_1PX, label="px").render()
    from PIL import Image as PILImage

    pil = PILImage.new("RGB", (4, 4), "red")
    assert "data:image/png;base64," in Image.from_pil_image(pil).render()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    png = Image.from_matplotlib(fig).render()
    plt.close(fig)
    assert "data:image/png;base64," in png


def test_image_refuses_what_is_not_an_image_and_says_what_to_use():
    with pytest.raises(TypeError, match="from_pil_image"):
        Image("not bytes")
    with pytest.raises(TypeError, match="not a PNG"):
        Image(b"plain text")


def test_vega_chart_spec_cannot_close_its_script_element():
    chart = VegaChart({"mark": "bar", "title": "</script><script>alert(1)</script>"})
    html = chart.render()
    assert html.count("</script>") == 1  # only the element's own end
    payload = re.search(r'class="hw-vega-spec">(.*)</script>', html).group(1)
    assert json.loads(payload)["title"].startswith("</script>")


def test_vega_chart_takes_an_altair_like_chart():
    class Chart:
        def to_dict(self):
            return {"mark": "point"}

    assert VegaChart.from_altair_chart(Chart()).spec == {"mark": "point"}


def test_components_update_in_place():
    bar = ProgressBar(max=10, value=1)
    bar.update(7)
    assert 'value="7"' in bar.render()
    box = ValueBox("loss", 1.0)
    box.update(0.25)
    assert "0.25" in box.render()
    md = Markdown("old")
    md.update("new")
    assert "new" in md.render() and "old" not in md.render()
    with pytest.raises(TypeError, match="disable_updates"):
        Table([[1]], disable_updates=True).update([[2]])


def test_page_inlines_vega_only_when_a_chart_needs_it():
    plain = html_page("t", "<p>x</p>")
    assert "vegaEmbed" not in plain and "<script" not in plain
    with_chart = html_page("t", VegaChart({"mark": "bar"}).render(), {"vega"})
    assert "vegaEmbed" in with_chart and "function" in with_chart
    assert not re.search(r"""src=["']https?://""", with_chart)  # nothing from the network
    assert "sourceMappingURL" not in with_chart


def test_dag_svg_has_every_step_and_marks_one():
    from headwater import FlowSpec, step
    from headwater.graph import check_flow

    class Branchy(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    svg = render_dag_svg(check_flow(Branchy), highlight="b")
    for name in ("start", "a", "b", "join", "end"):
        assert f'data-step="{name}"' in svg
    assert svg.count("hw-dag-current") == 1
    assert re.search(r'class="hw-dag-step hw-dag-current" data-step="b"', svg)
    assert svg.count("<path d=") == 6  # start->a, start->b, a->join, b->join, join->end, arrow


def _task(**artifacts: ArtifactInfo) -> CardTask:
    return CardTask("F", "1", "start", "1", 0, "succeeded", 1000.0, 1001.5, ["alpha"],
                    {"alpha": ArtifactInfo("alpha", "builtins.float", 20, _value=0.5), **artifacts})


def test_default_card_does_not_load_a_large_untouched_artifact():
    def never():
        raise AssertionError("the card loaded a large artifact")

    big = ArtifactInfo("big", "numpy.ndarray", 10 * 1024**3, _loader=never)
    small = ArtifactInfo("small", "builtins.str", 30, _loader=lambda: EVIL)
    html = DefaultCard(components=[Markdown("mine")]).render(_task(big=big, small=small))
    assert "not loaded for the card" in html and "10,737,418,240 bytes" in html
    assert "&lt;script&gt;" in html and EVIL not in html
    assert "F/1/start/1" in html and "succeeded" in html and "<p>mine</p>" in html
    assert "alpha" in html and "0.5" in html


def test_blank_card_shows_only_components():
    html = BlankCard(options={"title": "Report"}, components=[Markdown("only me")]).render(_task())
    assert "<h1>Report</h1>" in html and "only me" in html and "Parameters" not in html


def test_unknown_card_type_names_it_and_the_known_ones():
    with pytest.raises(FlowDefinitionError, match="(?s)no card type is called .fancy.*blank, default"):
        card_class("fancy")


def test_subclassing_registers_a_card_type():
    from headwater.cards import MetaflowCard

    class Hello(MetaflowCard):
        type = "hello_unit_test"

        def render(self, task):
            return f"<p>hi {task.pathspec}</p>"

    assert card_class("hello_unit_test") is Hello


def test_collector_routes_components_to_the_right_card():
    decls = [{"type": "default", "id": None}, {"type": "blank", "id": "side"}]
    collector = CardCollector(decls, [True, True])
    collector.append(Markdown("a"), id="first")
    collector["side"].append(Markdown("b"))
    assert [c.text for c in collector.components_of(0)] == ["a"]
    assert [c.text for c in collector.components_of(1)] == ["b"]
    assert collector.components["first"].text == "a"
    assert len(collector.components[None]) == 1
    collector.clear()
    assert collector.components_of(0) == []


def test_collector_warns_once_and_drops_components_for_an_unknown_id(capsys):
    collector = CardCollector([{"type": "default", "id": None}], [True], where="F/1/start/1")
    collector["nope"].append(Markdown("x"))
    collector["nope"].append(Markdown("y"))
    err = capsys.readouterr().err
    assert err.count("no @card(id='nope')") == 1 and "F/1/start/1" in err


def test_yaml_viewer_writes_yaml():
    assert "a:\n- 1" in YAMLViewer({"a": [1]}).render()


def test_error_component_shows_the_traceback():
    try:
        raise KeyError("missing thing")
    except KeyError as exc:
        html = Error(exc).render()
    assert "KeyError" in html and "missing thing" in html and "Traceback" in html


def test_pil_image_bytes_roundtrip_is_a_real_png():
    from PIL import Image as PILImage

    html = Image.from_pil_image(PILImage.new("L", (3, 2))).render()
    import base64

    data = base64.b64decode(re.search(r"base64,([^\"]+)", html).group(1))
    assert PILImage.open(io.BytesIO(data)).size == (3, 2)


def test_refresh_writes_at_most_once_per_refresh_interval():
    written: list[int] = []
    decls = [{"type": "default", "id": None, "refresh_interval": 3600}]
    collector = CardCollector(decls, [True], live=written.append)
    collector.refresh()
    collector.refresh()
    assert written == [0]
    eager = CardCollector([{"type": "default", "id": None, "refresh_interval": 0}], [True],
                          live=written.append)
    eager.refresh()
    eager.refresh()
    assert written == [0, 0, 0]


class _CountedLeaf:
    calls = 0

    def __repr__(self) -> str:
        type(self).calls += 1
        return "leaf"


@pytest.mark.parametrize("wrap", [
    list, lambda pair: collections.OrderedDict(x=pair[0], y=pair[1]),
    lambda pair: collections.namedtuple("Pair", "a b")(*pair), type("Listish", (list,), {})])
def test_a_value_built_to_expand_when_printed_is_previewed_in_bounded_work(wrap):
    """A pickle of a few hundred bytes can hold 2**depth shared references: a card (and the web
    UI, which previews with the same function) must not print them all."""
    from headwater.cards.preview import bounded_repr, short_repr

    leaf = _CountedLeaf()
    value = leaf
    for _ in range(16):
        value = wrap([value, value])
    _CountedLeaf.calls = 0
    assert len(bounded_repr(value)) <= 2000 and len(short_repr(value)) <= 600
    assert _CountedLeaf.calls < 100  # 2**16 = 65,536 with a full repr
