//! Application invariants: SQL queries that must return no rows, declared by a scenario
//! (`[app] invariants`), checked on the recovered source and on a destination the oracle
//! found to be a snapshot.
//!
//! Why its own module: the digest says "this is the source as of commit k"; an invariant says
//! "this state makes sense to the application". A backup can be a perfect snapshot of a state
//! the application should never have committed, and only the application's own rules see it.

use crate::workload::{LimitError, SqlLimit};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// One invariant: `sql` must return no rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invariant {
    pub name: String,
    pub sql: String,
}

/// The invariants `db` breaks, one line each: `every block a file references exists: 2 rows
/// (first: 17|000000000badf00d)`. A query that fails (a missing table, bad SQL, a statement
/// that would write: the connection is read-only) breaks its invariant too. An unopenable
/// file is one line. The oracle has already recovered the file (hot journal, WAL). A query
/// still running at `limit`'s deadline, or at a stop signal, is no verdict: `Err`.
pub fn broken(
    db: &Path,
    invariants: &[Invariant],
    limit: &SqlLimit<'_>,
) -> Result<Vec<String>, LimitError> {
    let conn = match Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(c) => c,
        Err(e) => return Ok(vec![format!("cannot open: {e}")]),
    };
    let _ = conn.busy_timeout(Duration::from_secs(5));
    let mut out = Vec::new();
    for inv in invariants {
        let key = format!("[app] invariant `{}`", inv.name);
        match limit.run(&conn, &key, || violating_rows(&conn, &inv.sql)) {
            Ok((0, _)) => {}
            Ok((n, first)) => out.push(format!("{}: {n} rows (first: {first})", inv.name)),
            Err(LimitError::Sqlite { source, .. }) => {
                out.push(format!("{}: query failed: {source}", inv.name))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// How many rows `sql` returns, and the first one as `a|b|c`.
fn violating_rows(conn: &Connection, sql: &str) -> rusqlite::Result<(u64, String)> {
    let mut stmt = conn.prepare(sql)?;
    let cols = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    let mut first = String::new();
    while let Some(r) = rows.next()? {
        if n == 0 {
            let vals: Vec<String> = (0..cols)
                .map(|i| r.get_ref(i).map_or_else(|_| "?".into(), show))
                .collect();
            first = vals.join("|");
        }
        n += 1;
    }
    Ok((n, first))
}

/// A value as SQL would print it (`NULL`, `17`, `abc`, `x'00ff'`), blobs cut at 16 bytes.
fn show(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => {
            let hex: String = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
            format!("x'{hex}'{}", if b.len() > 16 { "…" } else { "" })
        }
    }
}

/// What the invariants say about one iteration: every one the recovered source breaks
/// (`source: ...`) and, when the destination is a snapshot (`dest_is_snapshot`), every one
/// the destination breaks (`destination: ...`). An untouched or broken destination is judged
/// by the digest, not here. Empty: the invariants hold.
pub fn judge(
    source: &Path,
    dest: &Path,
    dest_is_snapshot: bool,
    invariants: &[Invariant],
    limit: &SqlLimit<'_>,
) -> Result<Vec<String>, LimitError> {
    let mut out: Vec<String> = broken(source, invariants, limit)?
        .into_iter()
        .map(|b| format!("source: {b}"))
        .collect();
    if dest_is_snapshot {
        out.extend(
            broken(dest, invariants, limit)?
                .into_iter()
                .map(|b| format!("destination: {b}")),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_break_an_invariant_and_no_rows_keep_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let c = Connection::open(&db).unwrap();
        c.execute_batch(
            "CREATE TABLE files(id, block); CREATE TABLE blocks(hash);
             INSERT INTO blocks VALUES('a'); INSERT INTO files VALUES(1, 'a');",
        )
        .unwrap();
        let inv = vec![Invariant {
            name: "every block a file references exists".into(),
            sql: "SELECT id, block FROM files WHERE block NOT IN (SELECT hash FROM blocks)".into(),
        }];
        assert!(broken(&db, &inv, &SqlLimit::none()).unwrap().is_empty());
        c.execute_batch("INSERT INTO files VALUES(2, 'zz')")
            .unwrap();
        let b = broken(&db, &inv, &SqlLimit::none()).unwrap();
        assert_eq!(b.len(), 1);
        assert!(
            b[0].starts_with("every block a file references exists: 1 rows"),
            "{b:?}"
        );
        assert!(b[0].ends_with("(first: 2|zz)"), "{b:?}");
        let bad = vec![Invariant {
            name: "x".into(),
            sql: "SELECT * FROM nowhere".into(),
        }];
        assert!(broken(&db, &bad, &SqlLimit::none()).unwrap()[0].contains("query failed"));
        // An "invariant" that writes changes nothing and breaks.
        let writes = vec![Invariant {
            name: "w".into(),
            sql: "DELETE FROM files".into(),
        }];
        assert!(broken(&db, &writes, &SqlLimit::none()).unwrap()[0].contains("query failed"));
        assert!(
            !broken(&db, &inv, &SqlLimit::none()).unwrap().is_empty(),
            "the rows are still there"
        );
    }

    /// The destination is judged only as a snapshot, and on its own: a clean source does not
    /// hide a snapshot of a state the application should never have committed.
    #[test]
    fn a_broken_snapshot_is_caught_even_when_the_source_is_clean() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str, dangling: bool| {
            let p = dir.path().join(name);
            let c = Connection::open(&p).unwrap();
            c.execute_batch(
                "CREATE TABLE files(id, block); CREATE TABLE blocks(hash);
                 INSERT INTO blocks VALUES('a'); INSERT INTO files VALUES(1, 'a');",
            )
            .unwrap();
            if dangling {
                c.execute_batch("INSERT INTO files VALUES(2, 'gone')")
                    .unwrap();
            }
            p
        };
        let src = make("src.db", false);
        let dst = make("dst.db", true);
        let inv = vec![Invariant {
            name: "blocks exist".into(),
            sql: "SELECT id FROM files WHERE block NOT IN (SELECT hash FROM blocks)".into(),
        }];
        let j = judge(&src, &dst, true, &inv, &SqlLimit::none()).unwrap();
        assert_eq!(
            j,
            vec!["destination: blocks exist: 1 rows (first: 2)".to_string()]
        );
        assert!(
            judge(&src, &dst, false, &inv, &SqlLimit::none())
                .unwrap()
                .is_empty(),
            "not a snapshot: not judged here"
        );
        let j = judge(&dst, &src, true, &inv, &SqlLimit::none()).unwrap();
        assert_eq!(
            j,
            vec!["source: blocks exist: 1 rows (first: 2)".to_string()]
        );
    }
}
