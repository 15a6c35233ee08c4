"""@cache expiry (``@cache(max_age=...)``, ``HEADWATER_CACHE_MAX_AGE``), ``headwater cache
list|clear``, and what ``gc`` frees of dropped and expired entries: real runs, on SQLite and on
PostgreSQL metadata.

A result's age is made by moving its stored times back in the test's own database (the task's
start and end, and the "computed at" fact a reusing task records), never by waiting.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import servers
from headwater import Flow
from headwater.store.datastore import blob_path

from .faultkit import client, hw
from .flowrun import hermetic_env, task_lines, write_flow

DAY = 86400.0
CLI = [sys.executable, "-c", "from headwater.cli.main import main; main()"]

FLOW = """
    import os

    from headwater import FlowSpec, cache, step


    def note(text):
        with open(os.path.join(os.environ["DIR"], "side.txt"), "a") as handle:
            handle.write(text + "\\n")


    class AgeFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.body, foreach="items")

        @cache{MAX_AGE}
        @step
        def body(self):
            note(f"body {{self.input}}")
            # a blob of its own (not inline in the metadata), the same for the same SEED: the
            # environment is no part of the key, so a new SEED makes new data under old keys
            self.blob = f"{{os.environ.get('SEED', 's')}}-{{self.input}}-".encode() * 5000
            self.out = self.input * 10
            self.next(self.join)

        @cache
        @step
        def join(self, inputs):
            note("join")
            self.total = sum(i.out for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        AgeFlow()
"""


class Folder:
    """A flow file and the database its runs are recorded in (SQLite file or PostgreSQL)."""

    def __init__(self, path: Path, metadata: str | None, max_age: str = "") -> None:
        self.path = path
        self.flow = write_flow(path, "age_flow.py", FLOW.format(MAX_AGE=max_age))
        self.side = path / "side.txt"
        self.metadata = metadata or str(path / ".headwater" / "meta.sqlite")
        self.env = {"HEADWATER_METADATA": self.metadata}

    def run(self, **env: str) -> subprocess.CompletedProcess:
        self.side.write_text("")
        done = hw(self.flow, "run", cwd=self.path, DIR=str(self.path), **self.env, **env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def ran(self) -> list[str]:
        return sorted(filter(None, self.side.read_text().splitlines()))

    def cli(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(self.path / ".headwater"),
                            **self.env})
        done = subprocess.run([*CLI, *args], cwd=self.path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done

    # -- the test's own edits of the stored times ------------------------------------------
    def _sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        if self.metadata.startswith("postgresql"):
            import psycopg

            with psycopg.connect(self.metadata, autocommit=True) as conn:
                cur = conn.execute(statement.replace("?", "%s"), params)
                return cur.fetchall() if cur.description else []
        with sqlite3.connect(self.metadata) as conn:
            return conn.execute(statement, params).fetchall()

    def age(self, run_id: str, seconds: float) -> None:
        """Make every task of run ``run_id`` look ``seconds`` older than it is."""
        rows = self._sql("SELECT step, task_id, transition FROM tasks WHERE flow = 'AgeFlow' "
                         "AND run_id = ?", (run_id,))
        assert rows, f"no tasks of AgeFlow/{run_id}"
        for step, task_id, transition in rows:
            doc = json.loads(transition) if transition else None
            facts = (doc or {}).get("metadata") or {}
            if "cache-computed-at" in facts:
                facts["cache-computed-at"] = repr(float(facts["cache-computed-at"]) - seconds)
            self._sql("UPDATE tasks SET created_at = created_at - ?, finished_at = "
                      "finished_at - ?, transition = ? WHERE flow = 'AgeFlow' AND run_id = ? "
                      "AND step = ? AND task_id = ?",
                      (seconds, seconds, json.dumps(doc) if doc is not None else None,
                       run_id, step, task_id))


def reused(output: str) -> dict[str, str]:
    prefix = "reused from cache: "
    return {t.pathspec: t.text[len(prefix):] for t in task_lines(output)
            if t.text.startswith(prefix)}


def expired(output: str) -> dict[str, str]:
    return {t.pathspec: t.text for t in task_lines(output)
            if t.text.startswith("@cache: the result of")}


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata(request, tmp_path):
    if request.param == "sqlite":
        yield None
        return
    pg_server = request.getfixturevalue("pg_server")
    url = servers.fresh_database(pg_server, "cacheage")
    yield url
    servers.drop_database(pg_server, url)


def test_an_expired_result_runs_again_and_says_why(tmp_path, metadata) -> None:
    folder = Folder(tmp_path, metadata, max_age='(max_age="1d")')
    folder.run()
    assert folder.ran() == ["body 1", "body 2", "join"]
    folder.age("1", 2 * DAY)
    second = folder.run()
    # body's results are two days old: they run again; join's inputs are the same values, and
    # join has no max_age, so its old result is reused however old it is.
    assert folder.ran() == ["body 1", "body 2"]
    lines = expired(second.stdout)
    assert sorted(lines) == ["2/body/2", "2/body/3"], second.stdout
    for text in lines.values():
        assert "AgeFlow/1/body/" in text and "2.0d ago" in text, text
        assert "the 1d @cache(max_age=...) on step 'body' allows; the step runs again" in text
    assert sorted(reused(second.stdout)) == ["2/join/4"]
    third = folder.run()  # the fresh results are young: reused
    assert folder.ran() == []
    assert sorted(reused(third.stdout).values()) == [
        "AgeFlow/2/body/2", "AgeFlow/2/body/3", "AgeFlow/2/join/4"]


def test_age_runs_from_when_the_result_was_computed_not_last_reused(tmp_path,
                                                                    metadata) -> None:
    folder = Folder(tmp_path, metadata, max_age='(max_age="1d")')
    folder.run()
    folder.age("1", 0.8 * DAY)  # computed 19 hours ago: still fresh
    folder.run()
    assert folder.ran() == []  # run 2 reuses run 1's results (and records when they were made)
    folder.age("1", 0.3 * DAY)
    folder.age("2", 0.3 * DAY)  # run 2's reuse is 7 hours old, its result 26 hours
    third = folder.run()
    assert folder.ran() == ["body 1", "body 2"]
    assert all("AgeFlow/2/body/" in text and "1.1d ago" in text
               for text in expired(third.stdout).values()), third.stdout


def test_the_run_wide_setting_applies_to_every_cache_step_and_the_shorter_wins(
        tmp_path) -> None:
    folder = Folder(tmp_path, None, max_age='(max_age="7d")')
    folder.run()
    folder.age("1", 2 * DAY)
    folder.run(HEADWATER_CACHE_MAX_AGE="3d")
    assert folder.ran() == []  # two days is within 3d (and body's own 7d)
    # run 2's reuse recorded that its results are two days old: a one-day limit runs them all,
    # join (no max_age of its own) included
    third = folder.run(HEADWATER_CACHE_MAX_AGE="1d")
    assert folder.ran() == ["body 1", "body 2", "join"]
    texts = list(expired(third.stdout).values())
    assert len(texts) == 3 and all("HEADWATER_CACHE_MAX_AGE allows" in t for t in texts), texts
    folder.age("3", 8 * DAY)
    fourth = folder.run(HEADWATER_CACHE_MAX_AGE="30d")  # body's own 7d is the shorter
    assert folder.ran() == ["body 1", "body 2"]  # same values again: join's old result stays
    texts = list(expired(fourth.stdout).values())
    assert len(texts) == 2 and all("on step 'body' allows" in t for t in texts), texts


def test_a_bad_setting_or_option_is_refused_naming_it(tmp_path) -> None:
    folder = Folder(tmp_path, None)
    bad = hw(folder.flow, "run", cwd=tmp_path, DIR=str(tmp_path),
             HEADWATER_CACHE_MAX_AGE="a week")
    assert bad.returncode != 0
    assert "HEADWATER_CACHE_MAX_AGE='a week' is not a duration" in bad.stderr, bad.stderr
    assert "e.g. 7d" in bad.stderr
    (tmp_path / "other").mkdir()
    other = Folder(tmp_path / "other", None, max_age='(max_age="soon")')
    done = hw(other.flow, "run", cwd=other.path, DIR=str(other.path))
    assert done.returncode != 0
    assert "@cache(max_age='soon'): is not a duration" in done.stderr, done.stderr
    assert '@cache(max_age="7d")' in done.stderr


def test_cache_list_and_clear_drop_entries_so_later_runs_run_again(tmp_path, metadata) -> None:
    folder = Folder(tmp_path, metadata)
    folder.run()
    listing = folder.cli("cache", "list", "AgeFlow").stdout
    assert listing.splitlines() == ["body\t2 entries", "join\t1 entry"], listing
    typo = folder.cli("cache", "clear", "AgeFlow", "--step", "bdoy", ok=False)
    assert "did you mean 'body'?" in typo.stderr, typo.stderr
    wrong = folder.cli("cache", "clear", "AgeFlw", ok=False)
    assert "did you mean AgeFlow?" in wrong.stderr, wrong.stderr
    dry = folder.cli("cache", "clear", "AgeFlow", "--step", "body", "--dry-run").stdout
    assert "Would drop 2 cache entries of step 'body' of AgeFlow." in dry
    done = folder.cli("cache", "clear", "AgeFlow", "--step", "body").stdout
    assert "Dropped 2 cache entries of step 'body' of AgeFlow." in done
    folder.run()
    assert folder.ran() == ["body 1", "body 2"]  # join's inputs are the same: still a hit
    folder.cli("cache", "clear", "AgeFlow")
    assert folder.cli("cache", "list", "AgeFlow").stdout.strip() == \
        "Flow AgeFlow has no cache entries."
    folder.run()
    assert folder.ran() == ["body 1", "body 2", "join"]
    # the tasks stay, succeeded, as history; only their keys are gone
    assert folder._sql("SELECT status, cache_key FROM tasks WHERE flow = 'AgeFlow' AND "
                       "run_id = '1' AND step = 'body'") == [("succeeded", None)] * 2


def test_gc_frees_the_data_of_dropped_and_expired_entries_once_no_run_refers_to_it(
        tmp_path) -> None:
    folder = Folder(tmp_path, None, max_age='(max_age="1d")')
    root = tmp_path / ".headwater"
    folder.run(SEED="a")  # run 1 computes body's blobs
    folder.run(SEED="a")  # run 2 reuses them: its tasks refer to the same blobs
    client(tmp_path)
    first = {t.index: t["blob"].data for t in Flow("AgeFlow")["1"]["body"]}
    keys_1 = _blob_keys(folder, "1")
    assert keys_1 == _blob_keys(folder, "2")
    folder.cli("cache", "clear", "AgeFlow")
    folder.cli("delete", "AgeFlow/1")
    folder.cli("gc", "--grace", "0")
    # Dropped entries and a deleted run: run 2 still refers to the blobs, they stay.
    assert all((root / blob_path(key)).is_file() for key in keys_1)
    assert {t.index: t["blob"].data for t in Flow("AgeFlow")["2"]["body"]} == first
    folder.run(SEED="b")  # run 3: no entries left, body runs, new blobs
    keys_3 = _blob_keys(folder, "3")
    assert not keys_3 & keys_1
    folder.age("3", 2 * DAY)
    fourth = folder.run(SEED="c")  # run 4: run 3's results expired, body runs again
    assert folder.ran() == ["body 1", "body 2", "join"]  # new blobs: join's inputs changed
    assert len(expired(fourth.stdout)) == 2
    folder.cli("delete", "AgeFlow", "--keep-last", "1")  # runs 2 and 3 go
    report = folder.cli("gc", "--grace", "0").stdout
    assert "Freed" in report
    assert not any((root / blob_path(key)).exists() for key in keys_1 | keys_3)
    assert all((root / blob_path(key)).is_file() for key in _blob_keys(folder, "4"))


def _blob_keys(folder: Folder, run_id: str) -> set[str]:
    rows = folder._sql("SELECT key FROM artifacts WHERE flow = 'AgeFlow' AND run_id = ? "
                       "AND step = 'body' AND name = 'blob' AND inline IS NULL", (run_id,))
    assert len(rows) == 2, rows
    return {key for (key,) in rows}
