// better-sqlite3's `db.backup(destination)` as its documentation shows it. It bundles its own
// SQLite: only process kills reach it.
//
// Usage: node better_sqlite3_backup.js MODE SRC DST. MODE `default`: the library's own pace
// (100 pages a step, one step per event-loop turn); `all`: the progress callback asks for
// every page in one step. Finds the module under tools/node (ci/install-tools.sh).
'use strict';
const path = require('path');
const Database = require(path.join(__dirname, '..', '..', 'tools', 'node', 'node_modules', 'better-sqlite3'));

const [mode, src, dst] = process.argv.slice(2);
const db = new Database(src, { fileMustExist: true });
const options = mode === 'all' ? { progress: () => 0x7fffffff } : {};
db.backup(dst, options)
  .then(() => db.close())
  .catch((err) => {
    console.error(`backup failed: ${err.message}`);
    process.exit(1);
  });
