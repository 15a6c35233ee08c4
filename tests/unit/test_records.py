"""``Record``: the plain data classes of headwater behave as dataclasses did (fields in order,
defaults made per record, repr, equality, frozen and hashable, pickling), without code generated
at import."""

from __future__ import annotations

import copy
import dataclasses
import io
import pickle

import pytest

from headwater.records import (
    ArtifactRef,
    Factory,
    Field,
    Frame,
    FrozenRecordError,
    Record,
    TaskFailure,
    TaskResult,
    TaskSpec,
    as_dict,
    replace,
)


class Point(Record, frozen=True, slots=True):
    x: int
    y: int = 0


class Bag(Record):
    name: str
    items: list = Factory(list)
    note: str = Field("", repr=False, compare=False)


class Tagged(Bag):
    tag: str = "t"


def test_fields_are_filled_in_order_by_position_or_name_with_defaults() -> None:
    assert (Point(1).x, Point(1).y) == (1, 0)
    assert Point(y=2, x=1) == Point(1, 2)
    assert Point.__match_args__ == ("x", "y")
    one, two = Bag("a"), Bag("b")
    one.items.append(1)
    assert two.items == []  # a factory default is made afresh for each record


def test_the_signature_shows_the_fields() -> None:
    import inspect

    assert str(inspect.signature(Point)) == "(x, y=0)"
    assert str(inspect.signature(Bag)) == "(name, items=<factory>, note='')"


def test_wrong_arguments_name_the_field() -> None:
    with pytest.raises(TypeError, match="'x'"):
        Point()
    with pytest.raises(TypeError, match="'z'"):
        Point(1, z=3)
    with pytest.raises(TypeError, match="'x'"):
        Point(1, x=2)
    with pytest.raises(TypeError, match="takes 2 fields"):
        Point(1, 2, 3)


def test_repr_and_equality_follow_the_field_options() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2)"
    assert repr(Bag("a", note="hidden")) == "Bag(name='a', items=[])"
    assert Bag("a", note="one") == Bag("a", note="two")  # compare=False
    assert Bag("a") != Bag("b")
    assert Point(1) != (1, 0)  # only a record of the same class compares equal


def test_frozen_records_refuse_assignment_and_hash_by_value() -> None:
    point = Point(1)
    with pytest.raises(FrozenRecordError, match="'x'"):
        point.x = 2
    with pytest.raises(AttributeError):
        del point.y
    assert hash(point) == hash(Point(1, 0))
    assert {Point(1), Point(1)} == {Point(1)}
    assert not hasattr(point, "__dict__")  # slots=True


def test_mutable_records_are_unhashable_and_assignable() -> None:
    bag = Bag("a")
    bag.name = "b"
    assert bag.name == "b"
    with pytest.raises(TypeError):
        hash(bag)


def test_subclasses_add_fields_after_their_bases() -> None:
    tagged = Tagged("a", [1])
    assert as_dict(tagged) == {"name": "a", "items": [1], "note": "", "tag": "t"}
    assert repr(tagged) == "Tagged(name='a', items=[1], tag='t')"


def test_post_init_runs_after_the_fields_are_set() -> None:
    class Checked(Record):
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError(f"negative n: {self.n}")

    assert Checked(1).n == 1
    with pytest.raises(ValueError, match="-1"):
        Checked(-1)


def test_replace_copies_with_changes() -> None:
    spec = TaskSpec("F", "1", "start", "1", 0, [], {}, ())
    again = replace(spec, attempt=1, extra={"catch": True})
    assert (again.attempt, again.extra, spec.attempt, spec.extra) == (1, {"catch": True}, 0, {})
    assert again.pathspec == "F/1/start/1"


def test_records_survive_pickling_and_copying() -> None:
    ref = ArtifactRef("ab" * 16, 3, "builtins.int", inline=b"xyz")
    frame = Frame("start", "1", 2, 5, is_foreach=True)
    result = TaskResult(manifest={"x": ref}, next_steps=("end",), metadata={"k": "v"})
    for value in (ref, frame, result, Bag("a", [1], note="n")):
        for protocol in (2, 5):
            assert pickle.loads(pickle.dumps(value, protocol=protocol)) == value
        assert copy.deepcopy(value) == value
    assert pickle.loads(pickle.dumps(result)).ok


class One(Record, slots=True):
    only: int


class Kept(Record):
    x: int

    def __getstate__(self) -> dict:
        return {"x": self.x * 10}


class KeptChild(Kept):
    y: int = 0


class Thawed(Point, frozen=False):
    z: int = 0


def test_pickled_state_is_the_field_values_unless_a_class_writes_its_own() -> None:
    spec = TaskSpec("F", "1", "start", "1", 0, [], {}, (Frame("a", "1", 0, 2),))
    assert spec.__getstate__() == [getattr(spec, name) for name in spec.__record_fields__]
    assert spec.extra == {} and spec.extra is not TaskSpec("F", "1", "s", "2", 0, [], {}, ()).extra
    for value in (spec, One(3), Tagged("n", tag="u"), Record()):
        assert pickle.loads(pickle.dumps(value)) == value
    assert One(3).__getstate__() == [3] and Record().__getstate__() == []
    # a class's own __getstate__ is kept by its subclasses
    assert KeptChild.__getstate__ is Kept.__getstate__
    assert pickle.loads(pickle.dumps(KeptChild(2, 5))).x == 20
    # assignment follows each class's own frozen option
    thawed = Thawed(1)
    thawed.x = 2
    del thawed.z
    with pytest.raises(FrozenRecordError):
        del Point(1).x


def test_the_run_path_makes_no_dataclass() -> None:
    """Importing what a local run imports compiles no dataclass (the reason Record exists)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import dataclasses, sys
        made = []
        original = dataclasses._process_class
        def counting(cls, *args, **kwargs):
            made.append(f"{cls.__module__}.{cls.__qualname__}")
            return original(cls, *args, **kwargs)
        dataclasses._process_class = counting
        import headwater
        import headwater.cli.flow_cli, headwater.cli.run_cmd
        import headwater.runtime.launcher, headwater.runtime.executors.local.executor
        import headwater.meta.sqlite, headwater.runtime.task
        mine = [name for name in made if name.startswith("headwater.")]
        assert mine == [], mine
    """)
    subprocess.run([sys.executable, "-c", code], check=True)



# The dataclass versions of three records, as they were before Record (their pickles name these
# classes; the test loads them as the new ones).
@dataclasses.dataclass(frozen=True, slots=True)
class OldFrame:
    step: str
    task_id: str
    index: int
    num_splits: int
    is_foreach: bool = False
    items_key: str | None = None


@dataclasses.dataclass(slots=True)
class OldFailure:
    type_name: str
    message: str
    traceback: str = ""


@dataclasses.dataclass(frozen=True)
class OldPoint:
    x: int
    y: int = 0


def test_pickles_of_the_dataclass_versions_still_load() -> None:
    """Values pickled before the records were ``Record`` s (a @catch exception stored as an
    artifact of an old run) load into the new classes."""
    new_class = {"OldFrame": Frame, "OldFailure": TaskFailure, "OldPoint": Point}

    class Renaming(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> type:
            return new_class.get(name) or super().find_class(module, name)

    def load(value: object, protocol: int) -> object:
        return Renaming(io.BytesIO(pickle.dumps(value, protocol=protocol))).load()

    for protocol in (2, 5):
        assert load(OldFrame("s", "1", 2, 5, True), protocol) == Frame("s", "1", 2, 5, True)
        assert load(OldFailure("E", "m", "tb"), protocol) == TaskFailure("E", "m", "tb")
        assert load(OldPoint(1, 2), protocol) == Point(1, 2)


def test_a_pickle_made_before_a_field_was_added_loads_with_its_default() -> None:
    """``Frame.unbounded`` came later: a frame pickled with six values still loads."""
    frame = Frame("s", "1", 2, 5, True)
    state = frame.__getstate__()[:-1]  # as pickled before the field existed
    again = Frame.__new__(Frame)
    again.__setstate__(state)
    assert again == frame and again.unbounded is False
