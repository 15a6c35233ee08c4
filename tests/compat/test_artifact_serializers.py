"""Pluggable artifact serializers (Metaflow's ``metaflow.datastore.artifacts``) in headwater.

The end-to-end test installs a small package, ``hwpoint``, the way a user's extension would be:
a ``*.dist-info`` folder on the path whose ``entry_points.txt`` declares its serializer in the
group ``headwater.serializers``. Its ``Point`` refuses to be pickled, so a run that succeeds and
a client that reads the values back prove the serializer wrote and read them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path

import pytest

from headwater.exceptions import SerializationError
from headwater.store import open_datastore
from headwater.store.serialize import SERIALIZER_HOOK
from headwater.store.serializers import (
    ArtifactSerializer,
    SerializationMetadata,
    SerializedBlob,
    SerializerState,
    SerializerStore,
    list_serializer_status,
)
from headwater.store.serializers.pickle_serializer import PickleSerializer

from .helpers import TRIPWIRE_MESSAGE, flow_path

POINT_PACKAGE = '''
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __repr__(self):
        return f"Point({self.x}, {self.y})"

    def __reduce__(self):
        raise TypeError("Point refuses pickle: its serializer stores it")
'''

POINT_SERIALIZER = '''
from headwater.store.serializers import (
    ArtifactSerializer, SerializationMetadata, SerializedBlob)

from hwpoint import Point


class PointSerializer(ArtifactSerializer):
    TYPE = "point"
    PRIORITY = 50

    @classmethod
    def can_serialize(cls, obj):
        return isinstance(obj, Point)

    @classmethod
    def can_deserialize(cls, metadata):
        return metadata.encoding == "point-v1"

    @classmethod
    def serialize(cls, obj, format="storage"):
        data = f"{obj.x},{obj.y}".encode()
        return [SerializedBlob(data)], SerializationMetadata(
            "hwpoint.Point", len(data), "point-v1", {"unit": "m"})

    @classmethod
    def deserialize(cls, data, metadata=None, format="storage"):
        assert metadata.serializer_info["unit"] == "m"
        x, y = bytes(data[0]).decode().split(",")
        return Point(int(x), int(y))
'''


def _install_point_package(site: Path) -> None:
    """``hwpoint`` 1.0, as pip would leave it: the package and its dist-info."""
    package = site / "hwpoint"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(POINT_PACKAGE)
    (package / "serializers.py").write_text(POINT_SERIALIZER)
    info = site / "hwpoint-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hwpoint\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[headwater.serializers]\npoint = hwpoint.serializers:PointSerializer\n")


def _python(code: str, cwd: Path, pythonpath: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_flow_artifacts_written_and_read_by_an_installed_serializer(
        run_headwater, child_env, tmp_path: Path):
    site = tmp_path / "site"
    _install_point_package(site)
    path = os.pathsep.join([child_env["PYTHONPATH"], str(site)])
    done = run_headwater("run", flow_path("point_flow.py"), extra_env={"PYTHONPATH": path})
    assert TRIPWIRE_MESSAGE not in done.stderr
    assert done.returncode == 0, done.stderr

    # A fresh process reads them back through the client: Run(...).data and Task[...]
    read = _python("""
        from headwater import Flow, Task, namespace
        from headwater.store.serializers import list_serializer_status

        namespace(None)
        run = Flow("CompatPointFlow").latest_run
        print("data", run.data.q, run.data.n, run.data.big.x, len(str(run.data.big.y)))
        start = Task(run["start"].task.pathspec)
        print("task", start["p"].data)
        print("encoding", start["p"]._ref.encoding)
        print("n encoding", start["n"]._ref.encoding)
        print("status", [(s["name"], s["state"], s["source"]) for s in list_serializer_status()])
    """, tmp_path, path)
    assert read.returncode == 0, read.stderr
    assert "data Point(4, 28) 7 1 3001" in read.stdout
    assert "task Point(3, 4)" in read.stdout
    encoding = next(line for line in read.stdout.splitlines() if line.startswith("encoding"))
    assert '"serializer":"point"' in encoding and '"encoding":"point-v1"' in encoding
    assert '"source":"hwpoint"' in encoding and '"unit":"m"' in encoding
    assert "n encoding pickle5" in read.stdout  # everything else is pickled, as before
    assert "('point', 'active', 'hwpoint')" in read.stdout

    # Without the package, the error names the artifact, the serializer and what to install.
    missing = _python("""
        from headwater import Flow, namespace

        namespace(None)
        print(Flow("CompatPointFlow").latest_run.data.q)
    """, tmp_path, child_env["PYTHONPATH"])
    assert missing.returncode != 0
    assert "artifact 'q'" in missing.stderr
    assert "serializer 'point'" in missing.stderr and "install hwpoint" in missing.stderr


# -- The datastore's dispatch, in this process ---------------------------------------------------

class Celsius:
    """A value with its own serializer in these tests (it pickles fine too)."""

    def __init__(self, degrees: float) -> None:
        self.degrees = degrees

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Celsius) and other.degrees == self.degrees


class CelsiusSerializer(ArtifactSerializer):
    TYPE = "test_celsius"
    PRIORITY = 10
    fail_with: Exception | None = None

    @classmethod
    def can_serialize(cls, obj):
        return isinstance(obj, Celsius)

    @classmethod
    def can_deserialize(cls, metadata):
        return metadata.encoding == "celsius-v1"

    @classmethod
    def serialize(cls, obj, format="storage"):
        if cls.fail_with is not None:
            raise cls.fail_with
        data = repr(obj.degrees).encode() * (1 if obj.degrees < 1000 else 500)
        return [SerializedBlob(data)], SerializationMetadata(
            "Celsius", len(data), "celsius-v1", {"repeat": 1 if obj.degrees < 1000 else 500})

    @classmethod
    def deserialize(cls, data, metadata=None, format="storage"):
        text = bytes(data[0]).decode()
        return Celsius(float(text[: len(text) // metadata.serializer_info["repeat"]]))


@pytest.fixture
def celsius():
    """CelsiusSerializer declared and active for one test, then gone again."""
    module = types.ModuleType("_hw_celsius_serializers")
    module.CelsiusSerializer = CelsiusSerializer
    sys.modules[module.__name__] = module
    SerializerStore.bootstrap_entries(
        [("test_celsius", "_hw_celsius_serializers.CelsiusSerializer")], source="celsius-pkg")
    assert SerializerStore._records["test_celsius"].state == SerializerState.ACTIVE
    yield CelsiusSerializer
    CelsiusSerializer.fail_with = None
    SerializerStore._active_serializers.discard(CelsiusSerializer)
    SerializerStore._records.pop("test_celsius", None)
    del sys.modules[module.__name__]


@pytest.fixture
def store(tmp_path: Path):
    with open_datastore(str(tmp_path / "store")) as opened:
        yield opened


def test_only_pickle_means_no_dispatch_at_all():
    assert [c.TYPE for c in SerializerStore.get_ordered_serializers()] == ["pickle"]
    assert SERIALIZER_HOOK.dispatch is None  # a save checks this one name, nothing more


def test_custom_serializer_claims_its_type_and_pickle_the_rest(celsius, store):
    assert SERIALIZER_HOOK.dispatch is not None
    small = store.save_artifact(Celsius(21.5), name="t", where="F/1/start/1")
    large = store.save_artifact(Celsius(1234.5), name="hot", where="F/1/start/1")
    other = store.save_artifact({"a": 1}, name="d", where="F/1/start/1")
    assert small.encoding.startswith("serializer:") and small.inline is not None
    assert '"source":"celsius-pkg"' in small.encoding
    assert large.inline is None and large.size == 6 * 500  # a blob of its own
    assert small.type_name.endswith(".Celsius")
    assert other.encoding == "pickle5"
    assert store.load_artifact(small, name="t", where="F/1/start/1") == Celsius(21.5)
    assert store.load_artifact(large, name="hot", where="F/1/start/1") == Celsius(1234.5)
    assert store.load_artifact(other, name="d", where="F/1/start/1") == {"a": 1}


def test_serializer_failure_names_artifact_task_and_serializer(celsius, store):
    celsius.fail_with = ValueError("no negative kelvin")
    with pytest.raises(SerializationError) as caught:
        store.save_artifact(Celsius(-500.0), name="temp", where="F/1/start/1")
    message = str(caught.value)
    assert "artifact 'temp' of task F/1/start/1" in message
    assert "CelsiusSerializer" in message and "no negative kelvin" in message


def test_unreadable_artifact_names_writer_and_source(celsius, store):
    ref = store.save_artifact(Celsius(1.0), name="t", where="F/1/start/1")
    SerializerStore._active_serializers.discard(celsius)
    with pytest.raises(SerializationError) as caught:
        store.load_artifact(ref, name="t", where="F/1/end/2")
    message = str(caught.value)
    assert "artifact 't' of task F/1/end/2" in message
    assert "'test_celsius'" in message and "install celsius-pkg" in message


def test_a_raising_can_serialize_is_skipped_and_counted(store):
    class Flaky(ArtifactSerializer):
        TYPE = "test_flaky"
        PRIORITY = 1

        @classmethod
        def can_serialize(cls, obj):
            raise RuntimeError("flaky check")

        @classmethod
        def can_deserialize(cls, metadata):
            return False

        @classmethod
        def serialize(cls, obj, format="storage"):
            raise NotImplementedError

        @classmethod
        def deserialize(cls, data, metadata=None, format="storage"):
            raise NotImplementedError

    module = types.ModuleType("_hw_flaky")
    module.Flaky = Flaky
    sys.modules["_hw_flaky"] = module
    try:
        SerializerStore.bootstrap_entries([("test_flaky", "_hw_flaky.Flaky")])
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            ref = store.save_artifact(42, name="x", where="F/1/start/1")
        assert ref.encoding == "pickle5"
        assert any("flaky check" in str(w.message) for w in seen)
        status = next(s for s in list_serializer_status() if s["name"] == "test_flaky")
        assert status["dispatch_error_count"] == 1 and "RuntimeError" in status["last_error"]
    finally:
        SerializerStore._active_serializers.discard(Flaky)
        SerializerStore._records.pop("test_flaky", None)
        SerializerStore._all_serializers.pop("test_flaky", None)
        del sys.modules["_hw_flaky"]
    assert SERIALIZER_HOOK.dispatch is None  # pickle alone again: the fast path is back


def test_a_serializer_waiting_for_a_module_activates_when_it_is_imported(tmp_path, monkeypatch):
    class NeedsDep(ArtifactSerializer):
        TYPE = "test_needs_dep"

        @classmethod
        def setup_imports(cls):
            cls.lazy_import("_hw_late_dependency", alias="late")

        @classmethod
        def can_serialize(cls, obj):
            return False

        @classmethod
        def can_deserialize(cls, metadata):
            return False

        @classmethod
        def serialize(cls, obj, format="storage"):
            raise NotImplementedError

        @classmethod
        def deserialize(cls, data, metadata=None, format="storage"):
            raise NotImplementedError

    module = types.ModuleType("_hw_needs_dep")
    module.NeedsDep = NeedsDep
    sys.modules["_hw_needs_dep"] = module
    (tmp_path / "_hw_late_dependency.py").write_text("VALUE = 1\n")
    try:
        SerializerStore.bootstrap_entries([("test_needs_dep", "_hw_needs_dep.NeedsDep")])
        record = SerializerStore._records["test_needs_dep"]
        assert record.state == SerializerState.PENDING_ON_IMPORTS
        assert record.awaiting_modules == ["_hw_late_dependency"]
        monkeypatch.syspath_prepend(str(tmp_path))
        import _hw_late_dependency  # noqa: F401

        assert record.state == SerializerState.ACTIVE and record.import_trigger == "hook"
        assert NeedsDep.late.VALUE == 1
    finally:
        SerializerStore._reset_for_tests()
        SerializerStore.bootstrap()
        SerializerStore._all_serializers.pop("test_needs_dep", None)
        sys.modules.pop("_hw_needs_dep", None)
        sys.modules.pop("_hw_late_dependency", None)
    assert [c.TYPE for c in SerializerStore.get_ordered_serializers()] == ["pickle"]


def test_the_setting_switches_pickle_off_and_the_error_says_how_to_get_it_back(
        store, monkeypatch):
    monkeypatch.setenv("METAFLOW_ENABLED_ARTIFACT_SERIALIZER", '["-pickle"]')
    SerializerStore._reset_for_tests()
    SerializerStore.bootstrap()
    try:
        assert [s["state"] for s in list_serializer_status()] == ["disabled"]
        with pytest.raises(SerializationError) as caught:
            store.save_artifact([1, 2], name="xs", where="F/1/start/1")
        assert "artifact 'xs' of task F/1/start/1" in str(caught.value)
        assert "METAFLOW_ENABLED_ARTIFACT_SERIALIZER" in str(caught.value)
    finally:
        monkeypatch.delenv("METAFLOW_ENABLED_ARTIFACT_SERIALIZER")
        SerializerStore._reset_for_tests()
        SerializerStore.bootstrap()
    assert [s["state"] for s in list_serializer_status()] == ["active"]


def test_pickle_serializer_speaks_metaflows_format():
    blobs, meta = PickleSerializer.serialize({"k": [1, 2]})
    assert meta.encoding == "pickle-v4" and meta.size == len(blobs[0].value)
    assert PickleSerializer.deserialize([blobs[0].value], meta) == {"k": [1, 2]}


def test_served_at_metaflows_paths_and_only_imported_when_used(tmp_path: Path):
    done = _python("""
        import sys
        from headwater.compat import alias

        alias.install()
        print("after install", "headwater.store.serializers" in sys.modules)
        from metaflow.datastore.artifacts import ArtifactSerializer, list_serializer_status
        from metaflow.datastore.artifacts.serializer import SerializerStore
        from metaflow.plugins.datastores.serializers.pickle_serializer import PickleSerializer
        import headwater.store.serializers as native
        print("same", ArtifactSerializer is native.ArtifactSerializer,
              SerializerStore.get_ordered_serializers() == [PickleSerializer])
        print("status", [s["state"] for s in list_serializer_status()])
    """, tmp_path, os.environ.get("PYTHONPATH", ""))
    assert done.returncode == 0, done.stderr
    assert "after install False" in done.stdout
    assert "same True True" in done.stdout
    assert "status ['active']" in done.stdout
