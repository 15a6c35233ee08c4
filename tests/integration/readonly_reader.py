"""Read a finished GateFlow run the ways a teammate would, printing what was read.

``python readonly_reader.py USER FLOW_FILE RUN_ID``: the client (a run, an artifact, a task's
output), then the ``logs`` and ``dump`` commands of the flow file. With USER (e.g. ``nobody``),
the process drops to that user first. The interpreter lives where only root may read, so
everything the readers need is imported before dropping (root reading the datastore itself
would change it: SQLite would create files there).
"""

import importlib
import os
import pkgutil
import runpy
import sys

import headwater

SKIP = ("headwater.ui", "headwater.runtime.executors.dask", "headwater.meta.postgres")


def import_everything() -> None:
    for info in pkgutil.walk_packages(headwater.__path__, "headwater."):
        if not info.name.startswith(SKIP):
            try:
                importlib.import_module(info.name)
            except ImportError:
                pass  # an optional backend that is not installed


def drop_to(user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


def main(user: str, flow_file: str, run_id: str) -> None:
    import_everything()
    if user:
        drop_to(user)
    from headwater import Flow, namespace

    namespace(None)
    run = Flow("GateFlow")[run_id]
    print("CLIENT", run.successful, run["start"].task.data.made, "|",
          run["end"].task.stdout.strip(), flush=True)
    for args in (["logs", f"{run_id}/end"], ["dump", f"{run_id}/start/1"]):
        sys.argv = [flow_file, *args]
        try:
            runpy.run_path(flow_file, run_name="__main__")
        except SystemExit as exc:
            print("EXIT", args[0], exc.code, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
