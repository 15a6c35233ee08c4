"""``@transient``: artifacts a run needs only while it runs, freed by ``gc`` once it succeeded.

Real runs of flows/transient_flow.py in a fresh folder, the real ``headwater gc`` and
``resume`` commands, and the client reading back. What is asserted: the data of transient
artifacts of a succeeded run goes and everything else stays (bytes another artifact shares
included); a failed run keeps it for resume; resume and the step cache run a step again rather
than clone a task whose transient data is gone; the client says why such data is missing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import servers
from headwater import Run, namespace
from headwater.client import use_settings
from headwater.exceptions import ArtifactError
from headwater.settings import Settings

from .faultkit import DEADLINE_S
from .flowrun import flow_file, hermetic_env, reset_client
from .uiserver import ui_server

FLOW = flow_file("transient_flow.py")
CLI = [sys.executable, "-c", "from headwater.cli.main import main; main()"]


class Folder:
    """One project folder: runs the flow and the CLI there, looks at its blobs, reads runs."""

    def __init__(self, path: Path, metadata: str | None = None) -> None:
        self.path = path
        self.local = path / ".headwater"
        self.metadata = metadata or str(self.local / "meta.sqlite")
        self.env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(self.local),
                                 "HEADWATER_METADATA": self.metadata})

    def flow(self, *args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, str(FLOW), *args], cwd=self.path,
                              env={**self.env, **env}, capture_output=True, text=True,
                              timeout=DEADLINE_S)
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done

    def gc(self) -> None:
        done = subprocess.run([*CLI, "gc", "--grace", "0"], cwd=self.path, env=self.env,
                              capture_output=True, text=True, timeout=DEADLINE_S)
        assert done.returncode == 0, done.stdout + done.stderr

    def holding(self, text: str) -> int:
        """How many blob files contain ``text``."""
        needle = text.encode()
        return sum(1 for p in (self.local / "blobs").rglob("*")
                   if p.is_file() and needle in p.read_bytes())

    def client(self) -> None:
        reset_client()
        use_settings(Settings(datastore_root=str(self.local), metadata_url=self.metadata))
        namespace(None)


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    yield Folder(tmp_path)
    reset_client()


@pytest.fixture
def pg_folder(tmp_path: Path, pg_server: str) -> Folder:
    yield Folder(tmp_path, servers.fresh_database(pg_server, "transient"))
    reset_client()


@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_gc_frees_the_transient_data_of_a_succeeded_run_and_keeps_the_rest(where, request) -> None:
    folder = request.getfixturevalue("folder" if where == "sqlite" else "pg_folder")
    folder.flow("run", "--seed", "a")
    folder.client()
    run = Run("TransientFlow/1")
    assert {"transient:raw", "transient:scratch"} <= run.system_tags
    assert folder.holding("raw data of seed a") == 1

    folder.gc()

    assert folder.holding("raw data of seed a") == 0
    assert folder.holding("kept data of seed a") == 1
    # scratch's bytes are also those of copy, which is kept: they stay, and scratch reads
    assert folder.holding("shared scratch of seed a") == 1
    folder.client()
    start = Run("TransientFlow/1")["start"].task
    assert start.data.kept.startswith("kept data of seed a")
    assert start.data.scratch == start.data.copy
    assert Run("TransientFlow/1")["middle"].task.data.summary > 3000
    with pytest.raises(ArtifactError) as caught:
        start.data.raw  # noqa: B018
    message = str(caught.value)
    assert "'raw'" in message and "TransientFlow/1/start/" in message
    assert "@transient" in message and "headwater gc" in message
    # the end task carries raw forward: it is gone there too, with the same explanation
    with pytest.raises(ArtifactError, match="@transient"):
        Run("TransientFlow/1")["end"].task.data.raw  # noqa: B018


def test_a_failed_run_keeps_its_transient_data_for_resume(folder) -> None:
    folder.flow("run", "--seed", "b", ok=False, FAIL_IN_MIDDLE="1")
    folder.gc()
    assert folder.holding("raw data of seed b") == 1  # the failed run may be resumed

    folder.flow("resume")
    folder.client()
    resumed = Run("TransientFlow/2")
    assert resumed.successful
    assert resumed["start"].task.origin_pathspec is not None  # cloned: raw was there
    assert resumed["middle"].task.data.summary > 3000

    # The failed run still names raw, so raw stays while it is recorded; deleting it frees raw.
    folder.gc()
    assert folder.holding("raw data of seed b") == 1
    deleted = subprocess.run([*CLI, "delete", "TransientFlow/1"], cwd=folder.path,
                             env=folder.env, capture_output=True, text=True, timeout=DEADLINE_S)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    folder.gc()
    assert folder.holding("raw data of seed b") == 0
    assert folder.holding("kept data of seed b") == 1


def test_resume_runs_again_a_task_whose_transient_data_was_freed(folder) -> None:
    folder.flow("run", "--seed", "c")
    folder.gc()
    assert folder.holding("raw data of seed c") == 0

    folder.flow("resume", "middle", "--origin-run-id", "1")

    folder.client()
    resumed = Run("TransientFlow/2")
    assert resumed.successful
    start = resumed["start"].task
    assert start.origin_pathspec is None  # not cloned: its raw was gone, so start ran again
    assert start.data.raw.startswith("raw data of seed c")
    assert folder.holding("raw data of seed c") == 1


def test_resume_still_clones_when_the_transient_data_is_there(folder) -> None:
    folder.flow("run", "--seed", "d")
    folder.flow("resume", "middle", "--origin-run-id", "1")
    folder.client()
    assert Run("TransientFlow/2")["start"].task.origin_pathspec == "TransientFlow/1/start/1"


def test_the_step_cache_reuses_a_task_only_while_its_transient_data_is_there(folder) -> None:
    folder.flow("run", "--seed", "e")
    folder.flow("run", "--seed", "e")
    folder.client()
    assert Run("TransientFlow/2")["start"].task.origin_pathspec == "TransientFlow/1/start/1"

    folder.gc()  # both runs succeeded: raw goes
    assert folder.holding("raw data of seed e") == 0
    folder.flow("run", "--seed", "e")

    folder.client()
    third = Run("TransientFlow/3")
    assert third.successful
    assert third["start"].task.origin_pathspec is None  # the cache could not be used
    assert third["middle"].task.data.summary > 3000
    assert folder.holding("raw data of seed e") == 1


def test_the_web_ui_says_why_freed_transient_data_is_missing(folder) -> None:
    folder.flow("run", "--seed", "f")
    folder.gc()
    with ui_server(folder.path) as ui:
        task = ui.json("/api/tasks/TransientFlow/1/start/1")
        artifacts = {a["name"]: a for a in task["artifacts"]}
        assert "@transient" in artifacts["raw"]["error"]
        assert "headwater gc" in artifacts["raw"]["error"]
        assert artifacts["kept"]["error"] is None
        assert artifacts["kept"]["preview"].startswith("'kept data of seed f")
        status, _, body = ui.get("/api/tasks/TransientFlow/1/start/1/artifacts/raw")
        assert status != 200 and b"@transient" in body
