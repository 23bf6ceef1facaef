#!/usr/bin/env bash
# Litestream (tools/bin/litestream, ci/install-tools.sh) as a one-shot backup: replicate the
# source once with a forced snapshot into a file replica beside the destination, then restore
# the replica into the destination, as its documentation describes. Litestream adds its own
# tables to the source (`_litestream_seq`, `_litestream_lock`): the scenario leaves them out
# of the digest (`ignore_tables`). A Go binary with its own SQLite: only process kills reach it.
#
# Usage: litestream_backup.sh SRC DST
set -euo pipefail
src=$1
dst=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
litestream=${HARNESS_TOOLS:-$here/tools}/bin/litestream
replica="$dst.litestream-replica"   # in the iteration's directory: removed with it
rm -rf "$replica"
"$litestream" replicate -once -force-snapshot -log-level error "$src" "file://$replica"
# Restore beside the destination, then rename it over the destination: the destination is
# never half-written by the restore itself.
rm -f "$dst.restoring"
"$litestream" restore -o "$dst.restoring" "file://$replica"
mv -f "$dst.restoring" "$dst"
