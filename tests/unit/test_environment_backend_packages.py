"""What a run's datastore and metadata backends need in a task is added to its step environments.

The resolver here is a stand-in that records what it was asked to resolve (the real uv runs in
tests/integration/test_environment_backends.py): these tests are about which requirements reach
it, how the lock cache keys on them, and what a failure says.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomllib

from headwater import backends
from headwater.environments import prepare
from headwater.environments.backend_packages import backend_packages
from headwater.environments.declaration import EnvDeclaration
from headwater.environments.lock import EnvLock, run_record
from headwater.exceptions import StepEnvironmentError

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
S3 = "s3fs>=2024.2"
PG = "psycopg[binary]>=3.1"
TABULATE = EnvDeclaration("pypi", None, (("tabulate", "0.9.0"),))


def test_a_local_run_adds_nothing(tmp_path):
    assert backend_packages(str(tmp_path), str(tmp_path / "meta.sqlite")) == {}
    assert backend_packages(str(tmp_path), f"sqlite:///{tmp_path}/meta.sqlite") == {}


def test_remote_backends_add_their_client_libraries_and_say_why(tmp_path):
    assert backend_packages("s3://bucket/prefix", "postgresql://u@127.0.0.1:5432/db") == {
        S3: "the s3 datastore", PG: "the postgresql metadata store"}
    assert backend_packages("gs://bucket/p", str(tmp_path / "m.sqlite")) == {
        "gcsfs>=2024.2": "the gs datastore"}
    assert backend_packages("az://container/p", str(tmp_path / "m.sqlite")) == {
        "adlfs>=2024.2": "the azure datastore"}
    # An fsspec URL of any other kind: headwater cannot know its driver's package.
    assert backend_packages("memory://x", str(tmp_path / "m.sqlite")) == {}


def test_each_builtin_backend_asks_for_what_its_pip_extra_installs():
    """One truth for a backend's client libraries: a task needs what ``headwater[extra]`` adds."""
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    for kind in ("datastore", "metadata"):
        for backend in backends.BUILTIN[kind].values():
            wanted = tuple(extras[backend.extra]) if backend.extra else ()
            assert backend.task_requires == wanted, (kind, backend.name)


def test_a_package_the_step_declares_itself_wins():
    mine = EnvDeclaration("pypi", None, (("S3FS", "2024.6.0"), ("tabulate", "")))
    needs = {S3: "the s3 datastore", PG: "the postgresql metadata store"}
    assert prepare.added_packages(mine, needs) == {PG: "the postgresql metadata store"}
    assert prepare.added_packages(TABULATE, needs) == needs
    assert prepare.added_packages(TABULATE, None) == {}


@pytest.fixture
def resolver(tmp_path, monkeypatch) -> list[list[str]]:
    """A stand-in resolver over a private cache: the runtime requirements of each resolution."""
    monkeypatch.setenv("HEADWATER_ENV_CACHE", str(tmp_path / "cache"))
    asked: list[list[str]] = []

    def resolve(declared: EnvDeclaration, interpreter: str, version: str,
                runtime: list[str]) -> str:
        asked.append(list(runtime))
        if any(r.startswith("no-such") for r, _ in declared.packages):
            raise StepEnvironmentError("cannot resolve no-such-pkg: not found",
                                       fix="check the package names")
        return "".join(f"{r.split('>=')[0].split('[')[0]}==1.0\n" for r in runtime)

    monkeypatch.setattr(prepare, "_backend", lambda kind: SimpleNamespace(resolve=resolve))
    return asked


def test_the_added_packages_are_resolved_and_the_lock_cache_keys_on_them(resolver):
    local = prepare.lock_for(TABULATE)
    remote = prepare.lock_for(TABULATE, needs={S3: "the s3 datastore"})
    assert local is not None and remote is not None
    assert S3 not in resolver[0] and S3 in resolver[1]
    assert "s3fs==1.0" in remote.pinned() and "s3fs==1.0" not in local.pinned()
    assert remote.id != local.id
    # Each is cached under its own key: asked again, neither is resolved anew.
    assert prepare.lock_for(TABULATE, resolve=False) == local
    assert prepare.lock_for(TABULATE, resolve=False, needs={S3: "the s3 datastore"}) == remote
    assert len(resolver) == 2


def test_a_resolution_failure_names_the_step_the_package_what_was_added_and_the_fix(resolver):
    class RemoteFlow:
        pass

    bad = EnvDeclaration("pypi", None, (("no-such-pkg", "1.0"),))
    policies = {"start": None, "train": None}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prepare, "step_declarations", lambda cls, pol: {"train": bad})
        with pytest.raises(StepEnvironmentError) as caught:
            prepare.prepare_environments(RemoteFlow, policies, needs={S3: "the s3 datastore"},
                                         build=False)
    text = str(caught.value)
    assert "step 'train' of RemoteFlow" in text and "no-such-pkg" in text
    assert f"headwater adds {S3} (the s3 datastore)" in text
    assert "check the package names" in text and "list it among the step's packages" in text


def test_a_recorded_lock_without_the_added_packages_is_resolved_anew(resolver):
    """Resume of a run made before a backend's packages were added to its environments."""
    old = EnvLock("pypi", ".".join(map(str, sys.version_info[:3])), TABULATE.to_dict(),
                  "tabulate==0.9.0\n")
    said: list[str] = []
    needs = {S3: "the s3 datastore"}
    got = prepare._recorded(run_record({"fmt": old}), "fmt", TABULATE, needs, said.append)
    assert got is None and said == [f"    The lock step fmt ran with lacks {S3}: resolving anew"]
    complete = EnvLock("pypi", old.python, old.declared, "tabulate==0.9.0\ns3fs==2024.6.0\n")
    assert prepare._recorded(run_record({"fmt": complete}), "fmt", TABULATE, needs,
                             said.append) == complete
    # Without remote backends the old lock is reused as before.
    assert prepare._recorded(run_record({"fmt": old}), "fmt", TABULATE, {}, said.append) == old
