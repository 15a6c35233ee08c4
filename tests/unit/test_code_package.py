"""The code package: what it takes from the flow's folder, and where a worker unpacks it."""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from headwater.exceptions import RunFailedError
from headwater.store import code_package, open_datastore
from headwater.store.code_package import CodeCacheError

FLOW = textwrap.dedent("""
    from headwater import FlowSpec, step


    class PackedFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
""")


def _flow_class(folder: Path) -> type:
    """Import the flow file in ``folder`` as a module and return its class."""
    import importlib.util

    path = folder / "packed_flow.py"
    spec = importlib.util.spec_from_file_location(f"packed_flow_{abs(hash(folder))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.PackedFlow


def _names(tarball: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(tarball)), mode="r:") as tar:
        return sorted(tar.getnames())


@pytest.fixture
def flow_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "flow"
    (folder / "conf").mkdir(parents=True)
    (folder / "packed_flow.py").write_text(FLOW)
    (folder / "helper.py").write_text("X = 1\n")
    (folder / "conf" / "credentials.ini").write_text("[default]\nsecret = hunter2\n")
    (folder / "settings.json").write_text("{}")
    (folder / "notes.txt").write_text("notes")
    return folder


def test_only_python_files_are_packed_by_default(flow_folder: Path) -> None:
    tarball, code = code_package.build(_flow_class(flow_folder))
    assert _names(tarball) == ["helper.py", "packed_flow.py"]
    assert code["path"] == "packed_flow.py" and code["class"] == "PackedFlow"


def test_other_suffixes_only_when_asked(flow_folder: Path) -> None:
    suffixes = code_package.parse_suffixes(".json, txt")
    assert suffixes == (".py", ".json", ".txt")
    tarball, _ = code_package.build(_flow_class(flow_folder), suffixes)
    assert _names(tarball) == ["helper.py", "notes.txt", "packed_flow.py", "settings.json"]


def test_links_out_of_the_folder_are_never_followed(flow_folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("TOKEN = 'leaked'\n")
    (outside / "pkg").mkdir()
    (outside / "pkg" / "mod.py").write_text("LEAK = 1\n")
    os.symlink(outside / "secret.py", flow_folder / "linked_secret.py")
    os.symlink(outside / "pkg", flow_folder / "linked_pkg")
    os.symlink("/etc/passwd", flow_folder / "passwd.txt")
    os.symlink(flow_folder / "helper.py", flow_folder / "alias.py")  # inside: fine
    tarball, _ = code_package.build(_flow_class(flow_folder), (".py", ".txt"))
    names = _names(tarball)
    assert "linked_secret.py" not in names and "passwd.txt" not in names
    assert not any(n.startswith("linked_pkg") for n in names)
    assert "alias.py" in names and "notes.txt" in names


def _saved(tmp_path: Path, flow_folder: Path) -> tuple[object, str]:
    store = open_datastore(str(tmp_path / "store"))
    tarball, code = code_package.build(_flow_class(flow_folder))
    return store, code_package.save(store, tarball, code)["key"]


def test_unpacked_into_a_private_cache(flow_folder: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store, key = _saved(tmp_path, flow_folder)
    cache = tmp_path / "cache"
    monkeypatch.setenv(code_package.CACHE_ENV, str(cache))
    folder = Path(code_package.unpack(store, key))
    assert folder == cache / key
    assert (folder / "helper.py").read_text() == "X = 1\n"
    assert (cache.stat().st_mode & 0o777) == 0o700
    assert [p.name for p in cache.iterdir()] == [key]  # no staging folder left behind


def test_a_staging_folder_a_killed_worker_left_is_removed_by_a_later_unpack(
        flow_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, key = _saved(tmp_path, flow_folder)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv(code_package.CACHE_ENV, str(cache))
    old, fresh = cache / ".deadkey.abc123", cache / ".otherkey.def456"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "half.py").write_text("X = 1\n")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    code_package.unpack(store, key)
    assert not old.exists()  # its worker was killed a day ago
    assert (fresh / "half.py").exists()  # perhaps another worker's unpack in progress


def test_default_cache_is_per_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(code_package.CACHE_ENV, raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert code_package.cache_dir() == str(tmp_path / f"headwater-code-{os.getuid()}")


def test_a_planted_cache_is_refused(flow_folder: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Another local user creates the cache (world-writable, as in a shared /tmp) and plants a
    payload under the predictable key: the worker refuses the cache instead of running it."""
    store, key = _saved(tmp_path, flow_folder)
    cache = tmp_path / "shared-cache"
    cache.mkdir()
    os.chmod(cache, 0o777)
    planted = cache / key
    planted.mkdir()
    (planted / "packed_flow.py").write_text("raise SystemExit('planted payload ran')\n")
    monkeypatch.setenv(code_package.CACHE_ENV, str(cache))
    with pytest.raises(CodeCacheError, match="can be written by other users"):
        code_package.unpack(store, key)


def test_a_cache_that_is_a_link_is_refused(flow_folder: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store, key = _saved(tmp_path, flow_folder)
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    os.symlink(real, tmp_path / "cache-link")
    monkeypatch.setenv(code_package.CACHE_ENV, str(tmp_path / "cache-link"))
    with pytest.raises(CodeCacheError, match="is not a folder"):
        code_package.unpack(store, key)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a folder owned by another user")
def test_a_cache_owned_by_another_user_is_refused(flow_folder: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store, key = _saved(tmp_path, flow_folder)
    cache = tmp_path / "theirs"
    cache.mkdir(mode=0o700)
    os.chown(cache, 65534, 65534)
    monkeypatch.setenv(code_package.CACHE_ENV, str(cache))
    with pytest.raises(CodeCacheError, match="belongs to another user"):
        code_package.unpack(store, key)


def _archive(*entries: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry in entries:
            if isinstance(entry, tuple):
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))
            else:
                tar.addfile(entry)
    return gzip.compress(buf.getvalue())


def _special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    if kind == tarfile.CHRTYPE:
        info.devmajor, info.devminor = 1, 3  # /dev/null's numbers
    return info


@pytest.mark.parametrize(("entries", "named", "why"), [
    ([("/tmp/abs_planted.py", b"X = 1\n")], "/tmp/abs_planted.py", "absolute"),
    ([("ok.py", b""), ("../up_planted.py", b"X = 1\n")], "../up_planted.py", "outside"),
    ([_special("ssh.py", tarfile.SYMTYPE, "/root/.ssh/id_rsa")], "ssh.py", "not a file"),
    ([_special("inside.py", tarfile.SYMTYPE, "ok.py")], "inside.py", "not a file"),
    ([_special("hard.py", tarfile.LNKTYPE, "../../etc/passwd")], "hard.py", "not a file"),
    ([_special("null.py", tarfile.CHRTYPE)], "null.py", "not a file"),
    ([_special("fifo.py", tarfile.FIFOTYPE)], "fifo.py", "not a file"),
])
def test_an_archive_headwater_never_makes_is_refused_whole_naming_the_entry(
        entries, named, why, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only someone who can write the datastore can plant such a package; before, tarfile's own
    FilterError (or, for a link inside the folder, a link made on the worker) came out and the
    half-unpacked staging folder stayed in the cache."""
    store = open_datastore(str(tmp_path / "store"))
    key = store.save_bytes(_archive(*entries)).key
    cache = tmp_path / "cache"
    monkeypatch.setenv(code_package.CACHE_ENV, str(cache))
    with pytest.raises(CodeCacheError) as err:
        code_package.unpack(store, key)
    assert repr(named) in err.value.msg and why in err.value.msg and err.value.fix
    assert list(cache.iterdir()) == []  # neither the package nor a staging folder
    assert not Path("/tmp/abs_planted.py").exists() and not (tmp_path / "up_planted.py").exists()


def test_an_archive_past_the_entry_limit_is_refused_before_it_is_unpacked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_package, "MAX_MEMBERS", 50)
    store = open_datastore(str(tmp_path / "store"))
    key = store.save_bytes(_archive(*((f"m{i}.py", b"") for i in range(51)))).key
    monkeypatch.setenv(code_package.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(CodeCacheError, match="'m50.py' is past the 50 entries"):
        code_package.unpack(store, key)
    assert list((tmp_path / "cache").iterdir()) == []


def test_bytes_that_are_not_a_gzip_tar_are_refused_naming_the_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_datastore(str(tmp_path / "store"))
    key = store.save_bytes(b"not a tarball at all").key
    monkeypatch.setenv(code_package.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(CodeCacheError, match=f"code package {key[:12]} is refused"):
        code_package.unpack(store, key)


@pytest.mark.parametrize("kind", ["pipe", "folder"])
def test_an_addition_that_is_not_a_file_is_refused_naming_it(kind, flow_folder: Path,
                                                             tmp_path: Path) -> None:
    """An ``add_to_package`` entry naming a pipe used to block the launch for ever in open();
    a folder gave IsADirectoryError."""
    import threading

    odd = tmp_path / "odd"
    os.mkfifo(odd) if kind == "pipe" else odd.mkdir()
    flow_cls = _flow_class(flow_folder)
    caught: list[BaseException] = []

    def build() -> None:
        try:
            code_package.build(flow_cls, additions=[(str(odd), "data.py")])
        except BaseException as exc:  # noqa: BLE001 - looked at below
            caught.append(exc)

    worker = threading.Thread(target=build)
    worker.start()
    worker.join(60)
    if worker.is_alive():  # blocked opening the pipe: give it a writer so the thread ends
        open(odd, "wb").close()
        worker.join()
        pytest.fail("build waited for a writer on the pipe")
    assert len(caught) == 1 and isinstance(caught[0], RunFailedError)
    assert f"{odd} (to be packed as 'data.py') is not a regular file" in caught[0].msg


def test_hidden_files_stay_out_unless_their_whole_name_is_asked_for(flow_folder: Path) -> None:
    """Metaflow's rule. Before, ``.secrets.py`` (or ``.keys.json`` with ``.json`` asked) was
    packed and stored with the code."""
    (flow_folder / ".secrets.py").write_text("TOKEN = 'x'\n")
    (flow_folder / ".keys.json").write_text("{}")
    (flow_folder / ".env").write_text("A=1\n")
    tarball, _ = code_package.build(_flow_class(flow_folder), (".py", ".json"))
    assert _names(tarball) == ["helper.py", "packed_flow.py", "settings.json"]
    tarball, _ = code_package.build(_flow_class(flow_folder), (".py", ".env"))
    assert _names(tarball) == [".env", "helper.py", "packed_flow.py"]


def test_pipes_in_the_flow_folder_are_left_out_without_being_opened(flow_folder: Path) -> None:
    """A pipe named like code (or a link to one) would block ``open`` for ever: it is skipped."""
    import threading

    os.mkfifo(flow_folder / "pipe.py")
    os.symlink(flow_folder / "pipe.py", flow_folder / "link_to_pipe.py")
    flow_cls = _flow_class(flow_folder)
    built: list[bytes] = []
    worker = threading.Thread(target=lambda: built.append(code_package.build(flow_cls)[0]))
    worker.start()
    worker.join(60)
    if worker.is_alive():  # blocked on the pipe: give it a writer so the thread ends
        open(flow_folder / "pipe.py", "wb").close()
        worker.join()
        pytest.fail("build opened the pipe")
    assert _names(built[0]) == ["helper.py", "packed_flow.py"]


def test_a_cache_under_missing_folders_is_made_private_all_the_way(
        flow_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # HEADWATER_CODE_CACHE under a folder not made yet was a FileNotFoundError traceback; each
    # missing folder is made 0700, whatever the umask.
    store, key = _saved(tmp_path, flow_folder)
    cache = tmp_path / "not" / "yet" / "cache"
    monkeypatch.setenv(code_package.CACHE_ENV, str(cache))
    old = os.umask(0)
    try:
        folder = Path(code_package.unpack(store, key))
    finally:
        os.umask(old)
    assert (folder / "helper.py").read_text() == "X = 1\n"
    for made in (tmp_path / "not", tmp_path / "not" / "yet", cache):
        assert (made.stat().st_mode & 0o777) == 0o700, made


def test_a_cache_that_cannot_be_made_is_one_clear_error(
        flow_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, key = _saved(tmp_path, flow_folder)
    (tmp_path / "a-file").write_text("in the way")
    monkeypatch.setenv(code_package.CACHE_ENV, str(tmp_path / "a-file" / "sub" / "cache"))
    with pytest.raises(CodeCacheError, match="cannot be made") as caught:
        code_package.unpack(store, key)
    assert code_package.CACHE_ENV in str(caught.value.fix)


def test_a_folder_swapped_for_a_link_while_the_cache_is_made_is_never_followed(
        flow_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Someone who may write the existing folder swaps the folder just made for a link to their
    # own: making the rest of the cache must not go through it.
    store, key = _saved(tmp_path, flow_folder)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    real_mkdir = os.mkdir

    def mkdir_then_swap(path, mode=0o777, *, dir_fd=None):
        real_mkdir(path, mode, dir_fd=dir_fd)
        if path == "swapped":
            os.rename(tmp_path / "swapped", tmp_path / "moved-away")
            os.symlink(theirs, tmp_path / "swapped")

    monkeypatch.setattr(os, "mkdir", mkdir_then_swap)
    monkeypatch.setenv(code_package.CACHE_ENV, str(tmp_path / "swapped" / "cache"))
    with pytest.raises(CodeCacheError, match="cannot be made"):
        code_package.unpack(store, key)
    assert list(theirs.iterdir()) == []
