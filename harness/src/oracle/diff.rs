//! What a torn destination differs in: schema entries and, per table, row counts and contents,
//! compared with the closest allowed state.
//!
//! Why: "torn: digest X differs from S(k)" says that it differs, not how; a person debugging a
//! backup wants "table t1: 118 rows, S(40) has 120" or "index t1_r missing". The digest is a sum,
//! so it cannot say which row differs; a [`Profile`] keeps one sum and one count per table and
//! one hash per schema entry, enough to name the table and the counts.
//!
//! Bounded and cheap: a profile is one read of `sqlite_schema` plus one scan per table (the
//! pre-image's is taken with it, the destination's and the model's only when a destination is
//! torn), and a description names at most [`MAX_ITEMS`] differences.

use crate::digest::{self, quote_ident};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Differences a description names before "and N more".
pub const MAX_ITEMS: usize = 4;

/// A database's content in brief: each digested schema entry's hash, each table's row count
/// and row-hash sum (the same elements as the digest, grouped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// `(type, name)` → hash of the entry (its SQL included).
    pub schema: BTreeMap<(String, String), u128>,
    /// Table → (rows, sum of row hashes).
    pub tables: BTreeMap<String, (u64, u128)>,
}

/// The profile of what `conn` sees, without `sqlite_stat*` and the tables matching `ignore`
/// (as the digest leaves them out).
pub fn profile(conn: &Connection, ignore: &[String]) -> rusqlite::Result<Profile> {
    let mut p = Profile::default();
    let mut stmt = conn.prepare("SELECT type, name, tbl_name, sql FROM main.sqlite_schema")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (kind, name, tbl): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        if !digest::is_digested(&name) || digest::is_ignored(&tbl, ignore) {
            continue;
        }
        let sql: Option<String> = r.get(3)?;
        let h = digest::hash_schema_entry(&kind, &name, &tbl, sql.as_deref());
        if kind == "table" {
            p.tables.insert(name.clone(), (0, 0));
        }
        p.schema.insert((kind, name), h);
    }
    for (table, (n, sum)) in p.tables.iter_mut() {
        *sum = digest::table_sum(conn, table)?;
        *n = conn.query_row(
            &format!("SELECT count(*) FROM main.{}", quote_ident(table)),
            [],
            |r| r.get::<_, i64>(0),
        )? as u64;
    }
    Ok(p)
}

/// The differences of `got` from `want`, in words, most telling first: schema entries missing,
/// extra or changed, then tables whose rows differ.
#[cfg(test)]
fn differences(got: &Profile, want: &Profile) -> Vec<String> {
    weighed(got, want).into_iter().map(|(d, _)| d).collect()
}

/// [`differences`], each with a weight: the rows it accounts for at least (a table missing
/// or extra: its rows; a row count: the difference; other content or SQL: one).
fn weighed(got: &Profile, want: &Profile) -> Vec<(String, u64)> {
    let rows = |p: &Profile, kind: &str, name: &str| {
        if kind == "table" {
            p.tables.get(name).map_or(0, |(n, _)| *n)
        } else {
            0
        }
    };
    let mut out = Vec::new();
    for ((kind, name), h) in &want.schema {
        match got.schema.get(&(kind.clone(), name.clone())) {
            None => out.push((format!("{kind} {name} missing"), 1 + rows(want, kind, name))),
            Some(g) if g != h => out.push((format!("{kind} {name}: other SQL"), 1)),
            Some(_) => {}
        }
    }
    for (kind, name) in got.schema.keys() {
        if !want.schema.contains_key(&(kind.clone(), name.clone())) {
            out.push((format!("extra {kind} {name}"), 1 + rows(got, kind, name)));
        }
    }
    for (table, (n, sum)) in &got.tables {
        let Some((wn, wsum)) = want.tables.get(table) else {
            continue;
        };
        if n != wn {
            out.push((
                format!("table {table}: {n} rows, not {wn}"),
                n.abs_diff(*wn),
            ));
        } else if sum != wsum {
            out.push((format!("table {table}: {n} rows, some of them other"), 1));
        }
    }
    out
}

/// `got` described against the closest of `candidates` (a name and a profile each): the one
/// whose differences weigh least (see [`weighed`]), at most [`MAX_ITEMS`] of them named.
/// Empty without candidates.
pub fn describe(got: &Profile, candidates: &[(String, &Profile)]) -> String {
    let Some((name, diffs)) = candidates
        .iter()
        .map(|(name, p)| (name, weighed(got, p)))
        .min_by_key(|(_, d)| d.iter().map(|(_, w)| w).sum::<u64>())
    else {
        return String::new();
    };
    if diffs.is_empty() {
        return format!("; its tables and schema match {name} in counts and sums");
    }
    let more = diffs.len().saturating_sub(MAX_ITEMS);
    let named: Vec<&str> = diffs
        .iter()
        .take(MAX_ITEMS)
        .map(|(d, _)| d.as_str())
        .collect();
    let mut text = named.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    format!("; closest to {name}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(sql: &str) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(sql).unwrap();
        c
    }

    const BASE: &str = "CREATE TABLE t1(id INTEGER PRIMARY KEY, x);
                        CREATE TABLE t2(id INTEGER PRIMARY KEY, y);
                        INSERT INTO t1(x) VALUES (1),(2),(3); INSERT INTO t2(y) VALUES ('a');";

    #[test]
    fn a_profile_sums_to_the_digest() {
        let c = db(&format!("{BASE} CREATE INDEX i1 ON t1(x);"));
        let p = profile(&c, &[]).unwrap();
        let mut d = digest::Digest::EMPTY;
        p.schema.values().for_each(|h| d.add(*h));
        p.tables.values().for_each(|(_, s)| d.add(*s));
        assert_eq!(d, digest::digest_connection(&c).unwrap());
        assert_eq!(p.tables["t1"].0, 3);
    }

    #[test]
    fn differences_name_the_schema_entry_and_the_table() {
        let want = profile(&db(&format!("{BASE} CREATE INDEX i1 ON t1(x);")), &[]).unwrap();
        let got = profile(
            &db(&format!(
                "{BASE} DELETE FROM t1 WHERE id = 3; UPDATE t2 SET y = 'b'; CREATE TABLE t3(z);"
            )),
            &[],
        )
        .unwrap();
        assert_eq!(
            differences(&got, &want),
            [
                "index i1 missing",
                "extra table t3",
                "table t1: 2 rows, not 3",
                "table t2: 1 rows, some of them other"
            ]
        );
        assert!(differences(&want, &want).is_empty());
    }

    #[test]
    fn the_closest_candidate_is_described_and_bounded() {
        let s = profile(&db(BASE), &[]).unwrap();
        let d0 = profile(
            &db("CREATE TABLE a(x); CREATE TABLE b(x); CREATE TABLE c(x);"),
            &[],
        )
        .unwrap();
        let got = profile(&db(&format!("{BASE} INSERT INTO t2(y) VALUES ('z');")), &[]).unwrap();
        let text = describe(&got, &[("D0".into(), &d0), ("S(7)".into(), &s)]);
        assert_eq!(text, "; closest to S(7): table t2: 2 rows, not 1");
        let far = describe(&d0, &[("S(7)".into(), &s)]);
        assert_eq!(
            far,
            "; closest to S(7): table t1 missing, table t2 missing, extra table a, extra table b \
             and 1 more"
        );
        assert_eq!(describe(&got, &[]), "");
    }
}
