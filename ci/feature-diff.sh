#!/usr/bin/env bash
# Lists the dependencies whose features differ between `cargo build` and `cargo test` /
# `cargo bench` (dev-dependencies turn features on). Each difference makes the test command
# rebuild that crate and everything above it after the build command. Must print nothing but
# "0 differences"; fix a difference by enabling the feature in a normal dependency
# (see the comment above `regex-automata` in Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
tree() { cargo tree --workspace --format "{p} [{f}]" -e "$1" --prefix none 2>/dev/null | sort -u; }
python3 - <(tree normal,build) <(tree normal,build,dev) <<'PY'
import re, sys
def load(p):
    d = {}
    for line in open(p):
        m = re.match(r'(\S+ v\S+)(?: \(.*?\))? \[(.*)\]$', line.strip())
        if m:
            d.setdefault(m.group(1), set()).update(f for f in m.group(2).split(',') if f)
    return d
build, test = load(sys.argv[1]), load(sys.argv[2])
diffs = [k for k in sorted(build) if k in test and build[k] != test[k]]
for k in diffs:
    print(f"{k}: build [{','.join(sorted(build[k]))}] test [{','.join(sorted(test[k]))}]")
print(f"{len(diffs)} differences")
sys.exit(1 if diffs else 0)
PY
