"""Benchmarks: headwater side by side with Metaflow, one command.

    python benchmarks/run.py [--metaflow] [--repeats N] [--big-repeats N] [--cases a,b,...]
                             [--quick] [--full] [--keep] [--no-docs | --write-docs]

Each case is measured as whole, fresh processes from fresh folders; with ``--metaflow`` the two
systems alternate (headwater, Metaflow, headwater, ...) so that a noisy machine hurts both alike.
Metaflow lives in its own virtualenv under ``benchmarks/.work/`` (made once, with uv if present).
The results are printed, saved to ``benchmarks/.work/last-results.{md,json}`` and, for a full run
(no ``--quick``, no ``--cases``) or with ``--write-docs``, written into ``docs/benchmarks.md``:
one block per section (the local comparison; the scale-out cases on Dask and S3), and only the
sections that were measured, so ``--cases dask-foreach,s3-array --write-docs`` leaves the other
figures alone.
Not part of the test suite; see docs/benchmarks.md for what each case means.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

from hwbench.cases import BASELINE, MAIN, Case, Context
from hwbench.proc import LoadWatch, Sample, tail
from hwbench.registry import all_cases, select
from hwbench.report import Meta, Results, machine, render, sections, versions, write_docs
from hwbench.systems import (
    REPO_DIR,
    WORK_DIR,
    System,
    headwater_system,
    metaflow_system,
)

DOCS_FILE = REPO_DIR / "docs" / "benchmarks.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Measure headwater (and Metaflow, with --metaflow) on the benchmark cases.")
    parser.add_argument("--metaflow", action="store_true",
                        help="also measure Metaflow (its virtualenv is created once, cached)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per system of each small case (median reported)")
    parser.add_argument("--big-repeats", type=int, default=1,
                        help="runs per system of each big case (foreach 1,000+, the 1 GiB array, "
                             "the scale-out cases)")
    parser.add_argument("--cases", default="",
                        help="comma-separated case names (default: all); see --list")
    parser.add_argument("--list", action="store_true", help="list the case names and exit")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: small sizes, one repeat, docs left alone")
    parser.add_argument("--full", action="store_true",
                        help="also run Metaflow on foreach 10,000 (~1 h) and 1,000 listed runs")
    parser.add_argument("--keep", action="store_true", help="keep every run folder")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--no-docs", action="store_true", help="never write docs/benchmarks.md")
    docs.add_argument("--write-docs", action="store_true",
                      help="write docs/benchmarks.md even for --quick or --cases runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = args.big_repeats = 1
    if args.repeats < 1 or args.big_repeats < 1:
        parser.error("repeats must be at least 1")
    return args


def make_systems(with_metaflow: bool) -> list[System]:
    """headwater, then Metaflow if asked: the order runs alternate in."""
    systems = [headwater_system()]
    if with_metaflow:
        systems.append(metaflow_system())
    return systems


def warm_up(ctx: Context) -> None:
    """One untimed tiny run per system, so the first measured run does not pay for cold caches."""
    for system in ctx.systems:
        folder = ctx.fresh_dir(f"warmup-{system.name}")
        flow_file = system.write_flow("tiny", folder)
        subprocess.run([system.python, flow_file.name, "run"], cwd=folder,
                       env=system.env(folder), capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def record(results: Results, case: str, system: str, samples: dict[str, Sample]) -> None:
    """Add one repeat's samples and print a progress line for each."""
    for row_key, sample in samples.items():
        results.add(row_key, system, sample)
        status = "ok" if sample.ok else f"FAILED (exit {sample.returncode})"
        print(f"  {row_key:<14} {system:<10} {sample.seconds:8.2f} s  {status}", flush=True)
        if not sample.ok:
            print(tail(sample.log), flush=True)


def run_case(case: Case, ctx: Context, results: Results, repeats: int) -> None:
    """Measure a case; if it breaks, say so in its cells and the failures, and go on."""
    print(f"[{case.name}] {repeats} repeat(s)", flush=True)
    for row in case.rows(ctx):
        results.add_row(row)
    try:
        measure_case(case, ctx, results, repeats)
    except Exception as err:  # noqa: BLE001 - one broken case must not lose the others
        traceback.print_exc()
        ctx.failures.append(f"case {case.name}: {type(err).__name__}: {err}")
        for row in case.rows(ctx):
            for system in ctx.systems:
                if not results.samples.get((row.key, system.name)):
                    results.set_cell(row.key, system.name, "error (see failures)")


def measure_case(case: Case, ctx: Context, results: Results, repeats: int) -> None:
    """Set up a case and measure it ``repeats`` times, alternating the systems."""
    try:
        case.setup(ctx)
        measure_repeats(case, ctx, results, repeats)
    finally:
        case.teardown(ctx)


def measure_repeats(case: Case, ctx: Context, results: Results, repeats: int) -> None:
    """The repeats of a case that is set up: each repeat runs every system once, in turn."""
    for system in ctx.systems:
        for row_key, text in case.skipped(system, ctx).items():
            results.set_cell(row_key, system.name, text)
    for _ in range(repeats):
        if case.has_baseline:
            record(results, case.name, BASELINE, case.baseline_once(ctx))
        for system in ctx.systems:
            skipped = case.skipped(system, ctx)
            if len(skipped) < len(case.rows(ctx)):
                record(results, case.name, system.name, case.once(system, ctx))
    results.notes.update(case.notes(ctx))


def command_line(argv: list[str]) -> str:
    return "python benchmarks/run.py " + " ".join(shlex.quote(a) for a in argv)


def repeats_text(args: argparse.Namespace, section: str) -> str:
    if section != MAIN:
        return f"{args.big_repeats} run(s) per system (`--big-repeats`) of every row"
    return (f"{args.repeats} run(s) per system for small cases, {args.big_repeats} for big ones "
            "(foreach 1,000 and 10,000, the large array)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.list:
        print("\n".join(case.name for case in all_cases(args.quick)))
        return 0
    cases = select(all_cases(args.quick), [n for n in args.cases.split(",") if n])
    started = time.time()
    load = LoadWatch()
    load.start()
    ctx = Context(make_systems(args.metaflow), quick=args.quick, full=args.full, keep=args.keep)
    shutil.rmtree(ctx.runs_dir, ignore_errors=True)
    warm_up(ctx)
    results = Results()
    for case in cases:
        run_case(case, ctx, results, args.big_repeats if case.big else args.repeats)
        save_samples(results)
    load.stop()
    meta = Meta(
        command=command_line(argv), started=started, finished=time.time(),
        machine=machine(WORK_DIR, load.summary()), versions=versions(ctx.systems),
        repeats="", measured={s.name for s in ctx.systems}, failures=ctx.failures,
    )
    blocks = {}
    for section in sections(results):
        extra_versions = list(ctx.versions.items()) if section != MAIN else []
        blocks[section] = render(results, dataclasses.replace(
            meta, repeats=repeats_text(args, section), versions=meta.versions + extra_versions,
        ), section)
        print("\n" + blocks[section])
    save("\n".join(blocks.values()), results)
    if args.write_docs or not (args.no_docs or args.quick or args.cases):
        for section, block in blocks.items():
            write_docs(DOCS_FILE, block, section)
        print(f"written into {DOCS_FILE} ({', '.join(blocks)})")
    return 1 if ctx.failures else 0


def save_samples(results: Results) -> None:
    """Every raw sample so far, as JSON under .work/ (rewritten after each case)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    Path(WORK_DIR / "last-results.json").write_text(results.to_json())


def save(block: str, results: Results) -> None:
    """Keep the last results (Markdown and every raw sample as JSON) under .work/."""
    save_samples(results)
    Path(WORK_DIR / "last-results.md").write_text(block)


if __name__ == "__main__":
    sys.exit(main())
