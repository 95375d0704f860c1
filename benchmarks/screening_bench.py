"""Benchmark `b12plan screen` on synthetic populations against a bare DuckDB scan of the same files.

    .venv/bin/python benchmarks/screening_bench.py                      # 100 000 people
    .venv/bin/python benchmarks/screening_bench.py --sizes 100000 1000000 --work /tmp/b12bench

For each size: write the synthetic FHIR NDJSON once (kept in --work and reused), then, each in its own
process so memory is measured per run: a bare DuckDB scan, the screen (keeping the layout it stages with
`--save-layout`), the bare scan again; then the same for the staged layout Parquet files (a re-screen of
data already in the layout: a warehouse export, or last month's `--save-layout`). Reported:

- observations: Observation resources in the input;
- screen: wall time of the whole `b12plan screen` (reading, screening, writing files and report), its
  observations per second and its peak resident memory (the process's maxrss);
- bare load: DuckDB reading every input file with the column list the screen reads, into a table of the
  run (`CREATE TEMP TABLE AS SELECT * FROM read_json(...)`), the better of the two runs;
- bare count: DuckDB parsing every file and counting rows (`SELECT count(*) ...`), the better of two;
- speed ratios: bare time / screen time (1.0 = as fast as the bare scan);
- scaling: screen time of the largest size / the smallest, against the data ratio;
- for the layout Parquet input, the same columns: observations are the rows of observations.parquet (the
  screened tests only), bare load and count read every layout file.

Targets (issue 6): >= 1M observations/s; >= half the bare scan's speed; 10x data in <= 11x time; peak
memory under 2 GB. The machine's load average is printed, as other work on the machine skews the times.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

AS_OF = "2025-06-30"
PYTHON = sys.executable


@dataclass
class Run:
    seconds: float
    peak_mb: float


@dataclass
class Result:
    input: str
    patients: int
    observations: int
    input_mb: float
    screen: Run
    bare_load: Run
    bare_count: Run
    load_average: tuple[float, float, float]

    @property
    def obs_per_second(self) -> float:
        return self.observations / self.screen.seconds

    @property
    def vs_load(self) -> float:
        return self.bare_load.seconds / self.screen.seconds

    @property
    def vs_count(self) -> float:
        return self.bare_count.seconds / self.screen.seconds


def _child(args: list[str]) -> Run:
    """Run a child process; its wall time and its own peak resident memory."""
    began = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        error = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(args[:4])}... failed: {error[-2000:]}")
    return Run(round(seconds, 2), round(usage.ru_maxrss / 1024, 1))


_BARE = textwrap.dedent(
    """
    import sys, duckdb
    from pathlib import Path
    from b12plan.screening.ingest import _read_json, find_inputs
    mode, folder, threads, memory = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}").fetchall()
    con.execute(f"SET memory_limit = '{memory}'").fetchall()
    con.execute("SET preserve_insertion_order = false").fetchall()
    found = find_inputs([folder])
    sources = [(k, i, _read_json(k, p)) for k, files in found.fhir.items() for i, p in enumerate(files)]
    parquet = [(t, i, p) for t, files in found.layout.items() for i, p in enumerate(files)]
    sources += [(t, i, f"read_parquet('{p}')") for t, i, p in parquet]
    for kind, i, source in sources:
        if mode == "load":
            con.execute(f"CREATE OR REPLACE TEMP TABLE t_{kind}_{i} AS SELECT * FROM {source}").fetchall()
        else:
            con.execute(f"SELECT count(*) FROM {source}").fetchall()
    """
)


def _bare(mode: str, folder: Path, threads: int, memory: str) -> Run:
    return _child([PYTHON, "-c", _BARE, mode, str(folder), str(threads), memory])


def _screen(folder: Path, out: Path, threads: int, memory: str, save_layout: Path | None = None) -> Run:
    cli = [str(Path(PYTHON).parent / "b12plan")]
    keep = ["--save-layout", str(save_layout)] if save_layout else []
    return _child(
        [
            *cli,
            "screen",
            str(folder),
            "--as-of",
            AS_OF,
            "--out",
            str(out),
            "--threads",
            str(threads),
            "--memory-limit",
            memory,
            "--quiet",
            *keep,
        ]
    )


def _population(patients: int, work: Path, seed: int) -> Path:
    folder = work / f"synthetic-{patients}-seed{seed}"
    done = folder / ".complete"
    if not done.is_file():
        began = time.monotonic()
        subprocess.run(
            [
                str(Path(PYTHON).parent / "b12plan"),
                "synth",
                "--patients",
                str(patients),
                "--out",
                str(folder),
                "--seed",
                str(seed),
                "--as-of",
                AS_OF,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        done.write_text(f"{time.monotonic() - began:.1f} s\n")
        print(f"  wrote {patients:,} people in {time.monotonic() - began:.0f} s", flush=True)
    return folder


def _observations(folder: Path) -> int:
    manifest = json.loads((folder / "manifest.json").read_text())
    return sum(int(f["count"]) for f in manifest["output"] if f["type"] == "Observation")


def _layout_observations(folder: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(folder / "observations.parquet").metadata.num_rows)


def _runs(folder: Path, out: Path, threads: int, memory: str, save_layout: Path | None) -> tuple[Run, ...]:
    """Bare load and count, the screen, bare load and count again; the better bare run of each kind."""
    first_load, first_count = _bare("load", folder, threads, memory), _bare("count", folder, threads, memory)
    screen = _screen(folder, out, threads, memory, save_layout)
    second_load, second_count = (
        _bare("load", folder, threads, memory),
        _bare("count", folder, threads, memory),
    )
    best_load = min(first_load, second_load, key=lambda r: r.seconds)
    best_count = min(first_count, second_count, key=lambda r: r.seconds)
    return screen, best_load, best_count


def measure(patients: int, work: Path, *, seed: int, threads: int, memory: str) -> list[Result]:
    print(f"{patients:,} people", flush=True)
    folder = _population(patients, work, seed)
    size = sum(p.stat().st_size for p in folder.glob("*.ndjson*")) / 1e6
    layout = work / f"layout-{patients}-seed{seed}"
    load = os.getloadavg()
    fhir = Result(
        "FHIR NDJSON",
        patients,
        _observations(folder),
        round(size, 1),
        *_runs(folder, work / f"out-{patients}", threads, memory, layout),
        load,
    )
    load = os.getloadavg()
    staged = Result(
        "layout Parquet",
        patients,
        _layout_observations(layout),
        round(sum(p.stat().st_size for p in layout.glob("*.parquet")) / 1e6, 1),
        *_runs(layout, work / f"out-{patients}-layout", threads, memory, None),
        load,
    )
    return [fhir, staged]


def _table(results: list[Result]) -> str:
    lines = [
        "| input | people | observations | input size | screen | obs/s | peak memory | bare load "
        "| speed vs load | bare count | speed vs count | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.input} | {r.patients:,} | {r.observations:,} | {r.input_mb:,.0f} MB "
            f"| {r.screen.seconds:.1f} s | {r.obs_per_second:,.0f} | {r.screen.peak_mb:,.0f} MB "
            f"| {r.bare_load.seconds:.1f} s "
            f"| {r.vs_load:.2f} | {r.bare_count.seconds:.1f} s | {r.vs_count:.2f} "
            f"| {r.load_average[0]:.1f} |"
        )
    for kind in dict.fromkeys(r.input for r in results):
        runs = [r for r in results if r.input == kind]
        if len(runs) > 1:
            small, large = runs[0], runs[-1]
            data = large.observations / small.observations
            lines.append("")
            lines.append(
                f"Scaling ({kind}): {data:.1f}x the observations in "
                f"{large.screen.seconds / small.screen.seconds:.1f}x the time "
                f"(target: at most {data * 1.1:.1f}x)."
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/b12plan-bench"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = [
        result
        for n in sorted(args.sizes)
        for result in measure(n, args.work, seed=args.seed, threads=args.threads, memory=args.memory_limit)
    ]
    results.sort(key=lambda r: r.input != "FHIR NDJSON")
    print()
    machine = f"{os.cpu_count()} cores · threads {args.threads} · memory limit {args.memory_limit}"
    print(f"{dt.date.today()} · {machine}")
    print(_table(results))
    if args.json:
        rows = [
            {**asdict(r), "obs_per_second": r.obs_per_second, "vs_load": r.vs_load, "vs_count": r.vs_count}
            for r in results
        ]
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
