"""Metaflow's own tutorials (``metaflow/tutorials``), played against headwater as their READMEs say.

    python tools/metaflow_tutorials.py --snapshot GITDIR --python PY [--metaflow]

The episodes are extracted from a snapshot of Metaflow's repository (nothing of them is copied
here) and played from their folder, in order, each command as its README writes it; a notebook
is executed with ``jupyter nbconvert --execute`` when the interpreter has Jupyter. The
interpreter under test needs pandas and matplotlib (episodes 02 and 06) and, for the notebooks,
nbconvert and ipykernel. With headwater in it, a shim makes the tutorials' ``import metaflow``
headwater (``--metaflow``: the interpreter has real Metaflow, the baseline).

Left out: episode 04 builds a ``@conda`` environment from conda-forge with Python 3.9.10, and 08
deploys to AWS Step Functions. The last line printed is always
``metaflow-tutorials: P passed, F failed``; the exit status is 0 only when nothing failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metaflow_pytests import _environment, _extract_tests  # noqa: E402 - a sibling script

# (what is played, from the tutorials' folder): a flow command, or a notebook to execute.
EPISODES: tuple[tuple[str, ...], ...] = (
    ("00-helloworld/helloworld.py", "run"),
    ("01-playlist/playlist.py", "run"),
    ("01-playlist/playlist.py", "run", "--genre", "comedy"),
    ("01-playlist/playlist.ipynb",),
    ("02-statistics/stats.py", "run"),
    ("02-statistics/stats.ipynb",),
    ("03-playlist-redux/playlist.py", "run"),
    ("05-hello-cloud/hello-cloud.py", "run"),
    ("05-hello-cloud/hello-cloud.ipynb",),
    ("02-statistics/stats.py", "run", "--with", "kubernetes", "--max-workers", "4"),
    ("06-statistics-redux/stats.ipynb",),
    ("07-worldview/worldview.ipynb",),
)


def _play(python: str, folder: Path, episode: tuple[str, ...], env: dict[str, str],
          scratch: Path) -> bool:
    if episode[0].endswith(".ipynb"):
        out = scratch / episode[0].replace("/", "-")
        argv = [python, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                episode[0], "--output", str(out)]
    else:
        argv = [python, *episode]
    proc = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    ok = proc.returncode == 0
    print(f"{'ok    ' if ok else 'FAILED'} {' '.join(episode)}", flush=True)
    if not ok:
        print("    " + (proc.stdout + proc.stderr).strip()[-1500:].replace("\n", "\n    "))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", required=True, help="git dir of Metaflow's repository")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--python", default=sys.executable, help="the interpreter under test")
    parser.add_argument("--metaflow", action="store_true",
                        help="the interpreter has real Metaflow (baseline): write no shim")
    args = parser.parse_args(argv)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="mf-tutorials-") as scratch_name:
        scratch = Path(scratch_name)
        folder = _extract_tests(args.snapshot, args.rev, scratch, "metaflow/tutorials")
        env = _environment(args.python, scratch, args.metaflow)
        for episode in EPISODES:
            if _play(args.python, folder, episode, env, scratch):
                passed += 1
            else:
                failed += 1
    print(f"metaflow-tutorials: {passed} passed, {failed} failed")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
