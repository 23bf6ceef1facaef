//! Unit tests of the digest (`digest.rs`): pinned values, sensitivity to every byte, and a
//! plain reference implementation the fast one must agree with.

use super::*;

fn db(sql: &str) -> Connection {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(sql).unwrap();
    c
}

#[test]
fn empty_database_is_zero() {
    let c = Connection::open_in_memory().unwrap();
    assert_eq!(digest_connection(&c).unwrap(), Digest::EMPTY);
}

#[test]
fn type_sensitive() {
    let a = db("CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 5);");
    let b = db("CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 5.0);");
    let c = db("CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, '5');");
    let d = db("CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, x'35');");
    let ds: Vec<_> = [a, b, c, d]
        .iter()
        .map(|c| digest_connection(c).unwrap())
        .collect();
    for i in 0..ds.len() {
        for j in i + 1..ds.len() {
            assert_ne!(ds[i], ds[j], "{i} vs {j}");
        }
    }
}

#[test]
fn root_pages_and_stat_tables_do_not_matter() {
    let a = db("CREATE TABLE a(x); CREATE TABLE b(y); INSERT INTO b VALUES (1);");
    let b = db(
        "CREATE TABLE z(q); CREATE TABLE b(y); CREATE TABLE a(x); DROP TABLE z;
                INSERT INTO b VALUES (1); CREATE INDEX bi ON b(y); ANALYZE; DROP INDEX bi;",
    );
    assert_eq!(
        digest_connection(&a).unwrap(),
        digest_connection(&b).unwrap()
    );
}

#[test]
fn ignored_tables_leave_rows_and_schema_out() {
    let plain = db("CREATE TABLE t(a); INSERT INTO t VALUES(1);");
    let with_app = db("CREATE TABLE t(a); INSERT INTO t VALUES(1);
         CREATE TABLE app_files(p); CREATE INDEX app_i ON app_files(p);
         INSERT INTO app_files VALUES('x');");
    let ignore = vec!["app_*".to_string()];
    assert_eq!(
        digest_connection_ignoring(&with_app, &ignore).unwrap(),
        digest_connection(&plain).unwrap()
    );
    assert_ne!(
        digest_connection(&with_app).unwrap(),
        digest_connection(&plain).unwrap()
    );
    // Only what matches: `t` still counts.
    with_app.execute_batch("INSERT INTO t VALUES(2)").unwrap();
    assert_ne!(
        digest_connection_ignoring(&with_app, &ignore).unwrap(),
        digest_connection(&plain).unwrap()
    );
}

#[test]
fn quoting_is_safe() {
    let c = db(r#"CREATE TABLE "we""ird" (v); INSERT INTO "we""ird" VALUES (1);"#);
    assert_ne!(digest_connection(&c).unwrap(), Digest::EMPTY);
}

#[test]
fn hasher_is_stable() {
    // Pinned: digests are compared across processes and builds.
    let h = hash_values("t", [ValueRef::Integer(5), ValueRef::Real(5.0)]);
    assert_eq!(
        h,
        hash_values("t", [ValueRef::Integer(5), ValueRef::Real(5.0)])
    );
    assert_ne!(
        h,
        hash_values("t", [ValueRef::Real(5.0), ValueRef::Integer(5)])
    );
    assert_ne!(
        h,
        hash_values("u", [ValueRef::Integer(5), ValueRef::Real(5.0)])
    );
    assert_ne!(
        hash_values("t", [ValueRef::Text(b"ab"), ValueRef::Text(b"c")]),
        hash_values("t", [ValueRef::Text(b"a"), ValueRef::Text(b"bc")])
    );
}

mod props {
    use super::super::*;
    use proptest::prelude::*;
    use rusqlite::types::Value;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            (-10i64..10).prop_map(Value::Integer),
            any::<i64>().prop_map(Value::Integer),
            (-10i64..10).prop_map(|i| Value::Real(i as f64)),
            any::<f64>()
                .prop_filter("NaN is stored as NULL", |f| !f.is_nan())
                .prop_map(Value::Real),
            "[a-z5]{0,12}".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..12).prop_map(Value::Blob),
        ]
    }

    fn rows() -> impl Strategy<Value = Vec<(Value, Value)>> {
        proptest::collection::vec((value(), value()), 1..20)
    }

    fn build(rows: &[(Value, Value)], order: &[usize], index: bool) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, a, b);")
            .unwrap();
        if index {
            c.execute_batch("CREATE INDEX ta ON t(a);").unwrap();
        }
        for &i in order {
            let (a, b) = &rows[i];
            c.execute(
                "INSERT INTO t VALUES (?1, ?2, ?3)",
                rusqlite::params![i as i64, a, b],
            )
            .unwrap();
        }
        c
    }

    fn d(c: &Connection) -> Digest {
        digest_connection(c).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn order_independent(rows in rows(), shuffle in any::<u64>()) {
            let n = rows.len();
            let fwd: Vec<usize> = (0..n).collect();
            let mut perm = fwd.clone();
            let mut x = shuffle | 1;
            for i in (1..n).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                perm.swap(i, (x % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(d(&build(&rows, &fwd, false)), d(&build(&rows, &perm, false)));
        }

        #[test]
        fn any_change_is_seen(rows in rows(), pick in any::<usize>(), col in 0usize..2,
                              new in value()) {
            let n = rows.len();
            let all: Vec<usize> = (0..n).collect();
            let base = d(&build(&rows, &all, false));
            let i = pick % n;
            // One cell changes (value or type; SQLite compares 5 = 5.0, so compare as rows).
            let mut changed = rows.clone();
            if col == 0 { changed[i].0 = new.clone() } else { changed[i].1 = new.clone() }
            let ((a, b), (c, e)) = (&rows[i], &changed[i]);
            let same = format!("{a:?}{b:?}") == format!("{c:?}{e:?}");
            if !same {
                prop_assert_ne!(base, d(&build(&changed, &all, false)));
            }
            // A row less, a row more, a schema entry more.
            let fewer: Vec<usize> = all.iter().copied().filter(|&j| j != i).collect();
            prop_assert_ne!(base, d(&build(&rows, &fewer, false)));
            let mut more = rows.clone();
            more.push((new, Value::Null));
            let more_idx: Vec<usize> = (0..n + 1).collect();
            prop_assert_ne!(base, d(&build(&more, &more_idx, false)));
            prop_assert_ne!(base, d(&build(&rows, &all, true)));
        }
    }
}

/// The digest as the module docs define it, written plainly: owned values, one query per
/// table, its own copy of the encoding (type tags, length prefixes, the short/long split of
/// strings) and of the rules (`sqlite_stat*`, ignore globs matched on `tbl_name`). Only the
/// mixing primitives (`Hasher128::{new, word, finish}`, xxh3-128) are shared; they are pinned
/// by `hashes_are_pinned`. The fast paths (one schema pass, the row prefix cloned per row,
/// column reads) must agree with it on any database.
mod reference {
    use super::super::{Digest, Hasher128};
    use rusqlite::types::Value;
    use rusqlite::Connection;

    fn bytes(h: &mut Hasher128, b: &[u8]) {
        h.word(b.len() as u64);
        if b.len() <= 16 {
            for c in b.chunks(8) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                h.word(u64::from_le_bytes(w));
            }
        } else {
            let x = xxhash_rust::xxh3::xxh3_128(b);
            h.word(x as u64);
            h.word((x >> 64) as u64);
        }
    }

    fn value(h: &mut Hasher128, v: &Value) {
        match v {
            Value::Null => h.word(0x4E55_4C4C),
            Value::Integer(i) => {
                h.word(0x494E_5400);
                h.word(*i as u64);
            }
            Value::Real(f) => {
                h.word(0x5245_414C);
                h.word(f.to_bits());
            }
            Value::Text(t) => {
                h.word(0x5445_5854);
                bytes(h, t.as_bytes());
            }
            Value::Blob(b) => {
                h.word(0x424C_4F42);
                bytes(h, b);
            }
        }
    }

    pub fn row(table: &str, values: &[Value]) -> u128 {
        let mut h = Hasher128::new(0x524F_5753);
        bytes(&mut h, table.as_bytes());
        for v in values {
            value(&mut h, v);
        }
        h.finish()
    }

    fn schema_entry(kind: &str, name: &str, tbl: &str, sql: Option<&str>) -> u128 {
        let mut h = Hasher128::new(0x5343_4845_4D41);
        bytes(&mut h, kind.as_bytes());
        bytes(&mut h, name.as_bytes());
        bytes(&mut h, tbl.as_bytes());
        match sql {
            Some(s) => bytes(&mut h, s.as_bytes()),
            None => h.word(0x4E55_4C4C),
        }
        h.finish()
    }

    fn ignored(tbl: &str, ignore: &[String]) -> bool {
        ignore.iter().any(|p| match glob::Pattern::new(p) {
            Ok(g) => g.matches(tbl),
            Err(_) => p == tbl,
        })
    }

    /// Every row of `table`, as owned values in declared column order.
    pub fn rows(c: &Connection, table: &str) -> Vec<Vec<Value>> {
        let sql = format!("SELECT * FROM \"{}\"", table.replace('"', "\"\""));
        let mut st = c.prepare(&sql).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    pub fn digest(c: &Connection, ignore: &[String]) -> Digest {
        let mut st = c
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema")
            .unwrap();
        let entries: Vec<(String, String, String, Option<String>)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut d = Digest::EMPTY;
        for (kind, name, tbl, sql) in entries {
            if name.starts_with("sqlite_stat") || ignored(&tbl, ignore) {
                continue;
            }
            d.add(schema_entry(&kind, &name, &tbl, sql.as_deref()));
            if kind == "table" {
                for r in rows(c, &name) {
                    d.add(row(&name, &r));
                }
            }
        }
        d
    }
}

/// Any change of the encoding, the mixing or the xxh3 version shows here first: digests are
/// compared across processes and builds (nothing stores one today; if something ever does,
/// a change of these values means a migration).
#[test]
fn hashes_are_pinned() {
    let long = vec![0xA5u8; 5000];
    let cases: [(u128, u128); 4] = [
        (
            hash_values(
                "t",
                [
                    ValueRef::Null,
                    ValueRef::Integer(-5),
                    ValueRef::Real(0.5),
                    ValueRef::Text(b"sixteen bytes!!!"),
                ],
            ),
            PIN_SHORT,
        ),
        (
            hash_values(
                "t0",
                [ValueRef::Text(b"seventeen bytes!!"), ValueRef::Blob(&long)],
            ),
            PIN_LONG,
        ),
        (
            hash_schema_entry("table", "t", "t", Some("CREATE TABLE t(a)")),
            PIN_SCHEMA,
        ),
        (hash_schema_entry("index", "i", "t", None), PIN_SCHEMA_NULL),
    ];
    for (i, (got, want)) in cases.iter().enumerate() {
        assert_eq!(*got, *want, "case {i}: {got:#x}");
    }
}
const PIN_SHORT: u128 = 0xe98e_8bb4_5a39_e4b8_1623_497b_37c3_3c2d;
const PIN_LONG: u128 = 0x4a95_754d_4a26_a082_9e09_a9f4_4c4a_1fb9;
const PIN_SCHEMA: u128 = 0x10fd_63f4_e083_be0e_2500_cce2_6f41_a55a;
const PIN_SCHEMA_NULL: u128 = 0xc470_2242_6a73_348f_cbaf_eaca_64ff_261e;

/// Every byte of a string counts, at every length around the short/long split and beyond a
/// page (an overflow chain), and a string never hashes like a longer one padded with zeros.
#[test]
fn every_byte_counts() {
    for len in [
        0usize, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 240, 241, 5000,
    ] {
        let base: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
        let h = hash_values("t", [ValueRef::Blob(&base)]);
        assert_ne!(h, hash_values("t", [ValueRef::Text(&base)]), "len {len}");
        let mut longer = base.clone();
        longer.push(0);
        assert_ne!(h, hash_values("t", [ValueRef::Blob(&longer)]), "len {len}");
        for i in 0..len {
            let mut b = base.clone();
            b[i] ^= 1;
            assert_ne!(
                h,
                hash_values("t", [ValueRef::Blob(&b)]),
                "len {len} byte {i}"
            );
        }
    }
}

mod against_reference {
    use super::super::*;
    use super::reference;
    use proptest::prelude::*;
    use rusqlite::types::Value;

    fn text(n: usize, seed: u64) -> String {
        let alphabet = ['a', 'z', '5', 'é', '"', ' ', '\u{1F600}'];
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                alphabet[(x % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            (-3i64..3).prop_map(Value::Integer),
            any::<i64>().prop_map(Value::Integer),
            (-3i64..3).prop_map(|i| Value::Real(i as f64)),
            any::<f64>()
                .prop_filter("NaN is stored as NULL", |f| !f.is_nan())
                .prop_map(Value::Real),
            (0usize..40, any::<u64>()).prop_map(|(n, s)| Value::Text(text(n, s))),
            (0usize..6000, any::<u64>()).prop_map(|(n, s)| Value::Text(text(n, s))),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Blob),
            (0usize..6000, any::<u8>()).prop_map(|(n, b)| Value::Blob(vec![b; n])),
        ]
    }

    /// Up to three tables (names that need quoting, one an app table), each with its own
    /// columns (an INTEGER PRIMARY KEY or not) and rows.
    #[derive(Debug, Clone)]
    struct Db {
        tables: Vec<(String, bool, usize, Vec<Vec<Value>>)>,
        index: bool,
        analyze: bool,
        ignore: Vec<String>,
    }

    fn db() -> impl Strategy<Value = Db> {
        let names = vec!["t", "app_x", "we\"ird", "a b", "T2"];
        let table = (any::<bool>(), 1usize..5).prop_flat_map(|(pk, cols)| {
            proptest::collection::vec(proptest::collection::vec(value(), cols), 0..8)
                .prop_map(move |rows| (pk, cols, rows))
        });
        (
            proptest::sample::subsequence(names, 1..=3),
            proptest::collection::vec(table, 3),
            any::<bool>(),
            any::<bool>(),
            proptest::sample::select(vec![
                vec![],
                vec!["app_*".to_string()],
                vec!["t".to_string(), "a?b".to_string()],
                vec!["[".to_string()],
            ]),
        )
            .prop_map(|(names, tables, index, analyze, ignore)| Db {
                tables: names
                    .into_iter()
                    .zip(tables)
                    .map(|(n, (pk, cols, rows))| (n.to_string(), pk, cols, rows))
                    .collect(),
                index,
                analyze,
                ignore,
            })
    }

    fn build(spec: &Db) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        for (name, pk, cols, rows) in &spec.tables {
            let q = quote_ident(name);
            let mut decl: Vec<String> = (0..*cols).map(|i| format!("c{i}")).collect();
            if *pk {
                decl[0] = "c0 INTEGER PRIMARY KEY".into();
            }
            c.execute_batch(&format!("CREATE TABLE {q}({})", decl.join(", ")))
                .unwrap();
            let marks: Vec<String> = (1..=*cols).map(|i| format!("?{i}")).collect();
            let sql = format!("INSERT INTO {q} VALUES ({})", marks.join(", "));
            for (j, row) in rows.iter().enumerate() {
                let mut row = row.clone();
                if *pk {
                    row[0] = Value::Integer(j as i64);
                }
                c.execute(&sql, rusqlite::params_from_iter(row.iter()))
                    .unwrap();
            }
            if spec.index {
                c.execute_batch(&format!(
                    "CREATE INDEX {} ON {q}(c0)",
                    quote_ident(&format!("i {name}"))
                ))
                .unwrap();
            }
        }
        if spec.analyze {
            c.execute_batch("ANALYZE").unwrap();
        }
        c
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn digest_matches_reference(spec in db()) {
            let c = build(&spec);
            prop_assert_eq!(
                digest_connection_ignoring(&c, &spec.ignore).unwrap(),
                reference::digest(&c, &spec.ignore)
            );
            prop_assert_eq!(digest_connection(&c).unwrap(), reference::digest(&c, &[]));
            // The model's paths: one table's sum, one row by its rowid.
            for (name, ..) in &spec.tables {
                let rows = reference::rows(&c, name);
                let want = rows
                    .iter()
                    .fold(0u128, |s, r| s.wrapping_add(reference::row(name, r)));
                prop_assert_eq!(table_sum(&c, name).unwrap(), want);
                let sql = format!("SELECT * FROM {} ORDER BY rowid", quote_ident(name));
                let mut st = c.prepare(&sql).unwrap();
                let mut it = st.query([]).unwrap();
                let mut i = 0;
                while let Some(r) = it.next().unwrap() {
                    prop_assert_eq!(hash_row(name, r).unwrap(), reference::row(name, &rows[i]));
                    i += 1;
                }
            }
        }
    }
}
