"""Benchmark: `skranke cpr check --json` over a million numbers on standard
input, output to a file, against python-stdnum's `dk.cpr.is_valid` over the
same input, measured in the same run on the same machine.

Prints one `BENCH {json}` line for scripts/bench/report.py.
"""
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COUNT = 1_000_000
RUNS = 5
BASELINE_COUNT = 200_000
BASELINE_RUNS = 3


def numbers(n: int) -> str:
    rng = random.Random(20261126)
    lines = []
    for _ in range(n):
        lines.append(
            "%02d%02d%02d-%04d"
            % (rng.randint(1, 28), rng.randint(1, 12), rng.randint(0, 99), rng.randint(0, 9999))
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    skranke = Path(sys.argv[1])
    try:
        from stdnum.dk import cpr  # noqa: PLC0415
    except ImportError:
        cpr = None
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "numbers.txt"
        out = Path(tmp) / "out.jsonl"
        text = numbers(COUNT)
        src.write_text(text)
        times = []
        for _ in range(RUNS):
            with src.open("rb") as fin, out.open("wb") as fout:
                t0 = time.perf_counter()
                code = subprocess.run([skranke, "cpr", "check", "--json"], stdin=fin, stdout=fout).returncode
                times.append(time.perf_counter() - t0)
            if code not in (0, 1):
                raise SystemExit(f"skranke cpr check failed with status {code}")
        lines = out.read_text().count("\n")
        if lines != COUNT:
            raise SystemExit(f"expected {COUNT} output lines, got {lines}")
        rates = [COUNT / t for t in times]
        record = {
            "figure": "personnummer checks per second (CLI, stdin, --json to a file)",
            "unit": "checks/s",
            "median": statistics.median(rates),
            "min": min(rates),
            "max": max(rates),
            "runs": RUNS,
            "target": ">= 2,000,000/s and >= 20x baseline",
        }
        met = record["median"] >= 2_000_000
        if cpr is None:
            record["baseline_note"] = "python-stdnum not installed: baseline skipped"
        else:
            subset = text.splitlines()[:BASELINE_COUNT]
            base_rates = []
            for _ in range(BASELINE_RUNS):
                t0 = time.perf_counter()
                for line in subset:
                    cpr.is_valid(line)
                base_rates.append(BASELINE_COUNT / (time.perf_counter() - t0))
            record["baseline"] = "python-stdnum dk.cpr.is_valid"
            record["baseline_median"] = statistics.median(base_rates)
            record["ratio"] = record["median"] / record["baseline_median"]
            met = met and record["ratio"] >= 20
        record["met"] = met
        print("BENCH " + json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
