"""Deleting runs and collecting garbage: real runs, real files and buckets, real processes.

The flow (flows/gc_flow.py) stores every kind of thing a run keeps, most of it unique to its
seed: what a deleted run alone made must go, and every byte of the others must stay (each test
reads every artifact, log and card of the remaining runs back, verified against its hash).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest

import servers
from headwater import Flow, Run, namespace
from headwater.cards import CardNotPresentException, get_cards
from headwater.client import use_settings
from headwater.exceptions import NotFoundError
from headwater.maintenance import collect_garbage
from headwater.meta import open_metadata
from headwater.meta.liveness import this_host
from headwater.meta.sqlite import SQLiteMetadata
from headwater.settings import Settings
from headwater.store import open_storage
from headwater.store.datastore import DataStore, blob_path
from headwater.store.local_storage import TRASH_PREFIX, LocalStorage

from .faultkit import DEADLINE_S, no_headwater_traceback
from .flowrun import flow_file, hermetic_env, reset_client

FLOW = flow_file("gc_flow.py")
BIG = 3000
CLI = [sys.executable, "-c", "from headwater.cli.main import main; main()"]
BUCKET = "headwater-gc-test"


def unique(seed: str, what: str) -> str:
    """What gc_flow.py stores for ``what`` in the run of ``seed`` (the flow's own rule)."""
    return f"{what} of seed {seed}|" + what[0] * BIG


# -- helpers ---------------------------------------------------------------------------------


class Store:
    """One folder's datastore: runs flows and the CLI against it, and looks at its files."""

    def __init__(self, folder: Path, root: str | None = None, **env: str) -> None:
        self.folder = folder
        self.local = folder / ".headwater"
        self.root = root or str(self.local)
        self.env = hermetic_env({"HEADWATER_DATASTORE_ROOT": self.root, **env})
        self.meta_url = env.get("HEADWATER_METADATA") or str(self.local / "meta.sqlite")
        self.notes = folder / "notes.txt"

    def run(self, seed: str, *args: str, **env: str) -> str:
        """Run the flow with ``seed`` to its end; return the run id."""
        self.notes.write_text(unique(seed, "notes"))
        done = subprocess.run(
            [sys.executable, str(FLOW), "run", "--seed", seed, "--notes", str(self.notes), *args],
            cwd=self.folder, env={**self.env, **env}, capture_output=True, text=True,
            timeout=DEADLINE_S)
        assert done.returncode == 0, done.stdout + done.stderr
        return self.latest()

    def latest(self) -> str:
        with open_metadata(self.meta_url, readonly=True) as meta:
            return meta.list_runs("GcFlow", limit=1)[0].run_id

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], cwd=self.folder, env={**self.env, **env},
                              capture_output=True, text=True, timeout=DEADLINE_S)

    def files(self, under: str = "blobs") -> dict[str, tuple[int, float]]:
        """Relative path -> (size, mtime) of every file under the local datastore folder."""
        top = self.local / under
        return {str(p.relative_to(self.local)): (p.stat().st_size, p.stat().st_mtime)
                for p in top.rglob("*") if p.is_file()} if top.exists() else {}

    def blobs(self) -> set[str]:
        return set(self.files("blobs"))

    def holding(self, text: str) -> set[str]:
        """Blob files whose bytes contain ``text`` (values pickle strings as UTF-8)."""
        needle = text.encode()
        return {name for name in self.blobs() if needle in (self.local / name).read_bytes()}

    def client(self) -> None:
        """Point this process's client at this store, every namespace visible."""
        reset_client()
        use_settings(Settings(datastore_root=self.root, metadata_url=self.meta_url))
        namespace(None)


def read_everything(pathspec: str, seed: str) -> int:
    """Read every artifact, log and card of run ``pathspec``, checking what ``seed`` made;
    return how many artifacts were read."""
    run = Run(pathspec)
    count = 0
    for step in run:
        for task in step:
            for artifact in task.artifacts:
                artifact.data  # loaded and verified against its content hash  # noqa: B018
                count += 1
            assert isinstance(task.stdout, str) and isinstance(task.stderr, str)
            try:
                cards = get_cards(task)
            except CardNotPresentException:  # a task without @card, as with Metaflow
                continue
            for card in cards:
                assert "<html" in card.get().lower()
    start = run["start"].task
    assert start.data.payload == unique(seed, "payload")
    assert start.data.notes == unique(seed, "notes")
    assert start.data.items == [unique(seed, f"item{i}") for i in range(3)]
    assert unique(seed, "stdout") in start.stdout
    assert unique(seed, "stderr") in start.stderr
    assert unique(seed, "card") in get_cards(start)[0].get()
    assert sorted(t.data.out for t in run["each"]) == [
        unique(seed, f"item{i}") + "|each" for i in range(3)]
    assert run.data.late == unique(seed, "late")
    assert run.data.total == len(unique(seed, "payload")) + 3 + len(unique(seed, "late"))
    return count


def backdate(store: Store, seconds: float) -> None:
    """Make every blob and live card look ``seconds`` old, as a store's older data is."""
    when = time.time() - seconds
    for name in [*store.blobs(), *store.files("cards"), *store.files("graphs")]:
        os.utime(store.local / name, (when, when))


# -- local store -------------------------------------------------------------------------------


def test_delete_and_gc_free_a_deleted_runs_data_and_keep_every_byte_of_the_others(tmp_path):
    store = Store(tmp_path)
    first = store.run("a")
    before_b = store.blobs()
    second = store.run("b")
    made_by_b = store.blobs() - before_b
    third = store.run("c")
    everything = store.files()
    live_cards = store.files("cards")
    assert any(f"/GcFlow/{second}/" in name for name in live_cards)

    deleted = store.cli("delete", f"GcFlow/{second}")
    assert deleted.returncode == 0, deleted.stderr
    assert f"Deleted run GcFlow/{second}." in deleted.stdout
    store.client()
    assert [r.id for r in Flow("GcFlow")] == [third, first]
    with pytest.raises(NotFoundError, match=f"GcFlow/{second}"):
        Run(f"GcFlow/{second}")
    assert store.files() == everything  # deleting a run frees nothing by itself

    dry = store.cli("gc", "--dry-run", "--grace", "0")
    assert dry.returncode == 0, dry.stderr
    # b's own blobs, plus its live card file, that card's data (it was refreshed) and its graph
    assert f"Would free {len(made_by_b) + 3} blob(s)" in dry.stdout
    assert store.files() == everything and store.files("cards") == live_cards

    done = store.cli("gc", "--grace", "0")
    assert done.returncode == 0, done.stderr
    assert f"Freed {len(made_by_b) + 3} blob(s)" in done.stdout
    assert store.blobs() == set(everything) - made_by_b  # exactly b's own blobs went
    assert store.holding("of seed b|") == set()
    assert not any(f"/GcFlow/{second}/" in name for name in store.files("cards"))
    assert sorted(store.files("graphs")) == [f"graphs/GcFlow/{first}.json",
                                             f"graphs/GcFlow/{third}.json"]
    assert {n: v for n, v in store.files().items()} == {
        n: v for n, v in everything.items() if n not in made_by_b}  # the rest untouched

    store.client()
    assert read_everything(f"GcFlow/{first}", "a") == read_everything(f"GcFlow/{third}", "c") > 10

    again = store.cli("gc", "--grace", "0")
    assert "Freed 0 blob(s)" in again.stdout


def test_gc_keeps_unreferenced_blobs_younger_than_the_grace(tmp_path):
    store = Store(tmp_path)
    store.run("a")
    store.cli("delete", "GcFlow/1")
    blobs = store.blobs()
    kept = store.cli("gc")  # the default grace: an hour; these blobs are seconds old
    assert kept.returncode == 0 and "Freed 0 blob(s)" in kept.stdout, kept.stdout + kept.stderr
    assert "newer than the grace" in kept.stdout and store.blobs() == blobs
    backdate(store, 2 * 3600)
    freed = store.cli("gc", "--grace", "90m")
    # + the live card, its data, the graph
    assert f"Freed {len(blobs) + 3} blob(s)" in freed.stdout, freed.stdout
    assert store.blobs() == set()


def test_gc_removes_a_killed_writers_temp_file_and_spares_a_live_ones(tmp_path):
    # The daily sweep of a run may have been done already today; gc removes them on demand,
    # with the same rule: untouched for a day means no live writer owns it.
    store = Store(tmp_path)
    store.run("a")
    folder = store.local / "blobs"
    dead, live = folder / ".tmp-deadbeef.1.aa", folder / ".tmp-cafe.2.bb"
    dead.write_bytes(b"half a blob")
    live.write_bytes(b"being written")
    two_days_ago = time.time() - 2 * 86400
    os.utime(dead, (two_days_ago, two_days_ago))
    blobs = store.blobs()
    done = store.cli("gc")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Removed 1 unfinished write(s)" in done.stdout, done.stdout
    assert not dead.exists() and live.read_bytes() == b"being written"
    assert store.blobs() == blobs - {"blobs/.tmp-deadbeef.1.aa"}  # nothing else was touched


def test_retention_deletes_the_runs_no_rule_keeps(tmp_path):
    store = Store(tmp_path)
    for seed in "abcd":
        store.run(seed, *(("--tag", "keepme") if seed == "b" else ()))
    dry = store.cli("delete", "GcFlow", "--keep-last", "1", "--keep-tagged", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Would delete run GcFlow/1." in dry.stdout and "Would delete run GcFlow/3." in dry.stdout
    assert "GcFlow/2" not in dry.stdout and "GcFlow/4" not in dry.stdout
    store.client()
    assert [r.id for r in Flow("GcFlow")] == ["4", "3", "2", "1"]

    # Every run started today is kept by --keep-since today.
    today = time.strftime("%Y-%m-%d")
    none = store.cli("delete", "--keep-last", "0", "--keep-since", today)
    assert "Deleted 0 run(s) of every flow" in none.stdout, none.stdout + none.stderr

    done = store.cli("delete", "GcFlow", "--keep-last", "1", "--keep-tagged")
    assert done.returncode == 0 and "Deleted 2 run(s) of GcFlow" in done.stdout, done.stdout
    store.client()
    assert [r.id for r in Flow("GcFlow")] == ["4", "2"]
    store.cli("gc", "--grace", "0")
    store.client()
    read_everything("GcFlow/2", "b")
    read_everything("GcFlow/4", "d")
    assert store.holding("of seed a|") == store.holding("of seed c|") == set()


def test_wrong_names_are_refused_naming_them(tmp_path):
    store = Store(tmp_path)
    store.run("a")
    missing = store.cli("delete", "GcFlow/9")
    assert missing.returncode == 1 and "GcFlow/9" in missing.stderr
    assert no_headwater_traceback(missing.stderr)
    bare = store.cli("delete", "GcFlow")
    assert bare.returncode == 2 and "GcFlow/RUN_ID" in bare.stderr
    mixed = store.cli("delete", "GcFlow/1", "--keep-last", "3")
    assert mixed.returncode == 2 and "names a run" in mixed.stderr
    grace = store.cli("gc", "--grace", "soon")
    assert grace.returncode == 2 and "'soon' is not a duration" in grace.stderr
    store.client()
    read_everything("GcFlow/1", "a")


def test_resumed_and_origin_runs_each_survive_the_other_being_deleted(tmp_path):
    store = Store(tmp_path)
    origin = store.run("r")
    resumed_env = {**store.env}
    done = subprocess.run(
        [sys.executable, str(FLOW), "resume", "middle", "--origin-run-id", origin],
        cwd=tmp_path, env=resumed_env, capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stdout + done.stderr
    resumed = store.latest()
    assert resumed != origin

    # Deleting the origin keeps every blob its clones in the resumed run refer to.
    assert store.cli("delete", f"GcFlow/{origin}").returncode == 0
    assert store.cli("gc", "--grace", "0").returncode == 0
    store.client()
    read_everything(f"GcFlow/{resumed}", "r")
    assert Run(f"GcFlow/{resumed}")["start"].task.origin_pathspec == f"GcFlow/{origin}/start/1"

    # And the other way round: a second resume's origin is whole after its resume is deleted.
    again = subprocess.run(
        [sys.executable, str(FLOW), "resume", "end", "--origin-run-id", resumed],
        cwd=tmp_path, env=resumed_env, capture_output=True, text=True, timeout=DEADLINE_S)
    assert again.returncode == 0, again.stdout + again.stderr
    assert store.cli("delete", f"GcFlow/{store.latest()}").returncode == 0
    assert store.cli("gc", "--grace", "0").returncode == 0
    store.client()
    read_everything(f"GcFlow/{resumed}", "r")


# -- live runs ---------------------------------------------------------------------------------


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no {path} after {DEADLINE_S} s"
        time.sleep(0.05)


def test_gc_during_a_live_run_loses_nothing_it_wrote_or_deduplicated(tmp_path):
    store = Store(tmp_path)
    gone = store.run("x")  # the live run below makes the same values: it deduplicates onto them
    kept = store.run("k")
    assert store.cli("delete", f"GcFlow/{gone}").returncode == 0
    backdate(store, 3 * 3600)  # x's blobs are old: only the live run's dedup keeps them fresh
    gate = tmp_path / "gate"
    gate.mkdir()
    store.notes.write_text(unique("x", "notes"))
    proc = subprocess.Popen(
        [sys.executable, str(FLOW), "run", "--seed", "x", "--notes", str(store.notes)],
        cwd=tmp_path, env={**store.env, "GATE_DIR": str(gate)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(gate / "waiting", proc)
        live = store.latest()
        refused = store.cli("delete", f"GcFlow/{live}")
        assert refused.returncode == 1, refused.stdout
        assert f"run GcFlow/{live} is still running" in refused.stderr
        assert "fix: wait for it to finish" in refused.stderr
        assert no_headwater_traceback(refused.stderr)

        during = store.cli("gc", "--grace", "0")
        assert during.returncode == 0, during.stderr
        assert f"GcFlow/{live}" in during.stdout  # named as live
        assert store.holding("payload of seed x|")  # deduplicated onto, so kept
        (gate / "go").write_text("go")
        out, err = proc.communicate(timeout=DEADLINE_S)
        assert proc.returncode == 0, out + err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    after = store.cli("gc", "--grace", "0")
    assert after.returncode == 0, after.stderr
    store.client()
    read_everything(f"GcFlow/{live}", "x")
    read_everything(f"GcFlow/{kept}", "k")


def test_a_writer_that_finds_a_blob_there_protects_it_until_its_run_records_it(tmp_path):
    """The step between a task's dedup and its result reaching the metadata, which no flow can
    hold open: an old blob no run refers to, found by a live run's writer, is not collected."""
    root = tmp_path / "store"
    meta = SQLiteMetadata(str(root / "meta.sqlite"))
    old = DataStore(LocalStorage(root))
    found = old.save_artifact("found again|" + "f" * BIG, name="x", where="1/start/1")
    lost = old.save_artifact("nobody wants me|" + "n" * BIG, name="y", where="1/start/1")
    stale = time.time() - 3 * 3600
    for ref in (found, lost):
        os.utime(root / blob_path(ref.key), (stale, stale))

    run_id = meta.new_run("ProtoFlow", user="tester", tags=(), system_tags=(), params={},
                          origin_run_id=None, pid=os.getpid(), host=this_host())
    writer = DataStore(LocalStorage(root))  # the live run's task: another process's store
    again = writer.save_artifact("found again|" + "f" * BIG, name="x", where=f"{run_id}/a/2")
    assert again.key == found.key  # deduplicated: nothing written...
    report = collect_garbage(meta, LocalStorage(root), grace_s=0)  # ...before it is recorded
    assert report.live_runs == [f"ProtoFlow/{run_id}"]
    assert (root / blob_path(found.key)).is_file()
    assert not (root / blob_path(lost.key)).exists() and report.deleted == 1
    assert writer.load_artifact(again, name="x", where=f"{run_id}/a/2").startswith("found again")
    meta.close()


def test_a_blob_touched_after_the_scan_is_not_deleted(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.put("blobs/ab/ab01", [b"touched"])
    storage.put("blobs/ab/ab02", [b"not touched"])
    stale = time.time() - 3600
    for key in ("ab01", "ab02"):
        os.utime(tmp_path / "blobs" / "ab" / key, (stale, stale))
    cutoff = time.time() - 60
    assert {k for k, _, m in storage.scan("blobs/") if m < cutoff} == {
        "blobs/ab/ab01", "blobs/ab/ab02"}
    assert storage.touch("blobs/ab/ab01")  # a writer deduplicating onto it, after the scan
    assert storage.delete_many_unless_newer(["blobs/ab/ab01", "blobs/ab/ab02"], cutoff) == [
        None, len(b"not touched")]
    assert storage.list("blobs/") == ["blobs/ab/ab01"]
    assert not storage.touch("blobs/ab/ab02")  # gone: the writer writes it again


# -- a collector killed midway ------------------------------------------------------------------


@pytest.mark.parametrize("kill_after", [1, 7])
def test_a_gc_killed_midway_leaves_a_store_every_reader_and_the_next_gc_handle(tmp_path,
                                                                                kill_after):
    store = Store(tmp_path)
    for seed in "1234":
        store.run(seed)
    for run_id in "123":
        assert store.cli("delete", f"GcFlow/{run_id}").returncode == 0
    killed = store.cli("gc", "--grace", "0", HEADWATER_GC_KILL_AFTER=str(kill_after))
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    store.client()
    read_everything("GcFlow/4", "4")
    # What a collector killed between its rename and its unlink leaves: a trash file (one no
    # writer touched: old). The next collector settles it.
    victim = sorted(store.holding("payload of seed 3|") | store.holding("payload of seed 2|"))
    if victim:
        path = store.local / victim[0]
        os.rename(path, path.with_name(TRASH_PREFIX + path.name))

    done = store.cli("gc", "--grace", "0")
    assert done.returncode == 0, done.stderr
    assert store.cli("gc", "--grace", "0", "--dry-run").stdout.startswith("Would free 0 blob(s)")
    assert not [p for p in store.local.rglob(f"{TRASH_PREFIX}*")]
    for seed in "123":
        assert store.holding(f"of seed {seed}|") == set()
    store.client()
    read_everything("GcFlow/4", "4")


def test_a_half_deleted_blob_a_run_refers_to_is_put_back(tmp_path):
    store = Store(tmp_path)
    store.run("t")
    payload = next(iter(store.holding("payload of seed t|")))
    path = store.local / payload
    os.rename(path, path.with_name(TRASH_PREFIX + path.name))
    assert store.cli("gc", "--grace", "0").returncode == 0
    assert path.is_file()
    store.client()
    read_everything("GcFlow/1", "t")


# -- S3 and PostgreSQL ---------------------------------------------------------------------------


def _objects(prefix: str) -> dict[str, int]:
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    found: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
    return found


@pytest.mark.parametrize("server", ["moto_endpoint", "seaweed_endpoint"])
def test_delete_and_gc_on_s3(tmp_path, request, monkeypatch, server):
    endpoint = request.getfixturevalue(server)
    env = servers.s3_env(endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    servers.make_bucket(endpoint, BUCKET)
    prefix = f"gc-{uuid.uuid4().hex[:8]}"
    store = Store(tmp_path, root=f"s3://{BUCKET}/{prefix}", **env)
    store.run("a")
    before = set(_objects(prefix))
    store.run("b")
    made_by_b = set(_objects(prefix)) - before
    store.run("c")
    everything = _objects(prefix)

    assert store.cli("delete", "GcFlow/2").returncode == 0
    dry = store.cli("gc", "--dry-run", "--grace", "0")
    assert f"Would free {len(made_by_b)} blob(s)" in dry.stdout, (
        dry.stdout + dry.stderr + repr(sorted(made_by_b)))
    assert _objects(prefix) == everything
    done = store.cli("gc", "--grace", "0")
    assert done.returncode == 0 and f"Freed {len(made_by_b)} blob(s)" in done.stdout, (
        done.stdout + done.stderr)
    assert _objects(prefix) == {k: v for k, v in everything.items() if k not in made_by_b}
    # A writer deduplicating onto a blob refreshes it server-side; a gone one it writes again.
    storage = open_storage(store.root)
    kept_blob = next(k for k in everything if "/blobs/" in k and k not in made_by_b)
    key = kept_blob[len(prefix) + 1:]
    data = bytes(storage.read(key))
    assert storage.touch(key) and bytes(storage.read(key)) == data
    assert not storage.touch("blobs/00/" + "0" * 32)
    store.client()
    read_everything("GcFlow/1", "a")
    read_everything("GcFlow/3", "c")


def test_delete_and_gc_with_postgresql_metadata(tmp_path, pg_server):
    store = Store(tmp_path, HEADWATER_METADATA=servers.fresh_database(pg_server, "gc"))
    before = store.blobs()
    kept, gone = store.run("a"), store.run("b")
    assert store.cli("delete", f"GcFlow/{gone}").returncode == 0
    done = store.cli("gc", "--grace", "0")
    assert done.returncode == 0, done.stderr
    assert store.holding("of seed b|") == set() and store.holding("payload of seed a|")
    assert before == set()
    store.client()
    assert [r.id for r in Flow("GcFlow")] == [kept]
    read_everything(f"GcFlow/{kept}", "a")


def test_gc_against_a_metadata_database_that_never_saw_a_run_deletes_nothing(tmp_path):
    store = Store(tmp_path)
    store.run("a")
    backdate(store, 3 * 3600)
    blobs = store.blobs()
    wrong = store.cli("gc", "--grace", "0", "--metadata", str(tmp_path / "typo.sqlite"))
    assert wrong.returncode == 1, wrong.stdout
    assert "refusing to collect garbage" in wrong.stderr and "typo.sqlite" in wrong.stderr
    assert store.blobs() == blobs and not (tmp_path / "typo.sqlite").exists()
    # A store whose runs were all deleted is collected: its flows are still recorded.
    assert store.cli("delete", "GcFlow/1").returncode == 0
    assert store.cli("gc", "--grace", "0").returncode == 0
    assert store.blobs() == set()


def test_live_output_a_deleted_run_left_goes_and_a_kept_runs_stays(tmp_path):
    store = Store(tmp_path)
    store.run("a")
    store.run("b")
    storage = LocalStorage(store.local)
    for run_id in "12":  # what a scheduler killed mid-task leaves (headwater.runtime.live_logs)
        storage.put(f"logs/live/GcFlow/{run_id}/start/1/0.stdout", [b"partial output"])
    assert store.cli("delete", "GcFlow/1").returncode == 0
    assert store.cli("gc", "--grace", "0").returncode == 0
    assert storage.list("logs/live/") == ["logs/live/GcFlow/2/start/1/0.stdout"]
    store.client()
    read_everything("GcFlow/2", "b")
