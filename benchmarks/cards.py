"""What ``@card`` costs: a default card rendered in-process, and ``run`` with and without cards.

    python benchmarks/cards.py [--metaflow] [--repeats N]

1. **Render**: the median time to render and store one default card, in this process, for a task
   with a few small artifacts, a 100 MB array it did not touch, and (second row) a VegaChart.
2. **Run**: the median wall time of ``python linear.py run`` (3 steps) without cards and with
   ``--with card`` (a default card on every step), as fresh processes from fresh folders
   (benchmarks/hwbench), headwater and, with ``--metaflow``, Metaflow in its cached virtualenv,
   interleaved.

Prints a Markdown table for docs/benchmarks.md ("Cards"); not part of the test suite.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hwbench.proc import measure
from hwbench.systems import WORK_DIR, headwater_system, metaflow_system


def render_cost(repeats: int) -> dict[str, float]:
    """Median milliseconds to render and store one default card (plain, and with a chart)."""
    import numpy as np

    from headwater.cards import Markdown, Table, VegaChart
    from headwater.cards.default_card import DefaultCard
    from headwater.cards.render import store_card
    from headwater.cards.task_view import ArtifactInfo, CardTask
    from headwater.graph import check_flow
    from headwater.store import open_datastore

    sys.path.insert(0, str(Path(__file__).parent / "flows"))
    from linear import LinearFlow

    graph = check_flow(LinearFlow)
    store = open_datastore(tempfile.mkdtemp(prefix="hw-card-bench-"))
    artifacts = {
        "x": ArtifactInfo("x", "builtins.int", 20, _value=2),
        "names": ArtifactInfo("names", "builtins.list", 900, _value=[f"n{i}" for i in range(100)]),
        "small": ArtifactInfo("small", "numpy.ndarray", 8128, _value=np.arange(1000)),
        "big": ArtifactInfo("big", "numpy.ndarray", 100 * 2**20, _loader=lambda: 1 / 0),
    }
    task = CardTask("LinearFlow", "1", "middle", "2", 0, "succeeded", time.time() - 1,
                    time.time(), [], artifacts, graph=graph)
    chart = {"data": {"values": [{"a": i, "b": i * i} for i in range(50)]}, "mark": "line",
             "encoding": {"x": {"field": "a", "type": "quantitative"},
                          "y": {"field": "b", "type": "quantitative"}}}
    results = {}
    for label, components in (
        ("default card", [Markdown("# Report\n\nsome **text**"), Table([[1, 2], [3, 4]])]),
        ("default card with a VegaChart", [Markdown("# Report"), VegaChart(chart)]),
    ):
        times = []
        for i in range(repeats):
            start = time.perf_counter()
            html = DefaultCard(components=[*components, Markdown(f"run {i}")]).render(task)
            store_card(store, {"type": "default"}, 0, html)
            times.append((time.perf_counter() - start) * 1000)
        results[label] = statistics.median(times)
        results[f"{label} size"] = len(html.encode()) / 1024
    return results


def run_cost(systems: list, repeats: int) -> dict[tuple[str, str], float]:
    """Median seconds of ``linear.py run``, with and without ``--with card``, per system."""
    samples: dict[tuple[str, str], list[float]] = {}
    base = WORK_DIR / "cards"
    base.mkdir(parents=True, exist_ok=True)
    for attempt in range(repeats + 1):  # the first round is an untimed warm-up
        for system in systems:
            for label, args in (("no cards", ["run"]), ("--with card", ["--with", "card", "run"])):
                folder = Path(tempfile.mkdtemp(prefix=f"{system.name}-", dir=base))
                flow = system.write_flow("linear", folder)
                sample = measure([system.python, str(flow), *args], cwd=folder,
                                 env=system.env(folder), log=folder / "run.log")
                if not sample.ok:
                    raise SystemExit(f"{system.label} {' '.join(args)} failed; see {folder}")
                shutil.rmtree(folder)
                if attempt:
                    samples.setdefault((system.label, label), []).append(sample.seconds)
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metaflow", action="store_true", help="also measure Metaflow")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    render = render_cost(max(args.repeats * 10, 20))
    print("| card | median render + store | size |\n|---|---|---|")
    for label in ("default card", "default card with a VegaChart"):
        print(f"| {label} | {render[label]:.1f} ms | {render[label + ' size']:.0f} KiB |")

    systems = [headwater_system()] + ([metaflow_system()] if args.metaflow else [])
    runs = run_cost(systems, args.repeats)
    print("\n| system | `linear.py run` | `--with card run` | cost of 3 cards |\n|---|---|---|---|")
    for system in systems:
        plain, carded = runs[(system.label, "no cards")], runs[(system.label, "--with card")]
        print(f"| {system.label} | {plain:.2f} s | {carded:.2f} s | {carded - plain:+.2f} s |")


if __name__ == "__main__":
    main()
