"""What every flow command reads from the click context."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.settings import Settings

if TYPE_CHECKING:
    import click


def settings_of(ctx: click.Context) -> Settings:
    """Settings from the top-level options (``--datastore-root``, ``--metadata``) and env."""
    root, metadata = ctx.find_root().obj["settings_args"]
    return Settings.resolve(datastore_root=root, metadata=metadata)


def flow_class_of(ctx: click.Context) -> type:
    return ctx.find_root().obj["flow_cls"]
