"""The `sqlite_backup` package (PyPI): copies the database and its WAL to a temporary
directory (retrying while they change), then `Connection.backup` from the copy into the
destination. Defaults as documented.

Usage: sqlite_backup_tool.py TOOLS SRC DST. TOOLS is the install prefix of
ci/install-tools.sh (the scenario passes `{tools}`); the package is under TOOLS/python.
"""
import sys

sys.path.insert(0, sys.argv[1] + "/python")
from sqlite_backup import sqlite_backup  # noqa: E402

sqlite_backup(sys.argv[2], sys.argv[3])
