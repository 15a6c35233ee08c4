"""Output files named by the user (``dump --file``, ``--run-id-file``) are never written through a
link another user planted, nor through a temporary name anyone could guess."""

from __future__ import annotations

import os
import stat

import pytest

from headwater.cli.dump_output import dump_to_file
from headwater.exceptions import HeadwaterException
from headwater.outfiles import replace_file

OTHER_UID = 65534  # nobody

as_root = pytest.mark.skipif(os.getuid() != 0, reason="making another user's link needs root")


def _victim(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    return victim


def test_a_new_file_is_private_and_an_existing_file_keeps_its_mode(tmp_path):
    fresh = tmp_path / "fresh"
    replace_file(str(fresh), b"1")
    assert fresh.read_bytes() == b"1"
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    shared = tmp_path / "shared"
    shared.write_text("old")
    shared.chmod(0o644)
    replace_file(str(shared), b"2")
    assert shared.read_bytes() == b"2"
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "shared"]  # no temp left


def test_a_secret_is_left_private_even_over_a_file_others_could_read(tmp_path):
    shared = tmp_path / "attributes.json"
    shared.write_text("{}")
    shared.chmod(0o644)
    replace_file(str(shared), b'{"metadata": "postgresql://hw:PW@db/hw"}', secret=True)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o600
    assert b"PW" in shared.read_bytes()


def test_a_link_this_user_made_is_followed_and_kept(tmp_path):
    real = tmp_path / "real"
    real.write_text("old")
    link = tmp_path / "link"
    link.symlink_to("real")
    replace_file(str(link), b"new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_pipe_or_a_device_is_written_in_place_never_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        replace_file(str(fifo), b"42")
        assert os.read(reader, 10) == b"42"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    replace_file("/dev/null", b"x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@as_root
def test_a_link_another_user_made_is_refused_and_its_target_untouched(tmp_path):
    victim = _victim(tmp_path)
    planted = tmp_path / "run-id"
    planted.symlink_to(victim)
    os.lchown(planted, OTHER_UID, OTHER_UID)
    with pytest.raises(OSError, match="symbolic link made by another user"):
        replace_file(str(planted), b"1")
    assert victim.read_text() == "precious\n"
    with pytest.raises(HeadwaterException, match="cannot write the artifacts to --file"):
        dump_to_file([], str(planted), wanted=set(), private=False)
    assert victim.read_text() == "precious\n"


def test_dump_never_writes_through_a_guessable_temporary_name(tmp_path):
    """``dump --file`` used ``.NAME.<pid>.partial`` beside the file: in a shared folder another
    user could plant a link at that name and have the pickle written over their target."""
    victim = _victim(tmp_path)
    (tmp_path / f".out.pkl.{os.getpid()}.partial").symlink_to(victim)
    dump_to_file([], str(tmp_path / "out.pkl"), wanted=set(), private=False)
    assert victim.read_text() == "precious\n"
    assert (tmp_path / "out.pkl").stat().st_size > 0


def test_a_file_that_is_not_private_gets_the_mode_open_would_give(tmp_path):
    mask = os.umask(0o022)
    try:
        replace_file(str(tmp_path / "dag.py"), b"x = 1\n", private=False)
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "dag.py").stat().st_mode) == 0o644


def test_a_writer_streams_into_the_new_file_and_a_failing_one_leaves_the_old_file(tmp_path):
    """``dump --file`` pickles straight into the file (a 4 GiB artifact is not held twice): the
    writer gets the open private file; if it fails, the path keeps what it held and no partial
    file is left behind."""
    target = tmp_path / "out.pkl"
    target.write_bytes(b"old")
    replace_file(str(target), lambda handle: handle.write(b"new" * 3))
    assert target.read_bytes() == b"newnewnew"

    def broken(handle):
        handle.write(b"half")
        raise RuntimeError("the value cannot be pickled")

    with pytest.raises(RuntimeError):
        replace_file(str(target), broken)
    assert target.read_bytes() == b"newnewnew"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pkl"]


def test_a_writer_writes_a_pipe_in_place(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        replace_file(str(fifo), lambda handle: handle.write(b"through the pipe"))
        assert os.read(reader, 100) == b"through the pipe"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
