#!/usr/bin/env bash
# Soak test: start a small storm scenario, SIGKILL its supervisor after a random delay (worker
# start-up included), and count what outlives it:
#   leaked processes  processes still running with our temp root in their command line (workers)
#   zombies           defunct processes of our binary that nobody reaps: orphans (their
#                     supervisor is gone) still defunct 15 s after the last iteration (init
#                     reaps orphans, some inits only every few seconds; those are counted
#                     apart, as "awaiting init")
#   leaked dirs       temp dirs left in our temp root once a final run has started and ended
#                     (a SIGKILLed supervisor cannot clean up: the next run removes its dirs)
# Prints the three totals; exits 1 if any is non-zero.
#
# Usage: ci/soak.sh [ITERATIONS (default 1000)] [MAX_DELAY_MS (default 400)]
# Uses $CARGO_TARGET_DIR when set. Not part of .ci/run (about 0.3 s per iteration).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: ci/soak.sh [ITERATIONS >= 1] [MAX_DELAY_MS >= 0]" >&2
  exit 2
}
n=${1:-1000}
max_delay=${2:-400}
[[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || usage
[[ "$max_delay" =~ ^[0-9]+$ && "$max_delay" -le 30000 ]] || usage
settle=0.2

cargo build --quiet --bin sqlite-backup-harness
target=${CARGO_TARGET_DIR:-target}
bin=$(realpath "$target/debug/sqlite-backup-harness")

work=$(mktemp -d)
root="$work/tmp"      # HARNESS_TMPDIR of every run: its path marks our workers
reports="$work/reports"
mkdir -p "$root" "$reports"
leaked_pids=()
cleanup() {
  for pid in "${leaked_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

scenario="$work/soak.toml"
cat >"$scenario" <<'EOF'
description = "soak: one writer, a tiny source; the supervisor is SIGKILLed at random points"
seed = 1
iterations = 4
watchdog_ms = 2000
budget_ms = 1500
[source]
pages = 50
[workload]
writers = 1
warmup_commits = 5
[checkpointer]
interval_ms = 20
[destination]
kinds = ["existing-delete", "fresh"]
[faults]
complete_fraction = 0.5
kinds = ["kill-after-event", "kill-dest-op"]
[[strategy]]
name = "api-step"
expect = "any"
npage = 10
EOF

# A regex for our temp root that does not match grep's own command line ("[/]..." there).
needle="[/]${root#/}"

# Pids of live processes whose command line mentions our temp root.
our_processes() {
  grep -l -a -s -E "$needle" /proc/[0-9]*/cmdline | cut -d/ -f3 || true
}

# Zombies of our binary (comm is cut to 15 bytes) whose parent is not a harness process (a
# running supervisor reaps its own; an orphan's zombie is init's to reap), as "pid:starttime".
orphan_zombies() {
  local f ppid start
  for f in $(grep -l -s -E '^[0-9]+ \(sqlite-backup-h\) Z ' /proc/[0-9]*/stat || true); do
    read -r ppid start < <(awk '{print $4, $22}' "$f" 2>/dev/null) || continue
    [[ -n "$ppid" ]] || continue
    [[ "$(cat "/proc/$ppid/comm" 2>/dev/null)" == sqlite-backup-h ]] && continue
    echo "$(cut -d/ -f3 <<<"$f"):$start"
  done
}

procs=0
declare -A zombie_seen=()
started=$SECONDS
for ((i = 1; i <= n; i++)); do
  HARNESS_TMPDIR="$root" "$bin" scenario "$scenario" --report-dir "$reports" >/dev/null 2>&1 &
  pid=$!
  delay=$((RANDOM % (max_delay + 1)))
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sleep "$settle"
  left=$(our_processes)
  if [[ -n "$left" ]]; then
    for p in $left; do
      echo "iteration $i (killed after ${delay} ms): leaked process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-160)" >&2
      leaked_pids+=("$p")
      procs=$((procs + 1))
      kill -KILL "$p" 2>/dev/null || true
    done
  fi
  for z in $(orphan_zombies); do zombie_seen[$z]=1; done
  if ((i % 100 == 0)); then
    echo "soak: $i/$n iterations, $((SECONDS - started)) s" >&2
  fi
done

# Zombies that init has not reaped within 15 s are leaked (pid and start time: not reused).
deadline=$((SECONDS + 15))
while :; do
  zombies=0
  for z in $(orphan_zombies); do
    [[ -n "${zombie_seen[$z]:-}" ]] && zombies=$((zombies + 1))
  done
  ((zombies == 0 || SECONDS >= deadline)) && break
  sleep 0.5
done

# One run to its end: it removes the dirs of every dead supervisor, then its own.
HARNESS_TMPDIR="$root" timeout 300 "$bin" scenario "$scenario" --iterations 1 \
  --report-dir "$reports" >/dev/null 2>&1 || true
dirs=$(find "$root" -mindepth 1 -maxdepth 1 | wc -l)
if [[ "$dirs" -gt 0 ]]; then
  find "$root" -mindepth 1 -maxdepth 1 >&2
fi

echo "soak: $n iterations (SIGKILL after 0-${max_delay} ms) in $((SECONDS - started)) s"
echo "leaked processes: $procs"
echo "zombies: $zombies (orphans seen defunct awaiting init: ${#zombie_seen[@]})"
echo "leaked dirs: $dirs"
if ((procs + zombies + dirs > 0)); then
  exit 1
fi
