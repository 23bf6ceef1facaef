//! `vacuum-into`: `VACUUM INTO '<dest>'` on a dedicated source connection.
//!
//! Why it exists: seed option C. One read transaction gives one consistent snapshot; the
//! output is written in place as a normal rollback-journal transaction (a kill leaves a partial
//! file beside a hot `-journal`, which the next open rolls back). SQLite refuses an output file
//! that already exists with size > 0 ("output file already exists"): into a pre-existing
//! destination this strategy claims that error, as SQLite returns it.
//!
//! When `ctx.dest_vfs` is set, the output is named by a URI `file:<dest>?vfs=<name>` (the
//! source connection is opened with `SQLITE_OPEN_URI`), so destination faults reach it.

use super::common::{self, error};
use super::{Strategy, StrategyContext};
use crate::event::Claim;
use std::path::Path;

pub struct VacuumInto;

const NAME: &str = "vacuum-into";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "VACUUM INTO the destination on a dedicated source connection (seed option C)",
    facts: super::Facts {
        // The output goes through the VFS named in its URI; it is written by the source
        // connection, which takes no destination pragmas, and no step is ever called.
        dest_through_vfs: true,
        backup_api: false,
        dest_pragmas: false,
        // start, phase "vacuum": the whole copy is one statement.
        events_before_work: 2,
        link: false,
        source_through_vfs: false,
        steps: false,
        dest_synchronous: false,
        // The VACUUM runs on a source connection with that busy timeout.
        busy_timeout: true,
    },
    build: || Box::new(VacuumInto),
};

/// The `VACUUM INTO` target: the plain path, or a `file:` URI selecting `vfs`.
pub fn output_name(dest: &Path, vfs: Option<&str>) -> String {
    let path = dest.to_string_lossy();
    match vfs {
        None => path.into_owned(),
        Some(v) => format!("file:{}?vfs={}", uri_escape(&path), uri_escape(v)),
    }
}

/// Escapes the characters that end or alter a URI path/parameter (RFC 3986 style).
fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'%' | b'?' | b'#' | b'&' | b'=' => out.push_str(&format!("%{b:02X}")),
            _ => out.push(b as char),
        }
    }
    out
}

/// `s` as an SQL string literal (single quotes doubled).
pub fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Strategy for VacuumInto {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let src = match common::open_source(ctx) {
            Ok(c) => c,
            Err(e) => return error(NAME, format!("open source: {e}")),
        };
        common::phase(ctx, "vacuum");
        let target = output_name(ctx.dest, ctx.dest_vfs);
        let sql = format!("VACUUM INTO {}", sql_quote(&target));
        match src.execute_batch(&sql) {
            Ok(()) => Claim::Success,
            Err(e) => error(NAME, format!("{sql}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_quoting() {
        assert_eq!(output_name(Path::new("/a/b.db"), None), "/a/b.db");
        assert_eq!(
            output_name(Path::new("/a/x?#%.db"), Some("faults")),
            "file:/a/x%3F%23%25.db?vfs=faults"
        );
        assert_eq!(sql_quote("/a/it's.db"), "'/a/it''s.db'");
    }
}
