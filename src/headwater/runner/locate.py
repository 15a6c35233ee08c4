"""Where the Runner's child writes its run, and which flow class the run belongs to.

The child resolves its datastore from its own options, environment and working directory; the
caller must read from the same place even when those differ from its own (``Runner(cwd=...)``,
``env={...}``), so the same rules are applied here to the child's values.

The ``--run-id-file`` holds only the run id (as with Metaflow), and run ids are per flow, so the
flow's name is read from the file's source without importing it, and the run row is confirmed by
the pid that recorded it.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Mapping
from typing import Any

from headwater.meta import MetadataStore, RunRow
from headwater.settings import Settings


def child_settings(top_level: Mapping[str, Any], env: Mapping[str, str], cwd: str) -> Settings:
    """The datastore root and metadata database a child with these options will use."""
    metadata = top_level.get("metadata") or env.get("HEADWATER_METADATA") or None
    if metadata and metadata != "local" and "://" not in metadata:
        metadata = os.path.join(cwd, os.path.expanduser(metadata))
    return Settings.resolve(top_level.get("datastore_root"), metadata, cwd=cwd, environ=env)


def flow_class_candidates(flow_file: str) -> list[str]:
    """Class names of ``flow_file`` most likely to be its flow, best first.

    The class instantiated under ``if __name__ == '__main__'`` comes first, then classes with
    ``@step`` methods that no other class of the file extends, then every other class.
    """
    with open(flow_file, encoding="utf-8", errors="replace") as handle:
        tree = ast.parse(handle.read(), filename=flow_file)
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    extended = {_name_of(base) for node in classes for base in node.bases}
    ranked = [
        *(name for name in _main_calls(tree) if any(c.name == name for c in classes)),
        *(c.name for c in classes if _has_steps(c) and c.name not in extended),
        *(c.name for c in classes),
    ]
    return list(dict.fromkeys(ranked))


def find_run(meta: MetadataStore, candidates: Iterable[str], run_id: str,
             pid: int) -> RunRow | None:
    """The run ``run_id`` recorded by process ``pid``: among ``candidates``, else any flow."""
    tried: set[str] = set()
    for names in (candidates, meta.list_flows()):
        for name in names:
            if name in tried:
                continue
            tried.add(name)
            row = meta.get_run(name, run_id)
            if row is not None and row.pid in (pid, None):
                return row
    return None


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _has_steps(node: ast.ClassDef) -> bool:
    return any(
        _name_of(deco.func if isinstance(deco, ast.Call) else deco) == "step"
        for item in node.body if isinstance(item, ast.FunctionDef)
        for deco in item.decorator_list
    )


def _main_calls(tree: ast.Module) -> list[str]:
    """Names called inside ``if __name__ == '__main__':`` blocks."""
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call):
                    found.append(_name_of(inner.func))
    return found
