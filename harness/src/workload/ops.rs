//! The transaction generator: `ops(spec, k)`, a pure function of the spec and `k`.
//!
//! Why pure: writers are separate processes and any of them may commit any `k`; the model replays
//! the same function to know `S(k)` without logging anything.
//!
//! Shape of the data:
//! * Base tables `t0`, `t1`, `t2` (`id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB`),
//!   an index on `t1(r)`, and `meta(id = 1, seq)`. Initial row `j` (1-based) lives in `t{j % 3}`
//!   with `id = j`.
//! * Transaction `k` inserts rows with `id = insert_id(k, i)`, unique across all `k`, and updates
//!   or deletes ids that may exist: an initial id, or an id inserted by a recent transaction
//!   `k' < k` (found by re-deriving `k'`'s cheap *plan*, not its values). A miss is a no-op.
//! * DDL (when `spec.ddl`): transaction `k` with `k % DDL_PERIOD == 0` first runs DDL event
//!   `e = k / DDL_PERIOD`. Events rotate over four extra tables `x0..x3`; each table goes through
//!   create → create index → `ADD COLUMN extra REAL DEFAULT 0.5` → drop, so the schema stays
//!   bounded. Which extra tables exist at `k` follows from `k` alone ([`extras_at`]).

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::types::Value;

use super::WorkloadSpec;

/// Commits between DDL events.
pub const DDL_PERIOD: u64 = 64;
/// Number of rotating extra tables.
pub const EXTRA_SLOTS: usize = 4;
/// The base tables.
pub const BASE_TABLES: [&str; 3] = ["t0", "t1", "t2"];
pub const EXTRA_TABLES: [&str; EXTRA_SLOTS] = ["x0", "x1", "x2", "x3"];
/// How far back updates and deletes look for rows to hit.
const RECENT_WINDOW: u64 = 2000;
/// Most operations one transaction may have (ids of a transaction are `k * 1024 + i`).
pub const MAX_OPS: u32 = 1000;
/// Rough bytes per initial row, to aim updates/deletes at initial ids that probably exist.
const INITIAL_ROW_BYTES_ESTIMATE: u64 = 1100;

/// The schema of `S(0)` (created by `setup`).
pub const BASE_SCHEMA: &str = "
CREATE TABLE meta(id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
CREATE TABLE t0(id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB);
CREATE TABLE t1(id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB);
CREATE TABLE t2(id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB);
CREATE INDEX t1_r ON t1(r);
INSERT INTO meta(id, seq) VALUES (1, 0);
";

/// What a DDL statement changes, for the model's incremental digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Ddl {
    pub sql: String,
    /// The table whose rows or schema entries change.
    pub table: &'static str,
}

/// One statement of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Ddl(Ddl),
    /// `values[0]` is the id; columns `id, n, r, s, b` and `extra` when present.
    Insert {
        table: &'static str,
        values: Vec<Value>,
    },
    /// Sets `n, r, s, b` (`full`) or only `n` of row `id`.
    Update {
        table: &'static str,
        id: i64,
        values: Vec<Value>,
    },
    Delete {
        table: &'static str,
        id: i64,
    },
}

impl Op {
    /// The table the statement touches.
    pub fn table(&self) -> &'static str {
        match self {
            Op::Ddl(d) => d.table,
            Op::Insert { table, .. } | Op::Update { table, .. } | Op::Delete { table, .. } => table,
        }
    }

    /// The row id a DML statement touches.
    pub fn row_id(&self) -> Option<i64> {
        match self {
            Op::Ddl(_) => None,
            Op::Insert { values, .. } => match values[0] {
                Value::Integer(i) => Some(i),
                _ => None,
            },
            Op::Update { id, .. } | Op::Delete { id, .. } => Some(*id),
        }
    }

    /// SQL text (stable per shape, so `prepare_cached` hits) and its parameters.
    pub fn sql(&self) -> (String, Vec<Value>) {
        match self {
            Op::Ddl(d) => (d.sql.clone(), Vec::new()),
            Op::Insert { table, values } => {
                let cols = if values.len() == 6 {
                    "id, n, r, s, b, extra"
                } else {
                    "id, n, r, s, b"
                };
                let marks = (1..=values.len())
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    format!("INSERT INTO {table}({cols}) VALUES ({marks})"),
                    values.clone(),
                )
            }
            Op::Update { table, id, values } => {
                let mut params = vec![Value::Integer(*id)];
                params.extend(values.iter().cloned());
                let sql = if values.len() == 4 {
                    format!("UPDATE {table} SET n = ?2, r = ?3, s = ?4, b = ?5 WHERE id = ?1")
                } else {
                    format!("UPDATE {table} SET n = ?2 WHERE id = ?1")
                };
                (sql, params)
            }
            Op::Delete { table, id } => (
                format!("DELETE FROM {table} WHERE id = ?1"),
                vec![Value::Integer(*id)],
            ),
        }
    }
}

/// State of one extra table at some `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extra {
    pub indexed: bool,
    /// Has the `extra REAL DEFAULT 0.5` column.
    pub extra_col: bool,
}

/// Slot and step (0 create, 1 index, 2 add column, 3 drop) of DDL event `e >= 1`.
fn event(e: u64) -> (usize, u64) {
    let j = e - 1;
    (
        (j % EXTRA_SLOTS as u64) as usize,
        (j / EXTRA_SLOTS as u64) % 4,
    )
}

/// What an extra table looks like after step `step` (0..=3) of its DDL cycle: created,
/// indexed, with the added column, dropped.
fn extra_after_step(step: u64) -> Option<Extra> {
    match step {
        0 => Some(Extra {
            indexed: false,
            extra_col: false,
        }),
        1 => Some(Extra {
            indexed: true,
            extra_col: false,
        }),
        2 => Some(Extra {
            indexed: true,
            extra_col: true,
        }),
        _ => None,
    }
}

/// The extra tables as seen by the DML of transaction `k` (after its own DDL, if any).
pub fn extras_at(spec: &WorkloadSpec, k: u64) -> [Option<Extra>; EXTRA_SLOTS] {
    let mut out = [None; EXTRA_SLOTS];
    if !spec.ddl {
        return out;
    }
    let last = k / DDL_PERIOD;
    for (slot, o) in out.iter_mut().enumerate() {
        // Events of this slot are e = 4 r + slot + 1.
        if last < slot as u64 + 1 {
            continue;
        }
        let r = (last - slot as u64 - 1) / EXTRA_SLOTS as u64;
        *o = extra_after_step(r % 4);
    }
    out
}

fn ddl_event(e: u64) -> Ddl {
    let (slot, step) = event(e);
    let t = EXTRA_TABLES[slot];
    let sql = match step {
        0 => format!("CREATE TABLE {t}(id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB)"),
        1 => format!("CREATE INDEX {t}_n ON {t}(n)"),
        2 => format!("ALTER TABLE {t} ADD COLUMN extra REAL DEFAULT 0.5"),
        _ => format!("DROP TABLE {t}"),
    };
    Ddl { sql, table: t }
}

/// A table DML can use at `k`, and whether it has the extra column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TableRef {
    name: &'static str,
    extra_col: bool,
}

fn tables_at(spec: &WorkloadSpec, k: u64) -> Vec<TableRef> {
    let mut v: Vec<TableRef> = BASE_TABLES
        .iter()
        .map(|&name| TableRef {
            name,
            extra_col: false,
        })
        .collect();
    for (slot, e) in extras_at(spec, k).iter().enumerate() {
        if let Some(e) = e {
            v.push(TableRef {
                name: EXTRA_TABLES[slot],
                extra_col: e.extra_col,
            });
        }
    }
    v
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Insert,
    Update,
    Delete,
}

/// The cheap part of transaction `k`: how many DML ops, which kind, which table.
fn plan(spec: &WorkloadSpec, k: u64) -> Vec<(Kind, TableRef)> {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(spec.seed, k, 0x504C_414E));
    let lo = spec.ops_min.min(MAX_OPS);
    let hi = spec.ops_max.clamp(lo, MAX_OPS);
    let n = rng.random_range(lo..=hi);
    let tables = tables_at(spec, k);
    (0..n)
        .map(|_| {
            let roll = rng.random_range(0..100u32);
            let kind = if roll < 40 {
                Kind::Insert
            } else if roll < 72 {
                Kind::Update
            } else {
                Kind::Delete
            };
            (kind, tables[rng.random_range(0..tables.len())])
        })
        .collect()
}

/// Seed for one stream of transaction `k`.
fn mix(seed: u64, k: u64, stream: u64) -> u64 {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(k.wrapping_add(1));
    x ^= stream.rotate_left(40);
    x = (x ^ (x >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// Id of the `i`-th operation's insert in transaction `k`.
pub fn insert_id(k: u64, i: u32) -> i64 {
    ((1u64 << 40) + k * 1024 + i as u64) as i64
}

/// The `n INTEGER`, `r REAL`, `s TEXT`, `b BLOB` values of a row (plus `extra REAL`).
pub(crate) fn gen_values(rng: &mut ChaCha8Rng, spec: &WorkloadSpec, extra: bool) -> Vec<Value> {
    let page = spec.page_size.max(512) as usize;
    let max = spec.max_row_bytes.max(16);
    let class = rng.random_range(0..100u32);
    let total = if class < 70 {
        rng.random_range(0..200usize.min(max))
    } else if class < 95 || max <= page {
        rng.random_range(0..page.min(max))
    } else {
        rng.random_range(page..=max)
    };
    let text_len = rng.random_range(0..=total);
    let blob_len = total - text_len;
    let n = match rng.random_range(0..10u32) {
        0 => Value::Null,
        1..=4 => Value::Integer(rng.random_range(-100..100i64)),
        _ => Value::Integer(rng.next_u64() as i64),
    };
    let real = |rng: &mut ChaCha8Rng| match rng.random_range(0..10u32) {
        0 => Value::Null,
        1..=3 => Value::Real(rng.random_range(-1000..1000i32) as f64),
        _ => Value::Real(rng.random::<f64>() * 1e6 - 5e5),
    };
    let r = real(rng);
    let s = if rng.random_range(0..20u32) == 0 {
        Value::Null
    } else {
        let mut buf = vec![0u8; text_len];
        rng.fill_bytes(&mut buf);
        Value::Text(buf.iter().map(|&c| (b'a' + c % 26) as char).collect())
    };
    let b = if rng.random_range(0..20u32) == 0 {
        Value::Null
    } else {
        let mut buf = vec![0u8; blob_len];
        rng.fill_bytes(&mut buf);
        Value::Blob(buf)
    };
    let mut v = vec![n, r, s, b];
    if extra {
        v.push(real(rng));
    }
    v
}

/// The statements of transaction `k` (`k >= 1`), without the `meta` update.
pub fn ops(spec: &WorkloadSpec, k: u64) -> Vec<Op> {
    let mut out = Vec::new();
    if spec.ddl && k.is_multiple_of(DDL_PERIOD) && k > 0 {
        out.push(Op::Ddl(ddl_event(k / DDL_PERIOD)));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(mix(spec.seed, k, 0x5641_4C53));
    let tables = tables_at(spec, k);
    let initial_est =
        (spec.initial_pages as u64 * spec.page_size as u64 / INITIAL_ROW_BYTES_ESTIMATE).max(3);
    for (i, (kind, table)) in plan(spec, k).into_iter().enumerate() {
        if kind == Kind::Insert {
            let mut values = vec![Value::Integer(insert_id(k, i as u32))];
            values.extend(gen_values(&mut rng, spec, table.extra_col));
            out.push(Op::Insert {
                table: table.name,
                values,
            });
            continue;
        }
        // Target: a recent insert (when one is found in a table that exists now) or an
        // initial row.
        let mut target = None;
        if rng.random_range(0..3u32) > 0 && k > 1 {
            let kp = rng.random_range(k.saturating_sub(RECENT_WINDOW).max(1)..k);
            let p = plan(spec, kp);
            let inserts: Vec<usize> = (0..p.len()).filter(|&j| p[j].0 == Kind::Insert).collect();
            if !inserts.is_empty() {
                let j = inserts[rng.random_range(0..inserts.len())];
                if let Some(t) = tables.iter().find(|t| t.name == p[j].1.name) {
                    target = Some((t.name, insert_id(kp, j as u32)));
                }
            }
        }
        let (table, id) = target.unwrap_or_else(|| {
            let j = rng.random_range(1..=initial_est);
            (BASE_TABLES[(j % 3) as usize], j as i64)
        });
        if kind == Kind::Delete {
            out.push(Op::Delete { table, id });
        } else if rng.random_bool(0.5) {
            let mut values = gen_values(&mut rng, spec, false);
            values.truncate(4);
            out.push(Op::Update { table, id, values });
        } else {
            let n = Value::Integer(rng.random_range(-1_000_000..1_000_000i64));
            out.push(Op::Update {
                table,
                id,
                values: vec![n],
            });
        }
    }
    out
}

/// The `j`-th initial row (1-based) of `S(0)`: its table and values (id first).
pub fn initial_row(spec: &WorkloadSpec, j: u64) -> (&'static str, Vec<Value>) {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(spec.seed, j, 0x494E_4954));
    let mut values = vec![Value::Integer(j as i64)];
    values.extend(gen_values(&mut rng, spec, false));
    (BASE_TABLES[(j % 3) as usize], values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(seed: u64) -> WorkloadSpec {
        WorkloadSpec {
            seed,
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn extras_follow_the_schedule() {
        let s = spec(1);
        // Replaying the events one by one agrees with the closed form.
        let mut state: [Option<Extra>; EXTRA_SLOTS] = [None; EXTRA_SLOTS];
        for k in 0..(DDL_PERIOD * 40) {
            if k > 0 && k.is_multiple_of(DDL_PERIOD) {
                let (slot, step) = event(k / DDL_PERIOD);
                state[slot] = extra_after_step(step);
            }
            assert_eq!(extras_at(&s, k), state, "k = {k}");
        }
        let no_ddl = WorkloadSpec { ddl: false, ..s };
        assert_eq!(extras_at(&no_ddl, 10_000), [None; EXTRA_SLOTS]);
    }

    #[test]
    fn integral_reals_and_overflow_rows_appear() {
        let s = spec(3);
        let all: Vec<Op> = (1..400).flat_map(|k| ops(&s, k)).collect();
        let integral = all.iter().any(|o| match o {
            Op::Insert { values, .. } => matches!(values[2], Value::Real(f) if f.fract() == 0.0),
            _ => false,
        });
        let big = all.iter().any(|o| match o {
            Op::Insert { values, .. } => values.iter().any(|v| match v {
                Value::Blob(b) => b.len() > s.page_size as usize / 2,
                Value::Text(t) => t.len() > s.page_size as usize / 2,
                _ => false,
            }),
            _ => false,
        });
        assert!(integral && big);
        assert!(all.iter().any(|o| matches!(o, Op::Delete { .. })));
        assert!(all.iter().any(|o| matches!(o, Op::Ddl(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn ops_are_pure(seed in any::<u64>(), k in 1u64..1_000_000) {
            prop_assert_eq!(ops(&spec(seed), k), ops(&spec(seed), k));
        }

        #[test]
        fn seeds_and_ks_differ(seed in any::<u64>(), k in 1u64..1_000_000) {
            prop_assert_ne!(ops(&spec(seed), k), ops(&spec(seed ^ 1), k));
            prop_assert_ne!(ops(&spec(seed), k), ops(&spec(seed), k + 1));
        }
    }
}
