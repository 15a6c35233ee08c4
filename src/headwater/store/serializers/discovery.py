"""Which serializers installed packages declare, and which the settings switch off.

A package declares a serializer with an entry point in the group ``headwater.serializers``: the
name is the serializer's ``TYPE``, the value where its class is::

    [project.entry-points."headwater.serializers"]
    parquet = "mypkg.serializers:ParquetSerializer"

The entry points are read (with ``importlib.metadata``) only when a cheap scan of the installed
distributions' ``entry_points.txt`` finds the group (:func:`headwater.backends.may_declare`).
"""

from __future__ import annotations

import json
import os

GROUP = "headwater.serializers"
TOGGLES_ENV = "METAFLOW_ENABLED_ARTIFACT_SERIALIZER"
"""Metaflow's setting: a list (JSON, or comma-separated) where ``-name`` switches ``name`` off."""


def installed_declarations() -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(distribution name, [(name, "module.Class"), ...]), ...]`` of installed packages."""
    from headwater import backends

    if not backends.may_declare(GROUP):
        return []
    from importlib.metadata import entry_points

    by_source: dict[str, list[tuple[str, str]]] = {}
    for ep in entry_points(group=GROUP):
        module, _, attr = ep.value.partition(":")
        path = f"{module.strip()}.{attr.strip()}" if attr else module.strip()
        dist = getattr(ep, "dist", None)
        source = getattr(dist, "name", None) or module.split(".")[0]
        by_source.setdefault(source, []).append((ep.name, path))
    return list(by_source.items())


def disabled_names() -> set[str]:
    """Names the ``METAFLOW_ENABLED_ARTIFACT_SERIALIZER`` setting switches off (``-name``)."""
    raw = os.environ.get(TOGGLES_ENV, "").strip()
    if not raw:
        return set()
    try:
        items = json.loads(raw)
    except ValueError:
        items = raw.split(",")
    if isinstance(items, str):
        items = [items]
    return {str(i).strip()[1:] for i in items if str(i).strip().startswith("-")}
