#!/usr/bin/env bash
# Runs the end-to-end fixture (tests/fixtures/small-storm.toml) N times with the release
# binary and counts the runs in which a safe strategy violated or a control was not caught
# (exit code != 0). The fixture must catch every control every time.
#
# Usage: ci/e2e-repeat.sh [N (default 100)]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
[[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || { echo "usage: ci/e2e-repeat.sh [N >= 1]" >&2; exit 2; }
cargo build --release --quiet --bin sqlite-backup-harness
bin=target/release/sqlite-backup-harness
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
started=$SECONDS
for ((i = 1; i <= n; i++)); do
  if ! "$bin" scenario tests/fixtures/small-storm.toml --report-dir "$work" --json "$work/r.json" \
    >"$work/out.txt" 2>&1; then
    failed=$((failed + 1))
    echo "run $i failed:" >&2
    grep -E "NOT CAUGHT|VIOLATED|UNTESTED|LOST|error" "$work/out.txt" >&2 || tail -5 "$work/out.txt" >&2
  fi
  rm -rf "$work"/small-storm-*
done
echo "e2e: $n runs of the fixture in $((SECONDS - started)) s: $((n - failed)) caught every control, $failed failed"
((failed == 0))
