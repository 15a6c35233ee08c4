"""The thirteenth hostile-input audit. Each test runs the real thing: ``python flow.py`` runs and
commands in a child process, the client over the datastore they wrote."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from .faultkit import client, hw
from .flowrun import write_flow

TINY_FLOW = '''
from headwater import FlowSpec, step


class TinyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TinyFlow()
'''

LOOKALIKE_PROD = "\u0440rod"  # a Cyrillic "р"
LATIN_LOOKALIKE = "adm\u0131n"  # a dotless i, a Latin letter


@pytest.fixture(scope="module")
def tagged(tmp_path_factory) -> Path:
    """A folder with two runs of TinyFlow: run 1 tagged ``prod``, run 2 ``рrod`` and ``admın``."""
    folder = tmp_path_factory.mktemp("h13-tags")
    flow = write_flow(folder, "tiny_flow.py", TINY_FLOW)
    for tags in (["prod"], [LOOKALIKE_PROD, LATIN_LOOKALIKE]):
        proc = hw(flow, "run", *[arg for tag in tags for arg in ("--tag", tag)], cwd=folder)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def test_a_tag_filter_says_which_other_tags_look_like_the_one_asked(tagged):
    """``runs --tag prod`` lists run 1 only (the exact text) and says run 2's ``рrod`` looks like
    it, as an escape; the note is on stderr, so ``--json`` stays parseable; asking for the
    lookalike names ``prod`` the same way."""
    flow = tagged / "tiny_flow.py"
    asked = hw(flow, "runs", "--tag", "prod", cwd=tagged)
    assert asked.returncode == 0, asked.stderr
    assert "TinyFlow/1" in asked.stdout and "TinyFlow/2" not in asked.stdout
    assert "\\u0440rod" in asked.stderr and LOOKALIKE_PROD not in asked.stderr
    assert "looks like it but is another" in asked.stderr
    as_json = hw(flow, "runs", "--json", "--tag", LOOKALIKE_PROD, cwd=tagged)
    assert as_json.returncode == 0, as_json.stderr
    import json

    assert [r["run_id"] for r in json.loads(as_json.stdout)] == ["2"]
    assert "--tag \\u0440rod matches that exact text only" in as_json.stderr
    assert ": prod (" in as_json.stderr
    latin = hw(flow, "runs", "--tag", "admin", cwd=tagged)
    assert "adm\\u0131n" in latin.stderr, latin.stderr
    plain = hw(flow, "runs", "--tag", "nothing-like-it", cwd=tagged)
    assert plain.returncode == 0 and "Note:" not in plain.stderr


def test_the_clients_tag_filter_warns_of_a_lookalike_tag(tagged):
    from headwater import Flow

    client(tagged)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = [r.id for r in Flow("TinyFlow").runs("prod")]
    assert runs == ["1"]
    (warning,) = [w for w in caught if "looks like it" in str(w.message)]
    assert "\\u0440rod" in str(warning.message)
    assert Path(warning.filename).name == Path(__file__).name  # points at the caller's line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r.id for r in Flow("TinyFlow").runs("unrelated")] == []
        assert [r.id for r in Flow("TinyFlow").runs()] == ["2", "1"]
    assert not [w for w in caught if "looks like it" in str(w.message)]


def test_an_error_naming_a_lookalike_shows_it_apart(tagged):
    """A run id typed with a Cyrillic "а" (``1а``): the not-found error quotes it as an escape,
    so it does not read as the run ``1a``; a Latin lookalike too."""
    flow = tagged / "tiny_flow.py"
    for run_id, shown in (("1\u0430", "1\\u0430"), ("\u0131", "\\u0131")):
        proc = hw(flow, "tag", "add", "--run-id", run_id, "x", cwd=tagged)
        assert proc.returncode == 1
        assert f"'TinyFlow/{shown}' not found" in proc.stderr, proc.stderr
        assert run_id not in proc.stderr


def test_removing_a_tag_the_run_lacks_names_the_lookalike_it_has(tagged):
    proc = hw(tagged / "tiny_flow.py", "tag", "remove", "--run-id", "2", "prod", cwd=tagged)
    assert proc.returncode == 0, proc.stderr
    assert "has no tag prod, only \\u0440rod" in proc.stderr
    client(tagged)
    from headwater import Run

    assert LOOKALIKE_PROD in Run("TinyFlow/2").tags  # nothing was removed


def test_adding_a_user_tag_says_whose_namespace_the_run_joins(tmp_path):
    """As in Metaflow, ``user:bob`` is a user tag like any other and puts the run in bob's
    default namespace (his ``latest_run``); the command says so and how to undo it. Removing
    the run's own ``user:`` system tag is refused, as in Metaflow."""
    flow = write_flow(tmp_path, "tiny_flow.py", TINY_FLOW)
    assert hw(flow, "run", cwd=tmp_path).returncode == 0
    added = hw(flow, "tag", "add", "--run-id", "1", "user:bob", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "is now in the namespace user:bob too" in added.stderr
    assert "tag remove --run-id 1 user:bob" in added.stderr
    check = subprocess.run(
        [sys.executable, "-c", "from headwater import Flow, namespace; namespace('user:bob'); "
         "print(Flow('TinyFlow').latest_run.id)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert check.stdout.strip() == "1", check.stderr
    own = hw(flow, "tag", "add", "--run-id", "1", "user:tester", cwd=tmp_path)
    assert own.returncode == 0 and "Note:" not in own.stderr
    refused = hw(flow, "tag", "remove", "--run-id", "1", "user:tester", cwd=tmp_path)
    assert refused.returncode == 1 and "cannot remove system tag" in refused.stderr
