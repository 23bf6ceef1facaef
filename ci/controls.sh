#!/usr/bin/env bash
# Runs the gate's negative controls N times (default 50) and counts how often each was
# caught: a gate that flakes is switched off by its users, so every control must be caught
# every time. Prints one line per control and exits 1 if any was missed.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
cargo build --release -q
bin=target/release/sqlite-backup-harness
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in $(seq 1 "$n"); do
  # The baseline judges the whole matrix; only the unit results matter here.
  "$bin" gate --config ci/controls.toml --json "$out/run-$i.json" >/dev/null 2>&1 || true
done
python3 - "$out" "$n" <<'PY'
import json, sys, glob, collections
out, n = sys.argv[1], int(sys.argv[2])
caught = collections.Counter()
for f in glob.glob(f"{out}/run-*.json"):
    for u in json.load(open(f))["run"]["units"]:
        key = f'{u["scenario"]}:{u["strategy"]}'
        caught[key] += u["result"] == "caught"
        caught.setdefault(key, 0)
missed = False
for key, c in sorted(caught.items()):
    print(f"{key}: caught {c}/{n}")
    missed |= c < n
for f in sorted(glob.glob(f"{out}/run-*.json")):
    for u in json.load(open(f))["run"]["units"]:
        if u["result"] != "caught":
            print(f'  missed in {f.rsplit("/", 1)[-1]}: {u["scenario"]}:{u["strategy"]} {u["result"]}: {"; ".join(u["why"])[:300]}')
sys.exit(1 if missed else 0)
PY
