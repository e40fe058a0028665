#!/usr/bin/env python3
"""Shrinks a fuzz corpus to at most LIMIT files (default 180).

`cargo fuzz cmin` keeps every input that adds a feature (hit counts and
comparisons included), which after a long run leaves hundreds or thousands
of files. A libFuzzer merge with counters and comparisons off writes, per
input in size order, the coverage edges that input adds; this keeps the
inputs that add most (the smaller one on a tie) up to LIMIT and deletes the
rest. The edges kept are at least those counted in the printed line; check
the corpus's coverage with `cargo fuzz run -s none T corpus/T -- -runs=0`.

Usage (from fuzz/):
  cargo fuzz run -s none T /tmp/empty corpus/T -- -merge=1 -use_counters=0 \\
      -use_cmp=0 -merge_control_file=/tmp/ctl
  python3 minimise.py /tmp/ctl corpus/T [LIMIT]
"""
import os
import sys


def main(control, corpus, limit):
    lines = open(control).read().split("\n")
    n = int(lines[0])
    files = lines[2 : 2 + n]
    cov = {}
    for line in lines[2 + n :]:
        parts = line.split()
        if parts and parts[0] == "COV":
            cov[int(parts[1])] = set(parts[2:])
    uncovered = set().union(*cov.values()) if cov else set()
    size = {i: os.path.getsize(f) for i, f in enumerate(files) if os.path.exists(f)}
    keep = set()
    total = len(uncovered)
    while uncovered and len(keep) < limit:
        best = max(cov, key=lambda i: (len(cov[i] & uncovered), -size.get(i, 0)))
        if not cov[best] & uncovered:
            break
        keep.add(best)
        uncovered -= cov[best]
    kept = {os.path.abspath(files[i]) for i in keep}
    for name in os.listdir(corpus):
        path = os.path.abspath(os.path.join(corpus, name))
        if path not in kept:
            os.remove(path)
    print(f"{corpus}: kept {len(kept)} of {n} files, adding {total - len(uncovered)} of {total} edges")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 180)
