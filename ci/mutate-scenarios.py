#!/usr/bin/env python3
"""Seeded mutations of the shipped scenarios, loaded by the harness, outcomes tallied.

Usage: python3 ci/mutate-scenarios.py [--count 300] [--seed 1] [--bin PATH] [--out DIR]
                                      [--run N] [--timeout S]

Each mutant is one shipped scenario (scenarios/*.toml) with one seeded change: a key line
dropped or duplicated, a key misspelt, a value replaced by a boundary, huge, negative or
wrong-typed one, a table header dropped or duplicated, the file cut short, a garbage line.
Every mutant is loaded with `check FILE` (load and validate, nothing runs); `--run N` also
runs the first N mutants that load (`scenario FILE --iterations 1`, crash-points with
`--sample 3`) under `--timeout` seconds.

Outcomes: `ok` (exit 0; for runs also 1, a verdict), `exit 2, one line` (refused with one
line), and `other`: a panic (101), an abort (134), a hang (the timeout), another code, or an
error of more than one line. The goal is 0 `other`. Each `other` mutant is kept in --out
with the harness's stderr, and the script exits 1 if there is any.
"""

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

VALUES = [
    "0", "-1", "1", "2", "-9223372036854775808", "9223372036854775807",
    "18446744073709551615", "18446744073709551616", "4294967295", "4294967296",
    "4000000000", "1e308", "-1e308", "nan", "inf", "-inf", "0.5", "1.5", "-0.5",
    '""', '"x"', '"wal"', '"fresh"', '"api-step"', "true", "false", "[]", '[""]',
    "[0]", '["x"]', "{}", '{ x = 1 }', "1979-05-27T07:32:00Z", '"' + "a" * 5000 + '"',
    '"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"',
]

KEY_LINE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)(.*)$")


def mutate(text: str, rng: random.Random) -> tuple[str, str]:
    """One mutation of `text`: (new text, what was done)."""
    lines = text.split("\n")
    keys = [i for i, l in enumerate(lines) if KEY_LINE.match(l)]
    headers = [i for i, l in enumerate(lines) if l.strip().startswith("[")]
    kind = rng.choice(
        ["drop", "dup", "misspell", "value", "value", "value", "value",
         "drop-header", "dup-header", "truncate", "garbage"]
    )
    if kind in ("drop", "dup", "misspell", "value") and keys:
        i = rng.choice(keys)
        m = KEY_LINE.match(lines[i])
        if kind == "drop":
            del lines[i]
            return "\n".join(lines), f"line {i + 1}: dropped `{m.group(2)}`"
        if kind == "dup":
            lines.insert(i + 1, lines[i])
            return "\n".join(lines), f"line {i + 1}: duplicated `{m.group(2)}`"
        if kind == "misspell":
            k = m.group(2)
            j = rng.randrange(len(k))
            bad = k[:j] + rng.choice("xzq_") + k[j + 1:]
            lines[i] = m.group(1) + bad + m.group(3) + m.group(4)
            return "\n".join(lines), f"line {i + 1}: `{k}` misspelt `{bad}`"
        v = rng.choice(VALUES)
        lines[i] = m.group(1) + m.group(2) + m.group(3) + v
        return "\n".join(lines), f"line {i + 1}: `{m.group(2)}` = {v[:40]}"
    if kind == "drop-header" and headers:
        i = rng.choice(headers)
        h = lines[i].strip()
        del lines[i]
        return "\n".join(lines), f"line {i + 1}: dropped header {h}"
    if kind == "dup-header" and headers:
        i = rng.choice(headers)
        lines.insert(i + 1, lines[i])
        return "\n".join(lines), f"line {i + 1}: duplicated header {lines[i].strip()}"
    if kind == "truncate":
        i = rng.randrange(1, max(2, len(lines)))
        return "\n".join(lines[:i]), f"cut after line {i}"
    i = rng.randrange(len(lines) + 1)
    g = rng.choice(["=", "[", "[[x]]", "x =", "\x00", "é = 1", "[strategy", "\"unterminated"])
    lines.insert(i, g)
    return "\n".join(lines), f"line {i + 1}: garbage {g!r}"


def classify(code, stderr: str, is_run: bool) -> str:
    lines = [l for l in stderr.splitlines() if l.strip()]
    if code == 0 or (is_run and code == 1):
        return "ok"
    if code == 2 and len(lines) == 1:
        return "exit 2, one line"
    return "other"


def run(argv, timeout):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
        return p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        return "timeout", f"still running after {timeout} s"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", default=str(ROOT / "target/debug/sqlite-backup-harness"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--run", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    sources = sorted((ROOT / "scenarios").glob("*.toml"))
    out = Path(args.out or tempfile.mkdtemp(prefix="mutated-scenarios-"))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mutants-"))
    tally = {"ok": 0, "exit 2, one line": 0, "other": 0}
    run_tally = {"ok": 0, "exit 2, one line": 0, "other": 0}
    others = []
    loaded = []
    for n in range(args.count):
        src = rng.choice(sources)
        text, what = mutate(src.read_text(), rng)
        # The name stays the scenario's: a mutant of wal-storm is still wal-storm.
        path = work / f"{n:03}" / src.name
        path.parent.mkdir()
        path.write_text(text)
        code, err = run([args.bin, "check", str(path)], args.timeout)
        outcome = classify(code, err, False)
        tally[outcome] += 1
        if outcome == "ok":
            loaded.append((n, src.name, what, path))
        if outcome == "other":
            keep = out / f"{n:03}-{src.name}"
            keep.write_text(text)
            others.append(f"check {n:03} {src.name}: {what}: exit {code}: {err.strip()[:300]}")
    for n, name, what, path in loaded[: args.run]:
        text = path.read_text()
        argv = [args.bin, "scenario", str(path), "--report-dir", str(work / "reports")]
        if 'mode = "crash-points"' in text:
            argv += ["--sample", "3"]
        else:
            argv += ["--iterations", "1"]
        code, err = run(argv, args.timeout)
        outcome = classify(code, err, True)
        run_tally[outcome] += 1
        if outcome == "other":
            keep = out / f"run-{n:03}-{name}"
            keep.write_text(text)
            others.append(f"run {n:03} {name}: {what}: exit {code}: {err.strip()[:300]}")
    print(f"{args.count} mutants of {len(sources)} scenarios (seed {args.seed}), `check`:")
    for k, v in tally.items():
        print(f"  {k}: {v}")
    if args.run:
        print(f"{min(args.run, len(loaded))} of the {len(loaded)} that load, run:")
        for k, v in run_tally.items():
            print(f"  {k}: {v}")
    for o in others:
        print(o)
    if others:
        print(f"kept in {out}")
    return 1 if others else 0


if __name__ == "__main__":
    sys.exit(main())
