"""What every flow command reads from the click context."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.settings import Settings

if TYPE_CHECKING:
    import click


def settings_of(ctx: click.Context) -> Settings:
    """Settings from the top-level options (``--datastore-root``, ``--metadata``) and env."""
    obj = ctx.find_root().obj
    if obj.get("mode") == "spin":
        from headwater.exceptions import HeadwaterException

        raise HeadwaterException(
            f"--mode spin is for reading what spin recorded; `{ctx.info_name}` does not take it",
            fix="use --mode spin with `card view|get|list|server`, `dump` or `logs`; `spin` "
            "records its tasks apart by itself")
    root, metadata = obj["settings_args"]
    return Settings.resolve(datastore_root=root, metadata=metadata)


def reading_settings_of(ctx: click.Context) -> Settings:
    """The settings of a command that reads tasks (``card``, ``dump``, ``logs``): with the
    top-level ``--mode spin`` (Metaflow's option), the tasks ``spin`` recorded instead of runs."""
    from headwater.settings import spin_settings

    obj = ctx.find_root().obj
    root, metadata = obj["settings_args"]
    settings = Settings.resolve(datastore_root=root, metadata=metadata)
    return spin_settings(settings) if obj.get("mode") == "spin" else settings


def flow_class_of(ctx: click.Context) -> type:
    return ctx.find_root().obj["flow_cls"]


def latest_run_example(ctx: click.Context) -> tuple[str, list[str]] | None:
    """The id of this flow's latest run and its steps in run order, for an error that asks for
    a ``RUN_ID/STEP``; ``None`` when the flow has no run (or it cannot be read)."""
    from headwater.client import Flow, namespace, use_settings
    from headwater.exceptions import HeadwaterException

    try:
        use_settings(reading_settings_of(ctx))
        namespace(None)
        run = Flow(flow_class_of(ctx).__name__).latest_run
        if run is None:
            return None
        steps = [step.id for step in run.steps()]
    except (HeadwaterException, OSError):
        return None
    return run.id, list(reversed(steps)) or ["start"]
