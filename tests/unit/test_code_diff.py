"""The folder diff of ``headwater code diff|patch``: git's format, and patches that git and
``patch`` apply back to the exact bytes, whatever the edit (lost final newlines, empty files,
carriage returns, odd names)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from headwater.client.code_diff import diff_folders, file_diff

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def test_a_changed_file_is_shown_as_git_shows_it() -> None:
    text = file_diff("flow.py", b"a\nb\n", b"a\nc").text
    assert text == (b"diff --git a/flow.py b/flow.py\n"
                    b"index 422c2b7..817f660\n"  # the blobs' git ids, as `git hash-object` gives
                    b"--- a/flow.py\n+++ b/flow.py\n"
                    b"@@ -1,2 +1,2 @@\n a\n-b\n+c\n\\ No newline at end of file\n")


def test_hunk_ranges_of_empty_sides() -> None:
    assert b"@@ -0,0 +1 @@\n+x\n" in file_diff("f.py", b"", b"x\n").text
    assert b"@@ -1 +0,0 @@\n-x\n" in file_diff("f.py", b"x\n", b"").text


def test_names_are_quoted_as_git_quotes_them() -> None:
    text = file_diff("dir/my file \u00e9.py", b"a\n", b"b\n").text
    assert text.startswith(b'diff --git "a/dir/my file \\303\\251.py" "b/dir/my file \\303\\251.py"\n')
    assert b'--- "a/dir/my file \\303\\251.py"\t\n' in text  # a name with a space ends with a tab
    assert b"--- a/s p.py\t\n" in file_diff("s p.py", b"a\n", b"b\n").text


def test_a_binary_file_is_named_not_shown() -> None:
    found = file_diff("model.bin", b"\0\1\2", b"\0\1\3")
    assert found.binary
    assert found.text.endswith(b"Binary files a/model.bin and b/model.bin differ\n")


def test_diff_folders_walks_the_run_side_only(tmp_path: Path) -> None:
    base, run = tmp_path / "base", tmp_path / "run"
    for folder in (base, run):
        (folder / "pkg").mkdir(parents=True)
        (folder / "same.py").write_text("x = 1\n")
    (base / "flow.py").write_text("old\n")
    (run / "flow.py").write_text("new\n")
    (run / "pkg" / "only_in_run.py").write_text("y = 2\n")
    (base / "only_here.txt").write_text("data\n")
    (base / "pkg" / "folder.py").mkdir()  # a folder where the run has a file
    (run / "pkg" / "folder.py").write_text("z = 3\n")
    os.mkfifo(base / "pkg" / "pipe.py")  # never opened: nothing writes to it
    (run / "pkg" / "pipe.py").write_text("w = 4\n")
    found = diff_folders(str(base), str(run))
    assert [d.path for d in found.changed] == ["flow.py"]
    assert found.identical == ["same.py"]
    assert found.missing == ["pkg/folder.py", "pkg/only_in_run.py", "pkg/pipe.py"]
    assert found.text == found.changed[0].text


def _random_edit(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    new = list(lines)
    for _ in range(rng.randint(1, 6)):
        roll = rng.random()
        if roll < 0.35 and new:
            del new[rng.randrange(len(new))]
        elif roll < 0.7:
            new.insert(rng.randint(0, len(new)), rng.choice([b"q\n", b"w\r\n", b"\n"]))
        elif new:
            new[-1] = new[-1].rstrip(b"\n")  # the last line loses its newline
    return new


CASES = [(b"a\nb\n", b"a\nc"), (b"", b"x\n"), (b"x\n", b""), (b"a\nb", b"a\nb\n"),
         (b"".join(b"line %d\n" % i for i in range(300)),
          b"".join(b"line %d\n" % i for i in range(300) if i not in (3, 150)) + b"end\n")]
_rng = random.Random(7)
for _ in range(40):
    _old = [_rng.choice([b"x\n", b"y\n", b"def f():\n", b"    pass\n", b"\n"])
            for _ in range(_rng.randint(0, 40))]
    CASES.append((b"".join(_old), b"".join(_random_edit(_rng, _old))))


@needs_git
@pytest.mark.parametrize("tool", ["git", "patch"])
def test_patches_apply_back_to_the_exact_bytes(tmp_path: Path, tool: str) -> None:
    if tool == "patch" and shutil.which("patch") is None:
        pytest.skip("needs patch")
    for number, (old, new) in enumerate(CASES):
        if old == new:
            continue
        work = tmp_path / str(number)
        work.mkdir()
        (work / "f.py").write_bytes(old)
        (work / "p.patch").write_bytes(file_diff("f.py", old, new).text)
        argv = (["git", "apply", "p.patch"] if tool == "git"
                else ["patch", "-s", "-p1", "-i", "p.patch"])
        done = subprocess.run(argv, cwd=work, capture_output=True, timeout=60)
        assert done.returncode == 0, (number, done.stdout, done.stderr)
        assert (work / "f.py").read_bytes() == new, number


PY_OLD = b"".join([
    b"import os\n", b"\n", b"\n", b"class Flow:\n",
    *(b"    x%d = %d\n" % (i, i) for i in range(12)),
    b"\n", b"def helper():\n", *(b"    y%d = %d\n" % (i, i) for i in range(12)),
    b"    return y0\n"])
PY_NEW = (PY_OLD.replace(b"    x2 = 2\n", b"    x2 = 'two'\n").replace(b"    x10 = 10\n", b"")
          .replace(b"    y8 = 8\n", b"    y8 = 8\n    y8b = 9\n"))


@needs_git
@pytest.mark.parametrize("old, new", [
    (b"".join(b"line %d\n" % i for i in range(20)),
     b"".join(b"line %d\n" % i for i in range(20) if i != 15).replace(b"line 5\n", b"line 5!\n")),
    (PY_OLD, PY_NEW),
])
def test_the_diff_matches_git(tmp_path: Path, old: bytes, new: bytes) -> None:
    """Where there is one best diff, the text is git's own, byte for byte, hunk headings too."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "f.py").write_bytes(old)
    (tmp_path / "b" / "f.py").write_bytes(new)
    done = subprocess.run(["git", "-c", "diff.noprefix=false", "diff", "--no-index", "--no-color",
                           "--no-ext-diff", "--src-prefix=", "--dst-prefix=", "a/f.py", "b/f.py"],
                          cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert file_diff("f.py", old, new).text == done.stdout.replace(b" 100644\n", b"\n", 1)
