#!/usr/bin/env bash
# Litestream (tools/bin/litestream, ci/install-tools.sh) as a one-shot backup: replicate the
# source once with a forced snapshot into a file replica beside the destination, then restore
# the replica over the destination (`restore -force -o`), as its documentation describes. Litestream adds its own
# tables to the source (`_litestream_seq`, `_litestream_lock`): the scenario leaves them out
# of the digest (`ignore_tables`). A Go binary with its own SQLite: only process kills reach it.
#
# Usage: litestream_backup.sh TOOLS SRC DST (TOOLS: the install prefix, `{tools}`)
set -euo pipefail
litestream=$1/bin/litestream
src=$2
dst=$3
replica="$dst.litestream-replica"   # in the iteration's directory: removed with it
rm -rf "$replica"
"$litestream" replicate -once -force-snapshot -log-level error "$src" "file://$replica"
# Its documented way to restore over an existing database: -force replaces the output
# database and its sidecar files.
"$litestream" restore -force -o "$dst" "file://$replica"
