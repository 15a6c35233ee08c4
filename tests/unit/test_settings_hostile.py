"""Settings an attacker could plant or spell: the ``.headwater`` found by walking up from the current
folder is refused when another user could have planted it (a ``/tmp/.headwater``) or can write into
it (chosen roots are never second-guessed); a user name that cannot be a tag or be printed safely
is refused naming its variable."""

from __future__ import annotations

import os

import pytest

from headwater.exceptions import StoreError
from headwater.settings import Settings, find_datastore_root

OTHER_UID = 65534  # nobody
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make another user's folder")


@pytest.fixture
def shared(tmp_path):
    """A folder like /tmp: anyone may create entries in it (sticky)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    (folder / "project").mkdir()
    return folder


@as_root
def test_another_users_folder_in_a_shared_parent_is_refused(shared):
    planted = shared / ".headwater"
    planted.mkdir(mode=0o755)
    os.chown(planted, OTHER_UID, OTHER_UID)
    with pytest.raises(StoreError) as err:
        find_datastore_root(cwd=shared / "project", environ={})
    text = str(err.value)
    assert str(planted) in text and "another user" in text
    assert "--datastore-root" in text and "HEADWATER_DATASTORE_ROOT" in text
    with pytest.raises(StoreError):  # the client and every command resolve through here
        Settings.resolve(cwd=shared / "project", environ={})


@as_root
def test_a_link_another_user_planted_in_a_shared_parent_is_refused(shared, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    link = shared / ".headwater"
    link.symlink_to(mine)
    os.lchown(link, OTHER_UID, OTHER_UID)
    with pytest.raises(StoreError, match="another user"):
        find_datastore_root(cwd=shared / "project", environ={})


def test_a_folder_anyone_may_write_into_is_refused(tmp_path):
    (tmp_path / "project").mkdir()
    open_to_all = tmp_path / ".headwater"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    with pytest.raises(StoreError, match="any user may write into it") as err:
        find_datastore_root(cwd=tmp_path / "project", environ={})
    assert "chmod o-w" in str(err.value)


@as_root
def test_a_team_folder_or_a_bind_mount_owned_by_someone_else_is_used(tmp_path):
    team = tmp_path / "team"
    team.mkdir(mode=0o775)
    store = team / ".headwater"
    store.mkdir(mode=0o775)
    for path in (team, store):
        os.chown(path, OTHER_UID, OTHER_UID)
    assert find_datastore_root(cwd=team, environ={}) == str(store)


def test_my_own_folder_in_a_shared_parent_is_used(shared):
    mine = shared / ".headwater"
    mine.mkdir(mode=0o755)
    assert find_datastore_root(cwd=shared / "project", environ={}) == str(mine)


def test_a_chosen_root_is_never_refused(tmp_path):
    open_to_all = tmp_path / "store"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    assert find_datastore_root(str(open_to_all), cwd=tmp_path, environ={}) == str(open_to_all)
    env = {"HEADWATER_DATASTORE_ROOT": str(open_to_all)}
    assert find_datastore_root(cwd=tmp_path, environ=env) == str(open_to_all)


@pytest.mark.parametrize(("name", "problem"), [
    ("evil\x1b]0;owned\x07", "control character"), ("a\nb", "control character"),
    ("team/../admin", "'..' path segment"), ("x" * 600, "longer than 500")])
def test_a_user_name_that_cannot_be_a_tag_or_be_printed_is_refused_naming_the_variable(
        monkeypatch, name, problem):
    from headwater.settings import UserNameError, current_username

    monkeypatch.setenv("HEADWATER_USER", name)
    with pytest.raises(UserNameError) as err:
        current_username()
    assert problem in err.value.msg and "HEADWATER_USER" in err.value.msg
    assert "set HEADWATER_USER to a plain name" in err.value.fix
    monkeypatch.setenv("HEADWATER_USER", "alice")
    assert current_username() == "alice"
