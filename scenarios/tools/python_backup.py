"""Python's sqlite3 `Connection.backup` as its documentation shows it.

Usage: python_backup.py PAGES SRC DST. PAGES is the `pages` argument (-1: all at once). The
module links the machine's libsqlite3 dynamically: process kills reach it, and with the
preload shim (`fault_vfs = "preload"`) our fault VFS too, unchanged.
"""
import sqlite3
import sys

pages, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
source = sqlite3.connect(src)
target = sqlite3.connect(dst)
with target:
    source.backup(target, pages=pages)
target.close()
source.close()
