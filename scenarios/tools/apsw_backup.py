"""apsw's backup as its documentation shows it: `with dest.backup(...) as b: while not b.done:
b.step(N)`. apsw bundles its own SQLite (statically linked): only process kills reach it.

Usage: apsw_backup.py PAGES SRC DST (PAGES: -1 = all at once). Finds apsw under
`tools/python` (ci/install-tools.sh).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "python"))
import apsw  # noqa: E402

pages, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
source = apsw.Connection(src)
target = apsw.Connection(dst)
with target.backup("main", source, "main") as b:
    while not b.done:
        b.step(pages)
target.close()
source.close()
