#!/usr/bin/env bash
# Pairs of runs started in the same second with one --report-dir: every run must keep its own
# report (one run folder each, with its report.json, and the `report:` line it printed naming
# it). Prints the count of folders and reports; exits 1 unless it is 2 per pair.
#
# Usage: ci/report-dir-pairs.sh [PAIRS (default 20)]
# Uses $CARGO_TARGET_DIR when set. Not part of .ci/run (about 1 s per pair).
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-20}
[[ "$pairs" =~ ^[0-9]+$ && "$pairs" -ge 1 ]] || {
  echo "usage: ci/report-dir-pairs.sh [PAIRS >= 1]" >&2
  exit 2
}
cargo build --quiet --bin sqlite-backup-harness
bin=$(realpath "${CARGO_TARGET_DIR:-target}/debug/sqlite-backup-harness")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
reports="$work/reports"
for i in $(seq 1 "$pairs"); do
  for j in 1 2; do
    "$bin" scenario tests/fixtures/small-storm.toml --iterations 1 --strategies api-oneshot \
      --report-dir "$reports" >"$work/out-$i-$j" 2>/dev/null &
  done
  wait
done
folders=$(find "$reports" -mindepth 1 -maxdepth 1 -type d | wc -l)
jsons=$(find "$reports" -mindepth 2 -maxdepth 2 -name report.json | wc -l)
printed=$(cat "$work"/out-* | grep -c '^report: ' || true)
distinct=$(cat "$work"/out-* | grep '^report: ' | sort -u | wc -l)
echo "report-dir-pairs: $pairs pairs: $folders run folders, $jsons report.json, $printed report lines ($distinct distinct)"
want=$((2 * pairs))
[[ $folders -eq $want && $jsons -eq $want && $distinct -eq $want ]]
