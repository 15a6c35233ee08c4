"""Outerbounds' public example repositories, played side by side on headwater and on Metaflow.

    python tools/outerbounds_examples.py --repo NAME --snapshot GITDIR \\
        --python PY --metaflow-python MFPY [--only SUBSTRING]

Each play is a flow command from a repository's README (or the obvious ``run`` of a flow file
that has none), run from its folder in a private copy of the snapshot, once with ``PY`` (which
has headwater: a ``headwater shim`` makes the flow's ``import metaflow`` headwater) and once with
``MFPY`` (real Metaflow). Nothing of the repositories is copied into headwater. Both
interpreters need the libraries the plays import (pandas, scikit-learn, omegaconf, pydantic,
...). For each play the script compares the exit status and what the flow itself printed (the
console lines less their timestamp/task prefix and less the lines either runtime adds), and
prints ``same``, or ``DIFFERS`` with both sides' tails. The last line is always
``outerbounds-examples: S same, D differ``; the exit status is 0 only when nothing differs.

Plays that need a cloud account, Kubernetes, GPUs, conda-forge or files from the internet are
not listed (docs/migrating.md says which were left out and why).
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metaflow_pytests import _environment  # noqa: E402 - a sibling script

# repository -> plays: (folder, argv after the interpreter). A play whose argv starts with "!"
# is a Python snippet run after the plays before it (a notebook cell, a README's client code).
PLAYS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "dsbook": (
        ("chapter-3", ("helloworld.py", "run")),
        ("chapter-3", ("counter.py", "run")),
        ("chapter-3", ("counter_branch.py", "run")),
        ("chapter-3", ("parameters.py", "run", "--creature", "dog", "--count", "10",
                       "--ratio", "0.25")),
        ("chapter-3", ("parameters.py", "run", "--count", "10")),  # required option missing
        ("chapter-3", ("json_parameter.py", "run", "--mapping", '{"mykey": "myvalue"}')),
        ("chapter-3", ("foreach.py", "run")),
        ("chapter-3", ("classifier_train.py", "run")),
        ("chapter-3", ("classifier_predict.py", "run", "--vector", "[1,2,3,4,5,6,7,8,9,10,11,12,13]")),
        ("chapter-4", ("zerodiv.py", "run")),
        ("chapter-4", ("catchflow.py", "run")),
        ("chapter-4", ("process_demo.py", "run")),
        ("chapter-4", ("timeoutflow.py", "run")),
        ("chapter-6", ("namespaceflow.py", "run")),
        ("chapter-6", ("firstflow.py", "run")),
        ("chapter-6", ("secondflow.py", "run")),
        ("chapter-6", ("firstflow.py", "--production", "run")),
        ("chapter-6", ("secondflow.py", "--production", "run")),
        ("chapter-6", ("firstflow.py", "--branch", "testbranch", "run")),
        ("chapter-6", ("secondflow.py", "--branch", "testbranch", "run")),
    ),
    "full-stack-ML-metaflow-tutorial": (
        ("flows/local", ("rf_flow.py", "run")),
        ("flows/local", ("tree_branch_flow.py", "run")),
        ("flows/local", ("flow_template.py", "run")),
        ("flows/local", ("rf_flow.py", "card", "get", "start", "card.html")),
    ),
    "tutorials": (
        ("intro-to-mf", ("hello_flow.py", "run")),
        ("intro-to-mf/season-1", ("artifact_flow.py", "run")),
        ("intro-to-mf/season-1", ("decorator_flow.py", "run")),
        ("intro-to-mf/season-1", ("minimum_flow.py", "run")),
        ("intro-to-mf/season-1", ("parameter_flow.py", "run", "--lr", "0.001")),
        ("intro-to-mf/season-2", ("random_forest_flow.py", "run")),
    ),
}

# Plays whose output depends on the clock by design (dsbook's @timeout demo sleeps
# time.time() % 10 seconds): compared by exit status only.
VARYING = frozenset({"timeoutflow.py run"})

_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ (\[[^\]]*\] )?")
_RUNTIME_LINES = re.compile(
    r"^(Task is starting|Task finished successfully|Task failed|Foreach yields|Workflow "
    r"starting|Done!|Validating|    The graph|Running pylint|    Pylint|Creating local|"
    r"Metaflow \d|headwater \d|Progress:|Run \w+/\d+ (succeeded|failed)|Note:|Cloning|"
    r"Workflow failed|Terminating|Flushing|    Step failure|    Step \w+ \(task-id|"
    r"Traceback|  File |    |Task is starting \(retry|Sleeping|\d+ tasks are running|"
    r"Pausing|Internal error)")


_ERROR_LINES = re.compile(r"^(>|\s|[\w.]+(Error|Exception|MissingChild)\b|@catch|\[KILLED|"
                          r"Usage:|Try '|Error:|Invalid |  fix:|\w+ failed:|<flow )")
_BIG_NUMBER = re.compile(r"\b\d{4,}\b")  # process ids, run ids


def printed_by_the_flow(text: str) -> list[str]:
    """The lines the flow's own code printed, in order: without the runtime's lines and without
    tracebacks and error reports (each runtime words and lays them out its own way; whether the
    play failed is compared by its exit status)."""
    kept = []
    in_traceback = False
    for line in text.splitlines():
        body = _PREFIX.sub("", line)
        if body.startswith(("Traceback", 'File "', ">")):
            in_traceback = True
        if in_traceback:  # until the error's own line or @catch's report ends it
            in_traceback = not (_ERROR_NAME.match(body.lstrip("> "))
                                or body.startswith("@catch"))
            continue
        if body.strip() and not _RUNTIME_LINES.match(body) and not _ERROR_LINES.match(body):
            kept.append(_BIG_NUMBER.sub("N", body.rstrip()))
    return kept


def _extract(snapshot: str, rev: str, dest: Path, folders: list[str]) -> Path:
    """The top-level ``folders`` of ``rev`` in ``dest`` (``git archive``: nothing is checked
    out; a snapshot may lack the blobs of large data files elsewhere in the tree)."""
    archive = subprocess.run(["git", "--git-dir", snapshot, "archive", rev, *folders],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest / "repo", filter="data")  # no links out, no absolute paths
    return dest / "repo"


_ERROR_NAME = re.compile(r"(?:[\w.]*\.)?\b([A-Z]\w*(?:Error|Exception|NotFound)|MissingChild)\b")


def _last_error(text: str) -> str:
    found = _ERROR_NAME.findall(text)
    return found[-1] if found else "-"


def _play(python: str, folder: Path, argv: tuple[str, ...], env: dict[str, str]
          ) -> tuple[int, str]:
    proc = subprocess.run([python, *argv], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True, choices=sorted(PLAYS))
    parser.add_argument("--snapshot", required=True, help="git dir of the repository")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--python", default=sys.executable, help="has headwater")
    parser.add_argument("--metaflow-python", required=True, help="has Metaflow")
    parser.add_argument("--only", default="", help="plays whose command contains this")
    args = parser.parse_args(argv)
    same = differ = 0
    with tempfile.TemporaryDirectory(prefix="ob-examples-") as scratch_name:
        scratch = Path(scratch_name)
        folders = sorted({folder.split("/")[0] for folder, _ in PLAYS[args.repo]})
        sides = {}
        for side, python, real in (("headwater", args.python, False),
                                   ("metaflow", args.metaflow_python, True)):
            root = scratch / side
            root.mkdir()
            sides[side] = (python, _extract(args.snapshot, args.rev, root, folders),
                           _environment(python, root, real))
        for folder, play in PLAYS[args.repo]:
            if args.only not in " ".join(play):
                continue
            outcome = {side: _play(python, root / folder, play, env)
                       for side, (python, root, env) in sides.items()}
            (hw_rc, hw_out), (mf_rc, mf_out) = outcome["headwater"], outcome["metaflow"]
            hw_lines, mf_lines = printed_by_the_flow(hw_out), printed_by_the_flow(mf_out)
            label = f"{folder}: {' '.join(play)}"
            if hw_rc or mf_rc or " ".join(play) in VARYING:
                # A failing play is compared by its exit status and the error it ends with
                # (each runtime lays tracebacks out its own way); a play whose output depends
                # on the clock by design, by its exit status.
                ok = hw_rc == mf_rc
                label += f"  [{_last_error(hw_out)} / {_last_error(mf_out)}]" if hw_rc else ""
            else:
                ok = sorted(hw_lines) == sorted(mf_lines)
            print(f"{'same   ' if ok else 'DIFFERS'} exit {hw_rc}/{mf_rc}  {label}", flush=True)
            if ok:
                same += 1
                continue
            differ += 1
            for side, lines in (("headwater", hw_lines), ("metaflow", mf_lines)):
                print(f"    {side}:\n      " + "\n      ".join(lines[-12:]))
    print(f"outerbounds-examples: {same} same, {differ} differ")
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
