"""apsw's backup as its documentation shows it: `with dest.backup(...) as b: while not b.done:
b.step(N)`. apsw bundles its own SQLite (statically linked): only process kills reach it.

Usage: apsw_backup.py TOOLS PAGES SRC DST (PAGES: -1 = all at once). TOOLS is the install
prefix of ci/install-tools.sh (the scenario passes `{tools}`); apsw is under TOOLS/python.
"""
import sys

sys.path.insert(0, sys.argv[1] + "/python")
import apsw  # noqa: E402

pages, src, dst = int(sys.argv[2]), sys.argv[3], sys.argv[4]
source = apsw.Connection(src)
target = apsw.Connection(dst)
with target.backup("main", source, "main") as b:
    while not b.done:
        b.step(pages)
target.close()
source.close()
