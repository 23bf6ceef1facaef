#!/usr/bin/env bash
# Mutation testing of the parts whose bugs would make the harness lie: the oracle
# (harness/src/oracle/) and the fault VFS's engine, power-cut model and I/O shim
# (vfs-faults/src/{engine,powercut}.rs, vfs-faults/src/ffi/io.rs). Installs cargo-mutants
# (pinned) when it is missing, runs it, and lists the survivors ("missed") and the mutants
# that time out. Survivors that are equivalent (no test can tell them apart from the original)
# are listed with the reason in ci/mutants-equivalent.txt and not counted.
#
# Also the parts whose one-line bugs would make a verdict wrong without the oracle noticing:
# the memory lane's proof (explore/lane_choice.rs), the stream receiver's durable commit
# (stream/receiver.rs, stream/replica_fs.rs) and the gate's own judgement (gate/judge.rs).
#
# Usage: ci/mutants.sh [oracle|vfs|trust|all (default)] [extra cargo-mutants args...]
# Not part of .ci/run: about 60-90 minutes on 2 cores for `all` (see ci/README.md).
# Exits 1 if an unexplained survivor remains.
set -euo pipefail
cd "$(dirname "$0")/.."

version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -q "$version"; then
  cargo install cargo-mutants --version "$version" --locked
fi

which=${1:-all}
shift || true
out=${MUTANTS_OUT:-target/mutants}
mkdir -p "$out"

run() { # NAME, then cargo-mutants args
  local name=$1
  shift
  echo "mutants: $name" >&2
  # Exit 2 = survivors: judged below, against the list of equivalent mutants.
  cargo mutants --no-shuffle --output "$out/$name" "$@" || [[ $? -eq 2 || $? -eq 3 ]]
}

case "$which" in
  vfs | all)
    # vfs-faults mutants are killed (or not) by vfs-faults' own tests.
    run vfs --package vfs-faults \
      -f vfs-faults/src/engine.rs -f vfs-faults/src/powercut.rs -f vfs-faults/src/ffi/io.rs \
      "$@"
    ;;&
  oracle | all)
    # The oracle is exercised by the library's unit tests and the oracle-level modules of the
    # integration-test binary (nextest selects them; the build is the same).
    run oracle --package sqlite-backup-harness -f 'harness/src/oracle/**' --test-tool=nextest \
      --cargo-arg=--lib --cargo-arg=--test=all --cargo-test-arg=-E \
      --cargo-test-arg='kind(lib) | test(/^(oracle|supervisor|app_invariants|power_cut_after_claim|stuck_backup)::/)' \
      "$@"
    ;;&
  trust | all)
    # Each file with the tests that reach it (built and run alone: --cargo-arg reaches the
    # build too): the gate's judgement and the receiver's commit have unit tests; the lane
    # choice's orchestration runs in tests/all/memory_lane.rs, the receiver's frames in
    # tests/all/stream.rs.
    run trust-units --package sqlite-backup-harness \
      -f harness/src/gate/judge.rs -f harness/src/stream/replica_fs.rs \
      --cargo-arg=--lib "$@"
    run trust-lane --package sqlite-backup-harness -f harness/src/explore/lane_choice.rs \
      --test-tool=nextest --cargo-arg=--lib --cargo-arg=--test=all \
      --cargo-test-arg=-E --cargo-test-arg='kind(lib) | test(/^memory_lane::/)' "$@"
    run trust-receiver --package sqlite-backup-harness -f harness/src/stream/receiver.rs \
      --test-tool=nextest --cargo-arg=--lib --cargo-arg=--test=all \
      --cargo-test-arg=-E --cargo-test-arg='kind(lib) | test(/^stream::/)' "$@"
    ;;&
  vfs | oracle | trust | all) ;;
  *)
    echo "usage: ci/mutants.sh [oracle|vfs|trust|all] [cargo-mutants args...]" >&2
    exit 2
    ;;
esac

# Survivors, minus the explained ones (one "file:line:col: description" per line in the list).
# A mutant that makes a test hang (cargo-mutants' timeout) did not pass: it is listed, not
# counted.
explained=ci/mutants-equivalent.txt
unexplained=0
for f in "$out"/*/mutants.out/timeout.txt; do
  [[ -f "$f" ]] || continue
  while IFS= read -r m; do
    [[ -n "$m" ]] && echo "hangs a test (caught by the timeout): $m"
  done <"$f"
done
for f in "$out"/*/mutants.out/missed.txt; do
  [[ -f "$f" ]] || continue
  while IFS= read -r m; do
    [[ -n "$m" ]] || continue
    if [[ -f "$explained" ]] && grep -qxF "$m" <(sed -e 's/ *#.*$//' "$explained"); then
      continue
    fi
    echo "unexplained: $m"
    unexplained=$((unexplained + 1))
  done <"$f"
done
echo "mutants: $unexplained unexplained survivors"
((unexplained == 0))
