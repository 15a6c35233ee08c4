"""A run's recorded @pypi/@conda environments are decoded through one checked reader
(``meta.codec.load_environments``): what ``run_record`` writes reads back unchanged, and
anything else is a ValueError the callers name (never a KeyError or RecursionError)."""

from __future__ import annotations

import json

import pytest

from headwater.environments.lock import EnvLock, run_record
from headwater.meta.codec import load_environments, load_trigger

PYPI = EnvLock("pypi", "3.11.7", {"kind": "pypi", "python": None, "packages": {"tabulate": ""},
                                  "channels": []}, "tabulate==0.9.0 \\\n    --hash=sha256:ab\n")
CONDA = EnvLock("conda", "3.11.7", {"kind": "conda", "python": None, "packages": {"zlib": ""},
                                    "channels": ["conda-forge"]},
                json.dumps({"runtime": "", "conda": [{"name": "zlib", "version": "1.3"}]}))


def test_what_run_record_writes_reads_back_unchanged():
    record = run_record({"start": PYPI, "end": CONDA, "other": PYPI})
    assert load_environments(json.dumps(record, sort_keys=True)) == record
    assert load_environments(None) is None and load_environments("") is None


@pytest.mark.parametrize("text, says", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("[]", "not a {steps, locks} object"),
    ('{"steps": [], "locks": {}}', "not a {steps, locks} object"),
    ('{"steps": {"start": "x"}, "locks": {}}', "step 'start' names no recorded lock"),
    ('{"steps": {"start": 3}, "locks": {}}', "step 'start' names no recorded lock"),
    ('{"steps": {}, "locks": {"x": {"kind": "pip"}}}', "lock 'x' is not"),
    ('{"steps": {}, "locks": {"x": {"kind": "pypi", "python": "3", "lock": "",'
     ' "declared": {"packages": []}}}}', "lock 'x' is not"),
    ('{"steps": {}, "locks": {"x": {"kind": "conda", "python": "3", "lock": "{}",'
     ' "declared": {}}}}', "conda lock 'x' is not"),
    ('{"steps": {}, "locks": {"x": {"kind": "conda", "python": "3", "lock": "nope",'
     ' "declared": {}}}}', "Expecting value"),
])
def test_anything_else_is_a_value_error(text, says):
    with pytest.raises(ValueError) as caught:
        load_environments(text)
    assert says in str(caught.value)


def test_a_trigger_is_one_event_or_a_list_of_them():
    assert load_trigger('{"name": "e"}') == [{"name": "e"}]
    assert load_trigger('[{"name": "e"}, {"name": "f"}]') == [{"name": "e"}, {"name": "f"}]
    assert load_trigger(None) is None
    for text in ("[1]", '"e"', "[" * 100_000 + "]" * 100_000):
        with pytest.raises(ValueError):
            load_trigger(text)
