"""The `sqlite_backup` package (PyPI): copies the database and its WAL to a temporary
directory (retrying while they change), then `Connection.backup` from the copy into the
destination. Defaults as documented.

Usage: sqlite_backup_tool.py SRC DST. Finds the package under `tools/python`.
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "python"))
from sqlite_backup import sqlite_backup  # noqa: E402

sqlite_backup(sys.argv[1], sys.argv[2])
