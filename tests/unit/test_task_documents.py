"""A listing's shared decoder (meta.codec.TaskDocuments) gives what decoding each document alone
gives, raises what it raises, and decodes a repeated document once."""

from __future__ import annotations

import json

import pytest

from headwater.meta import codec
from headwater.records import Frame


def _frames_text(*frames: Frame) -> str:
    return codec.dump_frames(frames)


OUTER = Frame("start", "1", 3, 10, is_foreach=True, items_key="a" * 32)


def _alone(method: str, text: str | None):
    """What the one-document decoder says: the value, or the exception's type and text."""
    loader = {"frames": codec.load_frames, "strings": codec.load_strings,
              "transition": codec.load_transition}[method]
    try:
        return loader(text)
    except (ValueError, TypeError) as err:
        return type(err), str(err)


def _shared(docs: codec.TaskDocuments, method: str, text: str | None):
    try:
        return getattr(docs, method)(text)
    except (ValueError, TypeError) as err:
        return type(err), str(err)


FRAMES = [
    None, "", "[]",
    _frames_text(OUTER),
    *(_frames_text(OUTER, Frame("work", str(i), i, 100_000, is_foreach=True, items_key="b" * 32))
      for i in (0, 7, 10, 99_999, 123)),
    _frames_text(Frame("fan", "2", -1, 0, is_foreach=True, unbounded=True)),  # a control task
    _frames_text(Frame("a", "1", 0, 2), Frame("b", "5", 1, 3)),
    _frames_text(Frame("a", "1", 4, 2), Frame("b", "5", 6, 3)),
    # not what dump_frames writes, or damaged: each must come out as decoding it alone does
    '[{"index": 5, "is_foreach": true, "items_key": null, "num_splits": 9, "step": "s", '
    '"task_id": "1"}]',
    '[{"index":05,"is_foreach":true,"items_key":null,"num_splits":9,"step":"s","task_id":"1"}]',
    '[{"index":5.5,"is_foreach":true,"items_key":null,"num_splits":9,"step":"s","task_id":"1"}]',
    '[{"index":1,"index":2,"is_foreach":true,"items_key":null,"num_splits":9,"step":"s",'
    '"task_id":"1"}]',
    '[{"index":3,"index":4,"is_foreach":true,"items_key":null,"num_splits":9,"step":"s",'
    '"task_id":"1"}]',
    '[{"index":1,"is_foreach":{"index":2},"items_key":null,"num_splits":9,"step":"s",'
    '"task_id":"1"}]',
    '[{"index":8,"is_foreach":{"index":9},"items_key":null,"num_splits":9,"step":"s",'
    '"task_id":"1"}]',
    '[{"index":1,"is_foreach":true,"items_key":"\\"index\\":4","num_splits":9,"step":"s",'
    '"task_id":"1"}]',
    '[{"index":2,"is_foreach":true,"items_key":null,"num_splits":9,"step":"s","task_id":"1"}]',
    '[{"index":2,"is_foreach":true,"items_key":null,"num_splits":9,"step":"s","task_id":"1"}',
    '[{"index":2,"is_foreach":true,"items_key":null,"num_splits":"9","step":"s","task_id":"1"}]',
    '[{"index":3,"is_foreach":true,"items_key":null,"num_splits":"9","step":"s","task_id":"1"}]',
    '[{"index":2,"is_foreach":true,"items_key":null,"num_splits":9,"step":"s"}]',
    '[{"index":' + "9" * 5000 + ',"is_foreach":true,"items_key":null,"num_splits":9,'
    '"step":"s","task_id":"1"}]',
    "[" * 100_000 + "]" * 100_000,
    '{"a": 1}', "not json", " ",
]


def test_frames_decode_as_each_alone_whatever_came_before() -> None:
    """Every text, in every order of a listing, gives what load_frames gives it alone: the
    same frames, or the same error (a damaged record is named as before)."""
    for order in (FRAMES, list(reversed(FRAMES)), FRAMES[::2] + FRAMES[1::2]):
        docs = codec.TaskDocuments()
        for text in order:
            assert _shared(docs, "frames", text) == _alone("frames", text), text[:200]


def test_strings_and_transitions_decode_as_each_alone() -> None:
    strings = [None, "", "[]", '["start/1"]', '["a/1", "b/2"]', "[1]", "{}", "nope", '["start/1"]']
    transitions = [None, "", json.dumps({"next_steps": ["join"], "foreach_count": None}),
                   "[1, 2]", "{not json", json.dumps({"metadata": [1]}),
                   json.dumps({"cards": [1, "x"]}), json.dumps({"next_steps": ["join"]})]
    docs = codec.TaskDocuments()
    for text in strings + strings:
        assert _shared(docs, "strings", text) == _alone("strings", text)
    for text in transitions + transitions:
        assert _shared(docs, "transition", text) == _alone("transition", text)


def test_a_repeated_document_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1,000-task foreach listing: one parents and one transition decoding for the step, and
    its split stacks (equal but for the item's index) decoded in full once."""
    calls = {"frames": 0, "strings": 0, "transition": 0}
    for name, loader in (("frames", codec.load_frames), ("strings", codec.load_strings),
                         ("transition", codec.load_transition)):
        def counted(text, _name=name, _loader=loader):
            calls[_name] += 1
            return _loader(text)
        monkeypatch.setattr(codec, f"load_{name}", counted)
    docs = codec.TaskDocuments()
    parents, transition = '["start/1"]', json.dumps({"next_steps": ["join"]})
    decoded = []
    for i in range(1000):
        text = _frames_text(OUTER, Frame("work", "9", i, 1000, is_foreach=True, items_key="c"))
        decoded.append((docs.frames(text), docs.strings(parents), docs.transition(transition)))
    assert calls == {"frames": 1, "strings": 1, "transition": 1}
    assert [frames[-1].index for frames, _, _ in decoded] == list(range(1000))
    assert all(frames[0] == OUTER and frames[1] == Frame("work", "9", i, 1000, True, "c")
               for i, (frames, _, _) in enumerate(decoded))
