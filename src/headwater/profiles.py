"""Named profiles in one config file, so a team switches its whole setup with one word.

``~/.config/headwater/config.toml`` (or the file ``HEADWATER_CONFIG`` names)::

    [profiles.local]
    datastore_root = "~/hw-data"

    [profiles.team]
    executor = "dask"
    dask_address = "tcp://scheduler.internal:8786"
    datastore_root = "s3://team-bucket/headwater"
    metadata = "postgresql://hw@db.internal/headwater"

``HEADWATER_PROFILE=team`` (or ``--profile team`` before the command) selects one. Precedence,
highest first: a command-line option, the setting's own environment variable
(``HEADWATER_DATASTORE_ROOT``, ...), the selected profile, the built-in default.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from headwater.exceptions import FlowDefinitionError
from headwater.records import Record

if TYPE_CHECKING:  # pathlib is imported only when a profile is selected (not by a plain run)
    from pathlib import Path

CONFIG_ENV = "HEADWATER_CONFIG"
PROFILES_FILE_MAX = 16 << 20  # a file of profiles is a few lines; /dev/zero is refused at this
PROFILE_ENV = "HEADWATER_PROFILE"
# profile key -> the environment variable that overrides it; the executor backends add their own
# options' keys (dask_address, ...), see settings()
BASE_SETTINGS = {
    "datastore_root": "HEADWATER_DATASTORE_ROOT",
    "metadata": "HEADWATER_METADATA",
    "executor": "HEADWATER_EXECUTOR",
}


def settings() -> dict[str, str]:
    """Every profile key and the environment variable that overrides it: the base settings and
    the options each executor backend brings (from :mod:`headwater.backends`)."""
    from headwater import backends

    keys = dict(BASE_SETTINGS)
    for option in backends.options("executor"):
        keys.setdefault(option.key, option.env)
    return keys


class ProfileError(FlowDefinitionError):
    headline = "Invalid profile"


class Profile(Record, frozen=True):
    name: str
    path: Path
    values: Mapping[str, str]


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    from pathlib import Path

    env = os.environ if environ is None else environ
    given = env.get(CONFIG_ENV)
    if given:
        return Path(given).expanduser()
    return Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "headwater" / "config.toml"


def load_profile(environ: Mapping[str, str] | None = None) -> Profile | None:
    """The profile ``HEADWATER_PROFILE`` selects, or None when none is selected."""
    env = os.environ if environ is None else environ
    name = env.get(PROFILE_ENV)
    if not name:
        return None
    path = config_path(env)
    profiles = _read_profiles(path, name)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ProfileError(f"profile {name!r} is not in {path}", fix=f"profiles there: {known}")
    values = profiles[name]
    known = settings()
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ProfileError(
            f"profile {name!r} in {path} has unknown settings: {', '.join(unknown)}",
            fix=f"the settings are: {', '.join(known)}",
        )
    _check_executor(name, path, values.get("executor"))
    return Profile(name, path, {k: str(v) for k, v in values.items()})


def _check_executor(name: str, path: Path, executor: object) -> None:
    """A profile's ``executor`` must name an executor backend the registry knows."""
    if executor is None:
        return
    from headwater import backends

    try:
        backends.get("executor", str(executor))
    except backends.UnknownBackendError as err:
        raise ProfileError(f"profile {name!r} in {path}: {err.msg}", fix=err.fix) from None


def _read_profiles(path: Path, name: str) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10: tomli is the same reader (a dependency there)
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise ProfileError(
                f"profile {name!r} is selected ({PROFILE_ENV}) but this Python "
                f"{sys.version_info[0]}.{sys.version_info[1]} has no TOML reader to read {path}",
                fix="pip install tomli (headwater depends on it on Python 3.10), "
                    "or use Python 3.11 or newer") from None
    from headwater.local_read import (
        DEFAULT_PIPE_WAIT_S,
        NotReadable,
        open_local,
        pipe_wait_s,
        read_at_most,
    )

    try:
        with open_local(str(path), pipe_wait_s() or DEFAULT_PIPE_WAIT_S) as handle:
            data = tomllib.loads(read_at_most(handle, PROFILES_FILE_MAX).decode("utf-8"))
    except NotReadable as err:
        what = {"folder": "is a folder, not a file",
                "no writer": f"is a pipe nothing wrote to within {err.detail}"}.get(
                    err.why, f"is larger than {PROFILES_FILE_MAX} bytes ({err.detail})")
        raise ProfileError(f"the config file {path} {what}",
                           fix=f"point {CONFIG_ENV} at a TOML file") from None
    except UnicodeDecodeError as err:
        raise ProfileError(f"the config file {path} is not UTF-8 text ({err.reason} at byte "
                           f"{err.start})", fix="save it as UTF-8") from None
    except FileNotFoundError:
        raise ProfileError(
            f"profile {name!r} is selected ({PROFILE_ENV}) but {path} does not exist",
            fix=f"create it with a [profiles.{name}] table, or unset {PROFILE_ENV}",
        ) from None
    except OSError as err:
        raise ProfileError(f"cannot read the config file {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path} is not valid TOML: {err}") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ProfileError(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    return profiles


def with_profile(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment with the selected profile's settings filled in where no variable is set."""
    env = dict(os.environ if environ is None else environ)
    profile = load_profile(env)
    if profile is not None:
        known = settings()
        for key, value in profile.values.items():
            env.setdefault(known[key], value)
    return env


def explain(environ: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(setting, value, where it came from) for ``headwater configure show``."""
    env = os.environ if environ is None else environ
    profile = load_profile(env)
    rows = []
    for key, var in settings().items():
        if env.get(var):
            rows.append((key, env[var], f"environment ({var})"))
        elif profile is not None and key in profile.values:
            rows.append((key, profile.values[key], f"profile {profile.name!r} in {profile.path}"))
        else:
            rows.append((key, "", "default"))
    return rows
