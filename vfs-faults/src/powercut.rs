//! Power-cut model: what the disk holds if power fails now.
//!
//! A SIGKILL leaves the OS page cache intact, so every completed `write()` survives it. A power
//! cut does not: only what was synced is certain. This module keeps, per file, an *undo log* of
//! what each write or truncation since that file's last `xSync` overwrote, and, per directory
//! entry, the creations and deletions since the directory was last synced (a deleted file keeps
//! its content here, so a deleted journal can come back, which SQLite's `test6.c` cannot model).
//! At the cut, each unsynced sector is kept, reverted or garbled, and unsynced size changes,
//! creations and deletions are kept or reverted, all drawn from the plan's seeded generator.
//! It works on the real files with `std::fs`, so other processes see the crash state.

use crate::plan::Unsynced;
use rand::{Rng, RngExt};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Undo log of one file since its last sync.
#[derive(Debug, Clone)]
pub(crate) struct FileUndo {
    /// Size at the last sync.
    base_size: u64,
    sector: u64,
    /// (offset, bytes that were there before), oldest first.
    writes: Vec<(u64, Vec<u8>)>,
}

#[derive(Debug, Clone)]
enum Pending {
    /// Created since the directory's last sync.
    Created,
    /// Deleted (or deleted, then created again) since the directory's last sync: the durable
    /// entry still holds `content`, with `undo` its own unsynced writes.
    Deleted {
        content: Vec<u8>,
        undo: Option<FileUndo>,
    },
}

/// Everything not yet durable, for one VFS instance.
#[derive(Debug, Default)]
pub(crate) struct PowerState {
    undo: BTreeMap<String, FileUndo>,
    pending: BTreeMap<String, Pending>,
}

/// What a cut did (for the caller and for tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CutReport {
    /// Paths whose content or existence was not durable.
    pub affected: Vec<String>,
    /// Sectors kept / reverted / garbled.
    pub kept: u64,
    pub reverted: u64,
    pub garbled: u64,
    /// Directory entries (creations, deletions) reverted.
    pub entries_reverted: u64,
}

impl PowerState {
    /// Records that `old` (the bytes at `offset` before a write or truncation) is about to be
    /// overwritten; `old_size` is the file size before the operation.
    pub(crate) fn record(
        &mut self,
        path: &str,
        offset: u64,
        old: Vec<u8>,
        old_size: u64,
        sector: u64,
    ) {
        let u = self
            .undo
            .entry(path.to_string())
            .or_insert_with(|| FileUndo {
                base_size: old_size,
                sector: sector.max(1),
                writes: Vec::new(),
            });
        if !old.is_empty() {
            u.writes.push((offset, old));
        }
    }

    /// The file's data reached the disk.
    pub(crate) fn synced(&mut self, path: &str) {
        self.undo.remove(path);
    }

    /// A new directory entry (the file did not exist before the open).
    pub(crate) fn created(&mut self, path: &str) {
        match self.pending.remove(path) {
            Some(Pending::Deleted { content, undo }) => {
                self.pending
                    .insert(path.to_string(), Pending::Deleted { content, undo });
            }
            _ => {
                self.pending.insert(path.to_string(), Pending::Created);
            }
        }
    }

    /// The file was deleted; `content` is what it held just before.
    pub(crate) fn deleted(&mut self, path: &str, content: Option<Vec<u8>>) {
        let undo = self.undo.remove(path);
        match self.pending.remove(path) {
            Some(Pending::Created) => {}
            Some(Pending::Deleted {
                content: old,
                undo: old_undo,
                ..
            }) => {
                self.pending.insert(
                    path.to_string(),
                    Pending::Deleted {
                        content: old,
                        undo: old_undo,
                    },
                );
            }
            None => {
                if let Some(content) = content {
                    self.pending
                        .insert(path.to_string(), Pending::Deleted { content, undo });
                }
            }
        }
    }

    /// The directory `dir` was synced: every entry in it is durable.
    pub(crate) fn dir_synced(&mut self, dir: &Path) {
        self.pending
            .retain(|p, _| Path::new(p).parent().is_none_or(|d| d != dir));
    }

    /// Whether anything is not yet durable.
    pub(crate) fn is_empty(&self) -> bool {
        self.undo.is_empty() && self.pending.is_empty()
    }

    /// Puts the files on disk into a crash state and forgets the pending state.
    pub(crate) fn cut(&mut self, rng: &mut impl Rng, policy: Unsynced) -> io::Result<CutReport> {
        let mut report = CutReport::default();
        let mut affected: Vec<String> = self.undo.keys().cloned().collect();
        affected.extend(self.pending.keys().cloned());
        affected.sort();
        affected.dedup();
        let mut undo = std::mem::take(&mut self.undo);
        for (path, pend) in std::mem::take(&mut self.pending) {
            if !draw_bool(rng, policy) {
                continue;
            }
            report.entries_reverted += 1;
            match pend {
                Pending::Created => {
                    let _ = fs::remove_file(&path);
                    undo.remove(&path);
                }
                Pending::Deleted {
                    content,
                    undo: old_undo,
                    ..
                } => {
                    fs::write(&path, &content)?;
                    undo.remove(&path);
                    if let Some(u) = old_undo {
                        undo.insert(path.clone(), u);
                    }
                }
            }
        }
        for (path, u) in undo {
            if Path::new(&path).exists() {
                apply_undo(&path, &u, rng, policy, &mut report)?;
            }
        }
        for path in &affected {
            reset_shm(path);
        }
        report.affected = affected;
        Ok(report)
    }
}

/// true = revert.
fn draw_bool(rng: &mut impl Rng, policy: Unsynced) -> bool {
    match policy {
        Unsynced::Random => rng.random_bool(0.5),
        Unsynced::Revert => true,
        Unsynced::Keep => false,
    }
}

fn apply_undo(
    path: &str,
    u: &FileUndo,
    rng: &mut impl Rng,
    policy: Unsynced,
    report: &mut CutReport,
) -> io::Result<()> {
    let cur = fs::read(path)?;
    let mut synced = cur.clone();
    for (off, old) in u.writes.iter().rev() {
        let off = *off as usize;
        let end = off + old.len();
        if synced.len() < end {
            synced.resize(end, 0);
        }
        synced[off..end].copy_from_slice(old);
    }
    synced.resize(u.base_size as usize, 0);
    let new_len = if cur.len() == synced.len() || !draw_bool(rng, policy) {
        cur.len()
    } else {
        synced.len()
    };
    let sector = u.sector as usize;
    let mut out = vec![0u8; new_len];
    let mut s = 0usize;
    while s < new_len {
        let e = (s + sector).min(new_len);
        let c = padded(&cur, s, e);
        let y = padded(&synced, s, e);
        if c == y {
            out[s..e].copy_from_slice(&c);
        } else {
            let choice = match policy {
                Unsynced::Keep => 0,
                Unsynced::Revert => 1,
                Unsynced::Random => rng.random_range(0..3u8),
            };
            match choice {
                0 => {
                    report.kept += 1;
                    out[s..e].copy_from_slice(&c)
                }
                1 => {
                    report.reverted += 1;
                    out[s..e].copy_from_slice(&y)
                }
                _ => {
                    report.garbled += 1;
                    rng.fill_bytes(&mut out[s..e])
                }
            }
        }
        s = e;
    }
    let f = fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(new_len as u64)?;
    f.write_all_at(&out, 0)?;
    Ok(())
}

fn padded(buf: &[u8], s: usize, e: usize) -> Vec<u8> {
    let mut v = vec![0u8; e - s];
    if s < buf.len() {
        let end = e.min(buf.len());
        v[..end - s].copy_from_slice(&buf[s..end]);
    }
    v
}

/// The `-shm` file is memory, not disk: after a power cut its wal-index header is gone, so
/// the next connection rebuilds it from the WAL.
fn reset_shm(path: &str) {
    let db = path
        .strip_suffix("-wal")
        .or_else(|| path.strip_suffix("-journal"))
        .unwrap_or(path);
    let shm = format!("{db}-shm");
    if let Ok(f) = fs::OpenOptions::new().write(true).open(&shm) {
        if f.metadata().map(|m| m.len() >= 136).unwrap_or(false) {
            let _ = f.write_all_at(&[0u8; 136], 0);
        }
    }
}
