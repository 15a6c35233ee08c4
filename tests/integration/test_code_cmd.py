"""``headwater code pull|diff|diff-runs|patch`` (and ``metaflow code`` through the shim) on real
runs that kept a code package: two runs of one flow on the test session's Dask cluster, the code
changed between them, compared with real folders and patched back with ``git apply`` and
``patch``. Also the refusals: a local run (no package), destinations already there, a package
someone tampered with."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from .flowrun import hermetic_env, run_cli

FLOW_V1 = '''\
from headwater import FlowSpec, step

from helper import greet
from pkg.util import twice


class CodeDiffFlow(FlowSpec):
    @step
    def start(self):
        self.greeting = greet("world")
        self.next(self.end)

    @step
    def end(self):
        self.value = twice(21)


if __name__ == "__main__":
    CodeDiffFlow()
'''
# The second run's flow: one line changed, one added.
FLOW_V2 = FLOW_V1.replace('greet("world")', 'greet("code")').replace(
    "        self.value = twice(21)\n", "        self.value = twice(21)\n        self.done = True\n")
HELPER = "def greet(name):\n    return f'hello {name}'"  # no newline at the end, on purpose
UTIL = "def twice(x):\n    return 2 * x\n"
FILES_V1 = {"code_diff_flow.py": FLOW_V1, "helper.py": HELPER, "pkg/__init__.py": "",
            "pkg/util.py": UTIL}
FILES_V2 = {**FILES_V1, "code_diff_flow.py": FLOW_V2}


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def _read(folder: Path, names) -> dict[str, str]:
    return {name: (folder / name).read_text() for name in names}


@pytest.fixture(scope="module")
def runs(dask_cluster, tmp_path_factory):
    """Two Dask runs of CodeDiffFlow: the first with FILES_V1, the second with FILES_V2; the
    project folder is left as the second run had it (plus a file the package leaves out)."""
    project = _write(tmp_path_factory.mktemp("project"), FILES_V1)
    (project / "notes.txt").write_text("not packaged\n")
    root = project / ".headwater"
    pathspecs = []
    for files in (FILES_V1, FILES_V2):
        _write(project, files)
        proc = run_cli(project / "code_diff_flow.py", "--quiet", "run", "--executor", "dask",
                       "--dask-address", dask_cluster.address, cwd=project, hermetic=True,
                       timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        pathspecs.append(f"CodeDiffFlow/{len(pathspecs) + 1}")
    return {"root": root, "project": project, "first": pathspecs[0], "second": pathspecs[1]}


def _code(*args: str, cwd: Path, root: Path, extra: dict[str, str] | None = None,
          argv: list[str] | None = None, stdout_bytes: bool = False) -> subprocess.CompletedProcess:
    """``headwater code ARGS`` in ``cwd``, reading the datastore ``root``."""
    env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(root), **(extra or {})})
    command = argv or [sys.executable, "-m", "headwater", "code"]
    proc = subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, timeout=120,
                          text=not stdout_bytes)
    return proc


def _work(tmp_path: Path, files: dict[str, str], name: str = "work") -> Path:
    return _write(tmp_path / name, files)


def test_diff_shows_the_working_folder_against_the_run(runs, tmp_path):
    work = _work(tmp_path, {k: v for k, v in FILES_V2.items() if k != "pkg/util.py"})
    (work / "notes.txt").write_text("only here\n")
    done = _code("diff", runs["first"], cwd=work, root=runs["root"])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # git's format, a/ the working folder, b/ the run, the package's own relative paths
    assert out.startswith("diff --git a/code_diff_flow.py b/code_diff_flow.py\nindex ")
    assert "\n--- a/code_diff_flow.py\n+++ b/code_diff_flow.py\n" in out
    assert "-        self.greeting = greet(\"code\")\n+        self.greeting = greet(\"world\")\n" in out
    assert "\n-        self.done = True\n" in out
    assert out.count("diff --git") == 1  # helper.py is the same; notes.txt is not in the package
    assert "helper.py is identical, skipping" in done.stderr
    assert "pkg/util.py not in the current directory, skipping" in done.stderr
    assert "notes.txt" not in out + done.stderr
    # the working folder is read, never written
    assert _read(work, ["code_diff_flow.py"]) == {"code_diff_flow.py": FLOW_V2}
    # from a folder that is not the flow's, nothing is compared, and the note says where to go
    (tmp_path / "elsewhere").mkdir()
    lost = _code("diff", runs["first"], cwd=tmp_path / "elsewhere", root=runs["root"])
    assert lost.returncode == 0 and lost.stdout == ""
    assert "None of the run's files are in the current directory" in lost.stderr


def test_diff_runs_compares_the_second_run_with_the_first(runs, tmp_path):
    temp = tmp_path / "temp"  # where the two packages are unpacked, then removed
    temp.mkdir()
    done = _code("diff-runs", runs["second"], runs["first"], cwd=tmp_path, root=runs["root"],
                 extra={"TMPDIR": str(temp)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("diff --git a/code_diff_flow.py b/code_diff_flow.py\n")
    assert "-        self.greeting = greet(\"world\")\n+        self.greeting = greet(\"code\")\n" \
        in done.stdout
    assert "\n+        self.done = True\n" in done.stdout
    for same in ("helper.py", "pkg/__init__.py", "pkg/util.py"):
        assert f"{same} is identical, skipping" in done.stderr
    assert list(temp.iterdir()) == []


def test_patch_applied_with_git_gives_the_runs_code(runs, tmp_path):
    """Edited files (a changed line, a lost final newline) and the patch's defaults."""
    work = _work(tmp_path, FILES_V2)
    (work / "helper.py").write_text(HELPER + "\n# a local edit\n")
    done = _code("patch", runs["first"], cwd=work, root=runs["root"])
    assert done.returncode == 0, done.stderr
    patch = work / "codediffflow_1.patch"  # Metaflow's default name
    text = patch.read_text()
    assert text.startswith("diff --git a/code_diff_flow.py b/code_diff_flow.py\n")
    assert "diff --git a/helper.py b/helper.py\n" in text
    assert "\\ No newline at end of file\n" in text
    assert f"Patch saved in {patch.name}" in done.stderr
    assert f"git apply --verbose {patch.name}" in done.stderr
    applied = subprocess.run(["git", "apply", "--verbose", patch.name], cwd=work,
                             capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0, applied.stderr
    assert _read(work, FILES_V1) == FILES_V1


def test_patch_applied_with_patch_p1_and_refused_over_an_existing_file(runs, tmp_path):
    work = _work(tmp_path, FILES_V2)
    target = tmp_path / "out" / "mine.patch"
    target.parent.mkdir()
    target.write_text("keep me\n")
    refused = _code("patch", runs["first"], "--file", str(target), cwd=work, root=runs["root"])
    assert refused.returncode == 1
    assert "already exists" in refused.stderr and "--overwrite" in refused.stderr
    assert target.read_text() == "keep me\n"
    done = _code("patch", runs["first"], "--file_path", str(target), "--overwrite", cwd=work,
                 root=runs["root"])
    assert done.returncode == 0, done.stderr
    applied = subprocess.run(["patch", "-p1", "-i", str(target)], cwd=work, capture_output=True,
                             text=True, timeout=60)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert _read(work, FILES_V1) == FILES_V1


def test_patch_inside_a_git_work_tree_names_the_directory(runs, tmp_path):
    """Below the top of a git work tree, git apply's paths are the tree's: the hint adds
    ``--directory``, and the hinted command, run where the patch was made, applies it."""
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    work = _work(tmp_path, FILES_V2, name="repo/flows")
    done = _code("patch", runs["first"], "--file", "back.patch", cwd=work, root=runs["root"])
    assert done.returncode == 0, done.stderr
    hint = done.stderr.strip().splitlines()[-1].strip()
    assert hint == "git apply --verbose --directory=flows back.patch"
    applied = subprocess.run(hint.split(), cwd=work, capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0, applied.stderr
    assert _read(work, FILES_V1) == FILES_V1


def test_patch_in_a_folder_that_matches_says_it_is_empty(runs, tmp_path):
    work = _work(tmp_path, FILES_V1)
    done = _code("patch", runs["first"], "--file", "same.patch", cwd=work, root=runs["root"])
    assert done.returncode == 0, done.stderr
    assert (work / "same.patch").read_bytes() == b""
    assert "No differences" in done.stderr


def test_pull_unpacks_the_run_into_a_new_folder(runs, tmp_path):
    done = _code("pull", runs["second"], cwd=tmp_path, root=runs["root"])
    assert done.returncode == 0, done.stderr
    pulled = tmp_path / "codediffflow_2_code"  # Metaflow's default name
    assert _read(pulled, FILES_V2) == FILES_V2
    assert not (pulled / "notes.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codediffflow_2_code"]  # no staging
    # a folder as mkdir makes it (the umask's mode), not the private staging folder's
    assert pulled.stat().st_mode & 0o777 == 0o775 & ~_umask()
    assert f"downloaded to {pulled}" in done.stderr
    again = _code("pull", runs["first"], "--dir", str(tmp_path / "nested" / "v1"), cwd=tmp_path,
                  root=runs["root"])
    assert again.returncode == 0, again.stderr
    assert _read(tmp_path / "nested" / "v1", FILES_V1) == FILES_V1


def test_pull_under_a_umask_of_000_leaves_no_folder_others_may_write(runs, tmp_path):
    """tarfile makes each folder 0777 less the umask, whatever the archive says: under umask 000
    anyone could have put a module in a pulled run's package before its user ran it."""
    env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(runs["root"])})
    done = subprocess.run([sys.executable, "-m", "headwater", "code", "pull", runs["second"],  # noqa: S603
                           "--dir", str(tmp_path / "new" / "pulled")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, umask=0)
    assert done.returncode == 0, done.stderr
    pulled = tmp_path / "new" / "pulled"
    assert _read(pulled, FILES_V2) == FILES_V2
    entries = [tmp_path / "new", pulled, *pulled.rglob("*")]
    assert any(p.is_dir() for p in pulled.rglob("*"))  # pkg/ at least
    assert [str(p) for p in entries if p.stat().st_mode & 0o002] == []


def test_pull_never_writes_into_what_is_already_there(runs, tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "mine.py").write_text("x = 1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    for target, what in ((existing, "a folder"), (link, "a link"), (dangling, "a link")):
        done = _code("pull", runs["first"], "--dir", str(target), cwd=tmp_path, root=runs["root"])
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"{target} already exists ({what})" in done.stderr
        assert "--dir" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in existing.iterdir()) == ["mine.py"]
    assert list(elsewhere.iterdir()) == [] and not (tmp_path / "nowhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "elsewhere", "existing",
                                                          "link"]


def test_a_local_run_has_no_code_package(tmp_path):
    flow = _write(tmp_path, FILES_V1)
    proc = run_cli(flow / "code_diff_flow.py", "--quiet", "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    for command in (["diff", "CodeDiffFlow/1"], ["pull", "CodeDiffFlow/1"],
                    ["patch", "CodeDiffFlow/1"]):
        done = _code(*command, cwd=tmp_path, root=tmp_path / ".headwater")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "run CodeDiffFlow/1 has no code package: it ran on the local executor" in done.stderr
        assert "--executor dask" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "codediffflow_1_code").exists()
    assert not (tmp_path / "codediffflow_1.patch").exists()
    missing = _code("diff", "CodeDiffFlow/9", cwd=tmp_path, root=tmp_path / ".headwater")
    assert missing.returncode == 1 and "CodeDiffFlow/9" in missing.stderr


def _hostile_tarball(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return gzip.compress(buf.getvalue())


def _file(name: str, data: bytes = b"print('owned')\n") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, b""


@pytest.mark.parametrize("entry, members", [
    ("../escape.py", [_file("code_diff_flow.py"), _file("../escape.py")]),
    ("/tmp/abs.py", [_file("code_diff_flow.py"), _file("/tmp/abs.py")]),
    ("evil", [_link("evil", "/etc"), _file("evil/passwd")]),
])
def test_a_tampered_package_is_refused_whole(runs, tmp_path, entry, members):
    """Someone who can write the datastore and the metadata stored a package of their own and
    pointed the run at it: nothing of it is unpacked, anywhere."""
    root = tmp_path / "copy" / ".headwater"
    shutil.copytree(runs["root"], root)
    from headwater.store import open_datastore

    store = open_datastore(str(root))
    try:
        key = store.save_bytes(_hostile_tarball(members)).key
    finally:
        store.close()
    with sqlite3.connect(root / "meta.sqlite") as db:
        (code,) = db.execute("SELECT code FROM runs WHERE run_id = '1'").fetchone()
        db.execute("UPDATE runs SET code = ? WHERE run_id = '1'",
                   (json.dumps({**json.loads(code), "key": key}),))
    work = tmp_path / "work"
    work.mkdir()
    for command in (["pull", "--dir", "pulled"], ["diff"], ["patch", "--file", "p.patch"]):
        done = _code(command[0], runs["first"], *command[1:], cwd=work, root=root)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"is refused: its entry {entry!r}" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert list(work.iterdir()) == []  # no pulled folder, no staging, no patch
    assert not (tmp_path / "escape.py").exists() and not Path("/tmp/abs.py").exists()


def test_a_package_changed_in_place_is_refused(runs, tmp_path):
    root = tmp_path / "copy" / ".headwater"
    shutil.copytree(runs["root"], root)
    with sqlite3.connect(root / "meta.sqlite") as db:
        (code,) = db.execute("SELECT code FROM runs WHERE run_id = '1'").fetchone()
    key = json.loads(code)["key"]
    blob = next(p for p in (root / "blobs").rglob(f"*{key[2:]}*") if p.is_file())
    blob.chmod(0o644)
    blob.write_bytes(_hostile_tarball([_file("code_diff_flow.py")]))
    done = _code("pull", runs["first"], "--dir", "pulled", cwd=tmp_path, root=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"the code package of {runs['first']}" in done.stderr, done.stderr
    assert not (tmp_path / "pulled").exists()


def test_metaflow_code_through_the_shim(runs, tmp_path):
    """``metaflow code ...`` as Metaflow's console script starts it (``metaflow.cmd.main_cli:
    start``), and as ``python -m``, with the forwarding package first on PYTHONPATH."""
    made = subprocess.run([sys.executable, "-m", "headwater", "shim", str(tmp_path / "shim")],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    work = _work(tmp_path, FILES_V2)
    env = {"PYTHONPATH": str(tmp_path / "shim")}
    script = [sys.executable, "-c",
              "import sys; from metaflow.cmd.main_cli import start; sys.exit(start())"]
    via_script = _code("code", "diff", runs["first"], cwd=work, root=runs["root"], extra=env,
                       argv=script)
    ours = _code("diff", runs["first"], cwd=work, root=runs["root"])
    assert via_script.returncode == 0, via_script.stderr
    assert via_script.stdout == ours.stdout and "greet(\"world\")" in ours.stdout
    module = [sys.executable, "-m", "metaflow.cmd.main_cli"]
    pulled = _code("code", "pull", runs["first"], "--dir", "v1", cwd=work, root=runs["root"],
                   extra=env, argv=module)
    assert pulled.returncode == 0, pulled.stderr
    assert _read(work / "v1", FILES_V1) == FILES_V1
    status = _code("status", cwd=work, root=runs["root"], extra=env, argv=module)
    assert status.returncode == 2
    assert "`metaflow status` is not served by headwater" in status.stderr
    assert "headwater runs" in status.stderr


def test_diff_on_a_terminal_is_coloured_and_paged(runs, tmp_path):
    """On a terminal the diff goes through $PAGER, coloured as git colours it."""
    import pty

    work = _work(tmp_path, FILES_V2)
    primary, secondary = pty.openpty()
    env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(runs["root"]), "PAGER": "cat"})
    proc = subprocess.Popen([sys.executable, "-m", "headwater", "code", "diff", runs["first"]],
                            cwd=work, env=env, stdout=secondary, stderr=subprocess.PIPE)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    proc.stderr.close()
    shown = b"".join(chunks).decode()
    assert "\x1b[32m+        self.greeting = greet(\"world\")" in shown  # green, added
    assert "\x1b[31m-        self.greeting = greet(\"code\")" in shown  # red, removed
    assert "\x1b[36m@@ -" in shown  # cyan hunk range


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
