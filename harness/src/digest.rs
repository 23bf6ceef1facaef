//! The logical digest: schema plus every row, type-sensitive, order-independent.
//!
//! `digest = Σ h(schema entry) + Σ h(row)` with wrapping 128-bit sums, so the order in which rows
//! are stored (or renumbered pages, or root pages chosen by `VACUUM INTO`) never matters, while any
//! change of a single value, row or schema entry changes the digest.
//!
//! Decisions:
//! * Schema entries are the rows of `sqlite_schema` as `(type, name, tbl_name, sql)`, *without*
//!   `rootpage`: backups and `VACUUM INTO` legitimately place tables on other pages.
//! * Objects named `sqlite_stat*` (written by `ANALYZE`) are excluded, schema entry and rows:
//!   they are statistics, not content, and a copy may legitimately lack or differ in them.
//!   Every other internal object (`sqlite_sequence`, `sqlite_autoindex_*`) is included: a
//!   faithful copy carries them over unchanged.
//! * The row hash covers the table name and every column in declared order (`SELECT *`), each
//!   with a type tag: `5` INTEGER and `5.0` REAL hash differently; REAL is hashed by its bits.
//! * The hash is a fixed-key 2×64-bit multiply/xorshift construction with a murmur3 finalizer,
//!   written here rather than std's `RandomState`/`DefaultHasher` (random keys, or not guaranteed
//!   stable across Rust releases): digests are compared across processes and stored in reports.
//!   Text and blob values (and names, SQL) longer than [`SHORT_BYTES`] enter it as their length
//!   and their xxh3-128 (`xxhash-rust`, seed 0: a specified, stable function) instead of word
//!   by word: most of the digest's time went into absorbing payload bytes (the digest
//!   within 1.5 × `PRAGMA quick_check`, measured by `bench digest`). `hashes_are_pinned` fixes
//!   the values; a digest of only short strings is what it was before xxh3.
//! * An empty database (or no file at all) has digest `0`.
//! * Tables matching an ignore pattern (`[workload] ignore_tables`, globs such as `app_*`) are
//!   left out, rows and schema entries (their indexes and triggers too), on both sides of a
//!   comparison: they belong to an application the model does not describe, and are judged
//!   by its own invariants instead.

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

/// Wrapping 128-bit sum of per-row and per-schema-entry hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Digest(pub u128);

impl Digest {
    /// The digest of an empty database.
    pub const EMPTY: Digest = Digest(0);

    /// Adds one element hash (a row or a schema entry).
    pub fn add(&mut self, h: u128) {
        self.0 = self.0.wrapping_add(h);
    }
    /// Removes one element hash.
    pub fn sub(&mut self, h: u128) {
        self.0 = self.0.wrapping_sub(h);
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Longest byte string absorbed word by word by [`Hasher128::bytes`]; a longer one enters as
/// its xxh3-128.
pub const SHORT_BYTES: usize = 16;

const M1: u64 = 0x9E37_79B9_7F4A_7C15;
const M2: u64 = 0xD6E8_FEB8_6659_FD93;

/// A fixed-key 128-bit streaming hash (two independent 64-bit lanes).
///
/// Each absorbed word goes through a bijection of the lane state, so equal-length inputs that
/// differ in one word never collide before finalization (a string longer than [`SHORT_BYTES`] is
/// absorbed as its xxh3-128, so two of those equal in length collide only if xxh3-128 does); the
/// murmur3 `fmix64` finalizer makes the outputs look uniform, which the additive digest needs.
#[derive(Clone)]
pub struct Hasher128 {
    a: u64,
    b: u64,
    n: u64,
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

impl Hasher128 {
    /// A hasher for one domain (rows and schema entries use different ones).
    pub fn new(domain: u64) -> Hasher128 {
        Hasher128 {
            a: 0x243F_6A88_85A3_08D3 ^ domain,
            b: 0x1319_8A2E_0370_7344 ^ domain.rotate_left(29),
            n: 0,
        }
    }

    #[inline]
    pub fn word(&mut self, w: u64) {
        self.a = (self.a ^ w).wrapping_mul(M1);
        self.a ^= self.a >> 32;
        self.b = (self.b ^ w.rotate_left(31) ^ 0xA076_1D64_78BD_642F).wrapping_mul(M2);
        self.b ^= self.b >> 29;
        self.n = self.n.wrapping_add(1);
    }

    /// Length-prefixed bytes (so concatenations are unambiguous). Up to [`SHORT_BYTES`] bytes
    /// are absorbed word by word; a longer string as its xxh3-128 (two words: seed 0, the
    /// default secret, so no per-call key schedule), several times faster than word by word
    /// on the blobs of a workload. The length comes first either way, so a short and a long
    /// string never feed the same words.
    pub fn bytes(&mut self, data: &[u8]) {
        self.word(data.len() as u64);
        if data.len() > SHORT_BYTES {
            let h = xxh3_128(data);
            self.word(h as u64);
            self.word((h >> 64) as u64);
            return;
        }
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(buf));
        }
    }

    /// One SQLite value with its type tag.
    pub fn value(&mut self, v: ValueRef<'_>) {
        match v {
            ValueRef::Null => self.word(0x4E55_4C4C),
            ValueRef::Integer(i) => {
                self.word(0x494E_5400);
                self.word(i as u64);
            }
            ValueRef::Real(f) => {
                self.word(0x5245_414C);
                self.word(f.to_bits());
            }
            ValueRef::Text(t) => {
                self.word(0x5445_5854);
                self.bytes(t);
            }
            ValueRef::Blob(b) => {
                self.word(0x424C_4F42);
                self.bytes(b);
            }
        }
    }

    pub fn finish(&self) -> u128 {
        let a = fmix64(self.a ^ self.n);
        let b = fmix64(self.b ^ self.n.rotate_left(32) ^ 0x5851_F42D_4C95_7F2D);
        ((a as u128) << 64) | b as u128
    }
}

const ROW_DOMAIN: u64 = 0x524F_5753;
const SCHEMA_DOMAIN: u64 = 0x5343_4845_4D41;

/// The row hasher of `table` with the table name already absorbed: a scan clones it per row
/// instead of hashing the name again.
fn row_prefix(table: &str) -> Hasher128 {
    let mut h = Hasher128::new(ROW_DOMAIN);
    h.bytes(table.as_bytes());
    h
}

/// Hash of one row of `table`, given its values in declared column order.
pub fn hash_values<'a>(table: &str, values: impl IntoIterator<Item = ValueRef<'a>>) -> u128 {
    let mut h = row_prefix(table);
    for v in values {
        h.value(v);
    }
    h.finish()
}

/// Hash of one row as returned by `SELECT * FROM table`.
pub fn hash_row(table: &str, row: &rusqlite::Row<'_>) -> rusqlite::Result<u128> {
    hash_row_from(&row_prefix(table), row.as_ref().column_count(), row)
}

/// [`hash_row`] from the table's [`row_prefix`], the row having `columns` columns.
fn hash_row_from(
    prefix: &Hasher128,
    columns: usize,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<u128> {
    let mut h = prefix.clone();
    for i in 0..columns {
        h.value(row.get_ref(i)?);
    }
    Ok(h.finish())
}

/// Hash of one `sqlite_schema` entry (root page excluded).
pub fn hash_schema_entry(kind: &str, name: &str, tbl_name: &str, sql: Option<&str>) -> u128 {
    let mut h = Hasher128::new(SCHEMA_DOMAIN);
    h.bytes(kind.as_bytes());
    h.bytes(name.as_bytes());
    h.bytes(tbl_name.as_bytes());
    match sql {
        Some(s) => h.bytes(s.as_bytes()),
        None => h.word(0x4E55_4C4C),
    }
    h.finish()
}

/// `"name"` with embedded quotes doubled: safe for any identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether a schema object takes part in the digest (see the module docs).
pub fn is_digested(name: &str) -> bool {
    !name.starts_with("sqlite_stat")
}

const SCHEMA_SQL: &str = "SELECT type, name, tbl_name, sql FROM main.sqlite_schema";

/// Whether table `name` matches one of the glob `patterns` (an invalid pattern matches only
/// itself, literally).
pub fn is_ignored(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match glob::Pattern::new(p) {
        Ok(g) => g.matches(name),
        Err(_) => p == name,
    })
}

/// Sum of the schema entries' hashes.
pub fn schema_sum(conn: &Connection) -> rusqlite::Result<u128> {
    schema_sum_ignoring(conn, &[])
}

/// [`schema_sum`] without the entries of tables matching `ignore`.
pub fn schema_sum_ignoring(conn: &Connection, ignore: &[String]) -> rusqlite::Result<u128> {
    Ok(schema_pass(conn, ignore)?.0)
}

/// The tables whose rows are digested.
pub fn digested_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    Ok(schema_pass(conn, &[])?.1)
}

/// One read of `sqlite_schema`: the sum of the digested entries' hashes (those of `sqlite_stat*`
/// and of tables matching `ignore` left out) and the tables whose rows are digested.
fn schema_pass(conn: &Connection, ignore: &[String]) -> rusqlite::Result<(u128, Vec<String>)> {
    let mut stmt = conn.prepare_cached(SCHEMA_SQL)?;
    let mut rows = stmt.query([])?;
    let (mut sum, mut tables) = (0u128, Vec::new());
    while let Some(r) = rows.next()? {
        let kind: String = r.get(0)?;
        let name: String = r.get(1)?;
        if !is_digested(&name) {
            continue;
        }
        let tbl: String = r.get(2)?;
        if is_ignored(&tbl, ignore) {
            continue;
        }
        let sql: Option<String> = r.get(3)?;
        sum = sum.wrapping_add(hash_schema_entry(&kind, &name, &tbl, sql.as_deref()));
        // A table's `tbl_name` is its own name: the ignore test above was the one on `name`.
        if kind == "table" {
            tables.push(name);
        }
    }
    Ok((sum, tables))
}

/// Sum of the row hashes of one table.
pub fn table_sum(conn: &Connection, table: &str) -> rusqlite::Result<u128> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM main.{}", quote_ident(table)))?;
    let columns = stmt.column_count();
    let prefix = row_prefix(table);
    let mut rows = stmt.query([])?;
    let mut sum = 0u128;
    while let Some(r) = rows.next()? {
        sum = sum.wrapping_add(hash_row_from(&prefix, columns, r)?);
    }
    Ok(sum)
}

/// Digest of everything `conn` can see (schema without root pages, and all rows).
pub fn digest_connection(conn: &rusqlite::Connection) -> rusqlite::Result<Digest> {
    digest_connection_ignoring(conn, &[])
}

/// [`digest_connection`] without the tables matching `ignore` (rows and schema entries).
pub fn digest_connection_ignoring(
    conn: &rusqlite::Connection,
    ignore: &[String],
) -> rusqlite::Result<Digest> {
    let (schema, tables) = schema_pass(conn, ignore)?;
    let mut d = Digest(schema);
    for t in tables {
        d.add(table_sum(conn, &t)?);
    }
    Ok(d)
}

#[cfg(test)]
#[path = "digest_tests.rs"]
mod tests;
