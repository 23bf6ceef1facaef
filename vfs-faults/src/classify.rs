//! File classification and role lookup.
//!
//! SQLite tells a VFS what a file is for only through the flags of `xOpen`. This module turns
//! those flags into a [`FileKind`], finds the database a journal or WAL belongs to (so that it
//! inherits the database's *role*), and matches path globs. It is pure, safe Rust, so that the
//! rules can be unit-tested without SQLite.

use crate::plan::FileKind;
use std::path::{Path, PathBuf};

// SQLITE_OPEN_* values (sqlite3.h); copied so this module needs no FFI.
pub(crate) const OPEN_CREATE: i32 = 0x0000_0004;
pub(crate) const OPEN_MAIN_DB: i32 = 0x0000_0100;
pub(crate) const OPEN_TEMP_DB: i32 = 0x0000_0200;
pub(crate) const OPEN_TRANSIENT_DB: i32 = 0x0000_0400;
pub(crate) const OPEN_MAIN_JOURNAL: i32 = 0x0000_0800;
pub(crate) const OPEN_TEMP_JOURNAL: i32 = 0x0000_1000;
pub(crate) const OPEN_SUBJOURNAL: i32 = 0x0000_2000;
pub(crate) const OPEN_SUPER_JOURNAL: i32 = 0x0000_4000;
pub(crate) const OPEN_WAL: i32 = 0x0008_0000;

/// Number of [`FileKind`] variants (for the counter table).
pub(crate) const FILE_KINDS: usize = 8;

pub(crate) const ALL_FILE_KINDS: [FileKind; FILE_KINDS] = [
    FileKind::MainDb,
    FileKind::MainJournal,
    FileKind::Wal,
    FileKind::TempDb,
    FileKind::TempJournal,
    FileKind::SuperJournal,
    FileKind::Transient,
    FileKind::Other,
];

/// The kind of a file from its `xOpen` flags.
pub(crate) fn kind_from_flags(flags: i32) -> FileKind {
    if flags & OPEN_MAIN_DB != 0 {
        FileKind::MainDb
    } else if flags & OPEN_MAIN_JOURNAL != 0 {
        FileKind::MainJournal
    } else if flags & OPEN_WAL != 0 {
        FileKind::Wal
    } else if flags & OPEN_TEMP_DB != 0 {
        FileKind::TempDb
    } else if flags & (OPEN_TEMP_JOURNAL | OPEN_SUBJOURNAL) != 0 {
        FileKind::TempJournal
    } else if flags & OPEN_SUPER_JOURNAL != 0 {
        FileKind::SuperJournal
    } else if flags & OPEN_TRANSIENT_DB != 0 {
        FileKind::Transient
    } else {
        FileKind::Other
    }
}

/// The kind of a path that is not an open file (xDelete, xAccess), guessed from its suffix.
pub(crate) fn kind_from_name(path: &str) -> FileKind {
    if path.ends_with("-journal") {
        FileKind::MainJournal
    } else if path.ends_with("-wal") {
        FileKind::Wal
    } else if super_journal_base(path).is_some() {
        FileKind::SuperJournal
    } else {
        FileKind::Other
    }
}

/// Whether the unix VFS syncs the directory at the first `xSync` of a file opened with `flags`
/// (`isNewJrnl` in `unixOpen`).
pub(crate) fn syncs_dir_on_first_sync(flags: i32) -> bool {
    flags & OPEN_CREATE != 0 && flags & (OPEN_MAIN_JOURNAL | OPEN_SUPER_JOURNAL | OPEN_WAL) != 0
}

/// `db-mj0123ABC9` → `db`.
fn super_journal_base(path: &str) -> Option<&str> {
    let i = path.rfind("-mj")?;
    let tail = &path[i + 3..];
    if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_hexdigit()) {
        Some(&path[..i])
    } else {
        None
    }
}

/// The database path a file belongs to: journals, WALs and super-journals strip their suffix.
pub(crate) fn db_path_of(path: &str, kind: FileKind) -> &str {
    match kind {
        FileKind::MainJournal => path.strip_suffix("-journal").unwrap_or(path),
        FileKind::Wal => path.strip_suffix("-wal").unwrap_or(path),
        FileKind::SuperJournal => super_journal_base(path).unwrap_or(path),
        _ => path,
    }
}

/// Glob match with `*` (any run of characters, `/` included) and `?` (one character).
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn has_glob(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// Absolute, symlink-resolved form of a path whose parent exists (as `xFullPathname` gives it).
pub(crate) fn absolute_form(path: &str) -> Option<String> {
    let p = Path::new(path);
    let abs: PathBuf = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(p)
    };
    let name = abs.file_name()?.to_owned();
    let parent = abs.parent()?.canonicalize().ok()?;
    Some(parent.join(name).to_string_lossy().into_owned())
}

/// The path→role table given with `FaultVfs::set_role`.
#[derive(Debug, Default)]
pub(crate) struct Roles {
    entries: Vec<RoleEntry>,
}

#[derive(Debug)]
struct RoleEntry {
    pattern: String,
    absolute: Option<String>,
    role: String,
}

impl Roles {
    pub(crate) fn set(&mut self, pattern: &str, role: &str) {
        self.entries.retain(|e| e.pattern != pattern);
        let absolute = if has_glob(pattern) {
            None
        } else {
            absolute_form(pattern)
        };
        self.entries.push(RoleEntry {
            pattern: pattern.to_string(),
            absolute,
            role: role.to_string(),
        });
    }

    /// Every `(pattern, role)` given, oldest first (a pattern given again moved to the end).
    pub(crate) fn list(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|e| (e.pattern.clone(), e.role.clone()))
            .collect()
    }

    /// The role of the database `db_path` (exact path, absolute form or glob; last set wins).
    pub(crate) fn lookup(&self, db_path: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|e| {
                e.pattern == db_path
                    || e.absolute.as_deref() == Some(db_path)
                    || (has_glob(&e.pattern) && glob_match(&e.pattern, db_path))
                    // The directory may have been created after set_role.
                    || (e.absolute.is_none()
                        && !has_glob(&e.pattern)
                        && absolute_form(&e.pattern).as_deref() == Some(db_path))
            })
            .map(|e| e.role.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*/dest.db", "/tmp/x/dest.db"));
        assert!(glob_match("/tmp/?.db", "/tmp/a.db"));
        assert!(!glob_match("/tmp/?.db", "/tmp/ab.db"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("*.db", "/tmp/a.db-journal"));
    }

    #[test]
    fn db_paths() {
        assert_eq!(
            db_path_of("/a/b.db-journal", FileKind::MainJournal),
            "/a/b.db"
        );
        assert_eq!(db_path_of("/a/b.db-wal", FileKind::Wal), "/a/b.db");
        assert_eq!(
            db_path_of("/a/b.db-mj01AB2C9F", FileKind::SuperJournal),
            "/a/b.db"
        );
        assert_eq!(kind_from_name("/a/b.db-mj01AB2C9F"), FileKind::SuperJournal);
        assert_eq!(kind_from_name("/a/b.db"), FileKind::Other);
    }

    #[test]
    fn flags() {
        assert_eq!(
            kind_from_flags(OPEN_MAIN_DB | OPEN_CREATE),
            FileKind::MainDb
        );
        assert_eq!(kind_from_flags(OPEN_WAL), FileKind::Wal);
        assert_eq!(kind_from_flags(OPEN_SUBJOURNAL), FileKind::TempJournal);
        assert!(syncs_dir_on_first_sync(OPEN_MAIN_JOURNAL | OPEN_CREATE));
        assert!(!syncs_dir_on_first_sync(OPEN_MAIN_DB | OPEN_CREATE));
    }
}
