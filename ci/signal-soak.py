#!/usr/bin/env python3
"""Every subcommand, stopped by SIGINT, SIGTERM and SIGHUP at seeded random times.

Usage: python3 ci/signal-soak.py [--tries 3] [--seed 1] [--max-delay-ms 2500] [--bin PATH]
                                 [--only NAME,...]

For each subcommand below, each stop signal and each try, the command starts with its own
HARNESS_TMPDIR, gets the signal after a delay drawn from the seed, and is judged:

  exit      128 + signal, or the command had already finished (counted apart, not a failure)
  stop      it exits within 2 s of the signal
  report    a command that writes a report wrote it, with `interrupted_by` naming the signal
  leaks     no process outlives it with its temp root in its command line, and its temp root
            is empty once it has exited

Prints one line per try that failed, a table per subcommand, and exits 1 on any failure.
About 4 minutes with the defaults (debug build). Not part of .ci/run.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
STOP_WITHIN_S = 2.0
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def commands(work):
    """(name, args, where its report is: 'dir' (one run folder under work/reports), 'json'
    (the --json file) or None) for every subcommand."""
    reports = str(work / "reports")
    out = str(work / "out.json")
    return [
        ("scenario storm", ["scenario", str(FIXTURES / "small-storm.toml"), "--iterations", "6",
                            "--report-dir", reports], "dir"),
        ("scenario crash-points", ["scenario", "crash-points", "--sample", "200",
                                   "--report-dir", reports], "dir"),
        ("scenario fuzz", ["scenario", "fuzz", "--iterations", "40", "--report-dir", reports],
         "dir"),
        ("replay storm", ["replay", "wal-storm:1:api-step:2", "--times", "40"], None),
        ("gate", ["gate", "--shard", "1/30", "--json", out], "gate-json"),
        ("bench restarts", ["bench", "restarts", "--quick", "--json", out,
                            "--report-dir", reports], "json"),
        ("bench restarts --deterministic", ["bench", "restarts", "--deterministic",
                                            "--json", out, "--report-dir", reports], "json"),
        ("bench digest", ["bench", "digest", "--json", out], "json"),
        ("bench vfs-overhead", ["bench", "vfs-overhead", "--json", out], "json"),
        ("bench crash-rate", ["bench", "crash-rate", "--seconds", "3", "--json", out], "json"),
        ("check", ["check", "wal-storm", "crash-points", "fuzz"], None),
        ("list", ["list"], None),
    ]


def our_processes(root):
    """Pids of live processes whose command line or environment mentions `root`."""
    needle = str(root).encode()
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        for f in ("cmdline", "environ"):
            try:
                if needle in (p / f).read_bytes():
                    stat = (p / "stat").read_text()
                    if stat.rsplit(")", 1)[1].split()[0] != "Z":
                        pids.append(int(p.name))
                    break
            except OSError:
                pass
    return pids


def report_problem(kind, work, sig):
    """What is wrong with the partial report of an interrupted run (None: nothing)."""
    name = signal.Signals(sig).name
    try:
        if kind == "dir":
            runs = list((work / "reports").iterdir())
            if len(runs) != 1:
                return f"{len(runs)} run folders"
            report = json.loads((runs[0] / "report.json").read_text())
        else:
            report = json.loads((work / "out.json").read_text())
            if kind == "gate-json":
                report = report["run"]
    except (OSError, ValueError, KeyError) as e:
        return f"no report: {e}"
    if report.get("interrupted_by") != name:
        return f"interrupted_by = {report.get('interrupted_by')!r}"
    return None


def one_try(binary, name, sig, delay_s):
    """(finished before the signal, seconds from signal to exit, problems) of one try."""
    with tempfile.TemporaryDirectory(prefix="signal-soak-") as w:
        work = Path(w)
        args, kind = next((c[1], c[2]) for c in commands(work) if c[0] == name)
        root = work / "tmp"
        root.mkdir()
        env = dict(os.environ, HARNESS_TMPDIR=str(root))
        env.pop("CI", None)
        child = subprocess.Popen([binary] + args, cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            child.wait(timeout=delay_s)
            finished_first = True
        except subprocess.TimeoutExpired:
            finished_first = False
        problems = []
        took = 0.0
        if not finished_first:
            sent = time.monotonic()
            child.send_signal(sig)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                problems.append("did not exit within 30 s")
            took = time.monotonic() - sent
            code = child.returncode
            if code != 128 + sig:
                # A signal that came as the command finished: its own exit code stands.
                if not (code in (0, 1) and took < 0.1):
                    problems.append(f"exit {code}, not {128 + sig}")
                else:
                    finished_first = True
            if took > STOP_WITHIN_S:
                problems.append(f"took {took:.2f} s to stop")
            if kind and not finished_first:
                p = report_problem(kind, work, sig)
                if p:
                    problems.append(p)
        stderr = child.stderr.read().decode(errors="replace")
        child.stderr.close()
        time.sleep(0.2)
        leaked = our_processes(root)
        for pid in leaked:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if leaked:
            problems.append(f"{len(leaked)} process(es) outlived it")
        left = list(root.iterdir())
        if left:
            problems.append(f"left {[p.name for p in left]}")
        if problems:
            last = stderr.strip().splitlines()[-1:] or [""]
            problems.append(f"stderr: {last[0][:200]}")
        return finished_first, took, problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-delay-ms", type=int, default=2500)
    ap.add_argument("--bin", default=str(ROOT / "target" / "debug" / "sqlite-backup-harness"))
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    if a.tries < 1 or a.max_delay_ms < 50:
        print("signal-soak: --tries >= 1 and --max-delay-ms >= 50", file=sys.stderr)
        return 2
    if not os.access(a.bin, os.X_OK):
        print(f"signal-soak: no harness binary at {a.bin} (cargo build first)", file=sys.stderr)
        return 2
    rng = random.Random(a.seed)
    only = {n.strip() for n in a.only.split(",") if n.strip()}
    failures = 0
    rows = []
    for name, _, _ in commands(Path("/unused")):
        if only and name not in only:
            continue
        stopped = finished = bad = 0
        worst = 0.0
        for sig in SIGNALS:
            for _ in range(a.tries):
                delay = rng.uniform(0.05, a.max_delay_ms / 1000)
                fin, took, problems = one_try(a.bin, name, sig, delay)
                worst = max(worst, took)
                if problems:
                    bad += 1
                    failures += 1
                    print(f"FAIL {name} {signal.Signals(sig).name} after {delay * 1000:.0f} ms: "
                          + "; ".join(problems))
                elif fin:
                    finished += 1
                else:
                    stopped += 1
        rows.append((name, stopped, finished, bad, worst))
    print(f"{'command':<32} {'stopped':>7} {'done first':>10} {'failed':>6} {'slowest stop':>12}")
    for name, stopped, finished, bad, worst in rows:
        print(f"{name:<32} {stopped:>7} {finished:>10} {bad:>6} {worst:>11.2f}s")
    print(f"signal-soak: {failures} failed tries (seed {a.seed}, {a.tries} per signal)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
