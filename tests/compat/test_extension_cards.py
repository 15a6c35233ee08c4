"""Card types from a ``metaflow_extensions`` package, in the three layouts Metaflow reads.

The test writes the package (one organisation per layout, plus a card module that fails to
import) into a folder it puts on ``PYTHONPATH``; nothing is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

from .helpers import headwater_argv

CARD = """
from metaflow.cards import MetaflowCard


class {cls}(MetaflowCard):
    type = "{name}"
    ALLOW_USER_COMPONENTS = {editable}

    def render(self, task):
        shown = [c.render() for c in self.components] if {editable} else []
        return "{name}:" + task["who"].data + "".join(":" + s for s in shown)


CARDS = [{cls}]
"""

FILES = {
    # plugins/cards/mfextinit_<X>.py names the types of its sibling modules
    "acme/plugins/cards/mfextinit_acme.py": "from .one import CARDS\n",
    "acme/plugins/cards/one.py": CARD.format(cls="One", name="acme_card", editable=True),
    # plugins/cards/__init__.py
    "beta/plugins/cards/__init__.py": CARD.format(cls="Two", name="beta_card", editable=False),
    # a namespace plugins/cards with one subpackage per card module; one of them is broken
    "gamma/plugins/cards/good/__init__.py": CARD.format(cls="Three", name="gamma_card",
                                                        editable=False),
    "gamma/plugins/cards/broken/__init__.py":
        CARD.format(cls="Four", name="broken_card", editable=False)
        + "raise RuntimeError('this card module is broken on purpose')\n",
}

FLOW = textwrap.dedent("""
    from metaflow import FlowSpec, card, current, step
    from metaflow.cards import Markdown

    class ExtCardFlow(FlowSpec):
        @card(type="acme_card")
        @card(type="beta_card")
        @card(type="gamma_card")
        @card(type="broken_card", save_errors=False)
        @step
        def start(self):
            self.who = current.pathspec
            current.card.append(Markdown("hello"))
            self.next(self.end)

        @step
        def end(self):
            pass
""")


def _write_package(root: Path) -> None:
    for relative, text in FILES.items():
        path = root / "metaflow_extensions" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_card_types_of_a_metaflow_extensions_package(tmp_path, tripwire, client):
    extensions = tmp_path / "ext"
    _write_package(extensions)
    flow = tmp_path / "ext_card_flow.py"
    flow.write_text(FLOW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((tripwire, str(extensions)))}

    def cli(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(headwater_argv(*args), cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    ran = cli("run", str(flow))
    # the broken type does not fail the task: it is reported, naming its module and error
    output = ran.stdout + ran.stderr  # the task's stderr is in the run's log
    assert "@card(type='broken_card')" in output
    assert "metaflow_extensions.gamma.plugins.cards.broken failed to import" in output
    assert "broken on purpose" in output

    cli("card", str(flow), "list", "1/start/1", "--as-json", "--file", "cards.json")
    listing = json.loads((tmp_path / "cards.json").read_text())
    assert sorted(c["type"] for c in listing["cards"]) == ["acme_card", "beta_card", "gamma_card"]
    cli("card", str(flow), "get", "1/start/1", "beta.html", "--type", "beta_card")
    assert (tmp_path / "beta.html").read_text() == "beta_card:ExtCardFlow/1/start/1"

    client()
    from headwater import Flow
    from headwater.cards import get_cards

    texts = {c.type: c.get() for c in get_cards(Flow("ExtCardFlow")["1"]["start"].task)}
    assert sorted(texts) == ["acme_card", "beta_card", "gamma_card"]
    assert texts["gamma_card"] == "gamma_card:ExtCardFlow/1/start/1"
    # the editable type received the step's components; the others did not
    assert texts["acme_card"].startswith("acme_card:ExtCardFlow/1/start/1:")
    assert "hello" in texts["acme_card"]


def test_built_in_card_types_never_search_for_extensions():
    from headwater.cards import card_class, extension_cards

    extension_cards.reset()
    assert card_class("default").type == "default"
    assert card_class("blank").type == "blank"
    assert extension_cards._cards is None  # the search never ran
