"""Launch-time choices that are not scheduling options: configs and the project branch.

Kept apart from ``RunOptions`` (which the scheduler reads) because only the launcher needs them:
configs are resolved before the graph is checked, the branch becomes tags and ``current`` fields.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LaunchExtras:
    config_files: tuple[tuple[str, str], ...] = ()  # --config NAME FILE
    config_values: tuple[tuple[str, str], ...] = ()  # --config-value NAME TEXT
    branch: str | None = None  # --branch
    production: bool = False  # --production
    executor: str = "local"  # --executor: where tasks run, "local" or "dask"
    dask_address: str | None = None  # --dask-address: the Dask scheduler, tcp://HOST:PORT
    environment: str = "local"  # --environment: "pypi"/"conda" build @pypi/@conda environments
    origin_environments: str | None = None  # resume: the origin run's @pypi/@conda locks (JSON)

    @property
    def has_configs(self) -> bool:
        return bool(self.config_files or self.config_values)
