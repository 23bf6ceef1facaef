// better-sqlite3's `db.backup(destination)` as its documentation shows it. It bundles its own
// SQLite: only process kills reach it.
//
// Usage: node better_sqlite3_backup.js TOOLS MODE SRC DST. TOOLS is the install prefix of
// ci/install-tools.sh (the scenario passes `{tools}`). MODE `default`: the library's own pace
// (after a first, empty step: 100 pages a step, one step per event-loop turn); `all`: the
// progress callback, called after that first step, asks for every page in the next one.
'use strict';
const path = require('path');

const [tools, mode, src, dst] = process.argv.slice(2);
const Database = require(path.join(tools, 'node', 'node_modules', 'better-sqlite3'));
const db = new Database(src, { fileMustExist: true });
const options = mode === 'all' ? { progress: () => 0x7fffffff } : {};
db.backup(dst, options)
  .then(() => db.close())
  .catch((err) => {
    console.error(`backup failed: ${err.message}`);
    process.exit(1);
  });
