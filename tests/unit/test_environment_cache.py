"""The environment cache is private to the user and never written through a link it did not make."""

from __future__ import annotations

import os
import stat

import pytest

from headwater.environments import cache
from headwater.exceptions import StepEnvironmentError


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_cache_and_its_sections_are_created_private(tmp_path, monkeypatch):
    root = tmp_path / "envcache"
    monkeypatch.setenv(cache.CACHE_ENV, str(root))
    locks = cache.section("locks")
    assert locks == root / "locks"
    assert _mode(root) == 0o700 and _mode(locks) == 0o700


def test_a_cache_others_can_write_is_made_private(tmp_path, monkeypatch):
    root = tmp_path / "envcache"
    root.mkdir()
    root.chmod(0o777)
    monkeypatch.setenv(cache.CACHE_ENV, str(root))
    cache.section("envs")
    assert _mode(root) == 0o700


def test_a_cache_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "envcache"
    link.symlink_to(target)
    monkeypatch.setenv(cache.CACHE_ENV, str(link))
    with pytest.raises(StepEnvironmentError) as caught:
        cache.section("locks")
    assert str(link) in str(caught.value) and cache.CACHE_ENV in str(caught.value)
    assert list(target.iterdir()) == []


def test_a_lock_file_is_replaced_not_written_through_a_link(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    path = tmp_path / "lock.json"
    path.symlink_to(outside)
    cache.write_atomic(path, "{}")
    assert outside.read_text() == "keep me"
    assert not path.is_symlink() and path.read_text() == "{}"
    assert _mode(path) == 0o600


def test_a_build_is_published_by_rename_and_the_first_one_wins(tmp_path):
    target = tmp_path / "env-abc"
    first, second = (cache.staging_dir(tmp_path, "env-abc") for _ in range(2))
    for staging, text in ((first, "first"), (second, "second")):
        staging.mkdir(mode=0o700)
        (staging / "marker").write_text(text)
    cache.publish(first, target)
    cache.publish(second, target)  # a concurrent build that lost the race
    assert (target / "marker").read_text() == "first"
    assert not first.exists() and not second.exists()


def test_a_staging_folder_of_an_ended_build_is_swept_and_a_live_one_kept(tmp_path):
    import subprocess
    import sys

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead_pid = int(ended.stdout)  # that process has exited: its build can never finish
    mine = cache.staging_dir(tmp_path, "env-abc")
    dead = tmp_path / mine.name.replace(f".{os.getpid()}@", f".{dead_pid}@")
    elsewhere = tmp_path / mine.name.replace("@", "@another-host.").replace(
        f".{os.getpid()}@", f".{dead_pid}@")
    for folder in (mine, dead, elsewhere):
        folder.mkdir()
    done = tmp_path / "env-abc"
    done.mkdir()
    assert cache.sweep_stale(tmp_path) == [dead.name]
    assert mine.is_dir() and elsewhere.is_dir() and done.is_dir() and not dead.exists()


def test_an_incomplete_published_folder_is_replaced_not_kept(tmp_path):
    target = tmp_path / "env-abc"
    target.mkdir()
    (target / "junk").write_text("half of an environment, no mark")
    staging = cache.staging_dir(tmp_path, "env-abc")
    staging.mkdir()
    (staging / "mark").write_text("complete")
    cache.publish(staging, target, lambda folder: (folder / "mark").is_file())
    assert (target / "mark").read_text() == "complete" and not (target / "junk").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env-abc"]


def test_a_section_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, monkeypatch):
    root = tmp_path / "envcache"
    root.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (root / "envs").symlink_to(target)
    monkeypatch.setenv(cache.CACHE_ENV, str(root))
    with pytest.raises(StepEnvironmentError) as caught:
        cache.section("envs")
    assert str(root / "envs") in str(caught.value)
    assert list(target.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder another user's needs root")
def test_a_cache_folder_of_another_user_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "envcache"
    root.mkdir(mode=0o700)
    os.chown(root, 65534, 65534)  # nobody
    monkeypatch.setenv(cache.CACHE_ENV, str(root))
    with pytest.raises(StepEnvironmentError) as caught:
        cache.section("locks")
    assert "belongs to another user" in str(caught.value)
    assert not (root / "locks").exists()
