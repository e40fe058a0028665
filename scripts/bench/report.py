"""Runs every benchmark and prints one table: each figure, its target, and
where a baseline is measured in the same run, the ratio to it. Writes the
table with the machine's description to docs/PERFORMANCE.md.

A benchmark is any command that prints `BENCH {json}` lines with the keys
figure, unit, median, min, max, runs, target, met, and optionally baseline,
baseline_median, ratio, note. A benchmark that cannot run here prints
`BENCH-SKIP {"figure": ..., "reason": ...}` instead of faking a figure.
"""
import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def benches():
    """(name, command) for every benchmark, in table order."""
    release = TARGET / "release"
    yield "cpr-check", [sys.executable, str(ROOT / "scripts/bench/cpr_check.py"), str(release / "skranke")]
    for extra in sorted((ROOT / "scripts/bench").glob("[0-9][0-9]-*")):
        yield extra.name, ["bash", str(extra)] if extra.suffix == ".sh" else [sys.executable, str(extra)]


def fmt(x):
    if x is None:
        return ""
    if isinstance(x, float):
        if x >= 1000:
            return f"{x:,.0f}"
        if x >= 10:
            return f"{x:.1f}"
        return f"{x:.3g}"
    return str(x)


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem} memory, {platform.system()} {platform.release()}"


def loadavg():
    """The 1-minute load average: other work on the machine shares the cores."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except (OSError, IndexError):
        return "?"


def main():
    rows = []
    load_before = loadavg()
    for name, cmd in benches():
        print(f"==> benchmark {name}", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        found = False
        for line in proc.stdout.splitlines():
            if line.startswith("BENCH "):
                rows.append(json.loads(line[6:]))
                found = True
            elif line.startswith("BENCH-SKIP "):
                r = json.loads(line[11:])
                rows.append({"figure": r["figure"], "skipped": r["reason"]})
                found = True
        if proc.returncode != 0 or not found:
            rows.append({"figure": name, "skipped": f"benchmark failed (status {proc.returncode})"})
    header = "| figure | median | spread (min–max) | runs | baseline (same run) | ratio | target | met |"
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['figure']} | skipped: {r['skipped']} | | | | | | |")
            continue
        unit = r.get("unit", "")
        base = ""
        if r.get("baseline"):
            base = f"{r['baseline']}: {fmt(r.get('baseline_median'))} {r.get('baseline_unit', unit)}"
        ratio = f"{r['ratio']:.2f}×" if r.get("ratio") is not None else ""
        lines.append(
            f"| {r['figure']} | {fmt(r['median'])} {unit} | {fmt(r.get('min'))}–{fmt(r.get('max'))} | "
            f"{r.get('runs', '')} | {base} | {ratio} | {r.get('target', '')} | {'yes' if r.get('met') else 'NO'} |"
        )
        if r.get("note"):
            lines[-1] += f" {r['note']}"
    table = "\n".join(lines)
    print(table)
    doc = ROOT / "docs" / "PERFORMANCE.md"
    doc.parent.mkdir(exist_ok=True)
    previous = doc.read_text() if doc.exists() else ""
    notes = previous.split("<!-- notes -->", 1)[1] if "<!-- notes -->" in previous else "\n"
    doc.write_text(
        "# Performance\n\n"
        "Produced by `bash scripts/bench.sh` (release build, every benchmark, one table).\n"
        "Ratios compare with a baseline measured in the same run on the same machine.\n\n"
        f"Latest run: {date.today().isoformat()} on {machine()}; "
        f"load average {load_before} when it started, {loadavg()} when it ended.\n\n"
        f"{table}\n\n<!-- notes -->{notes}"
    )


if __name__ == "__main__":
    main()
