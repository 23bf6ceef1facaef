//! Power-cut model: what the disk holds if power fails now.
//!
//! A SIGKILL leaves the OS page cache intact, so every completed `write()` survives it. A power
//! cut does not: only what was synced is certain. This module keeps, per file, an *undo log* of
//! what each write or truncation since that file's last `xSync` overwrote, and, per directory
//! entry, the creations and deletions since the directory was last synced (a deleted file keeps
//! its content here, so a deleted journal can come back, which SQLite's `test6.c` cannot model).
//! At the cut, each unsynced sector is kept, reverted or garbled, and unsynced size changes,
//! creations and deletions are kept or reverted, all drawn from the plan's seeded generator.
//!
//! Metadata changes (creations, deletions, size changes: truncations and writes that extend a
//! file) carry a sequence number. With [`MetadataOrder::Ordered`] one cut index is drawn over
//! the unsynced ones in sequence order: those before it persist, those from it on are reverted
//! (a sync that made a change durable makes every earlier one durable too). With
//! [`MetadataOrder::Independent`] each entry, and each file's size, is drawn on its own.
//! It works on the base VFS's files through a [`Disk`]: with the platform's VFS those are the
//! real files, so other processes see the crash state.

use crate::disk::Disk;
use crate::plan::{MetadataOrder, Unsynced};
use rand::{Rng, RngExt};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Undo log of one file since its last sync.
#[derive(Debug, Clone)]
pub(crate) struct FileUndo {
    /// Size at the last sync.
    base_size: u64,
    sector: u64,
    /// (offset, bytes that were there before, whether a truncation removed them), oldest first.
    writes: Vec<(u64, Vec<u8>, bool)>,
    /// Size changes as (sequence number, new size), oldest first.
    sizes: Vec<(u64, u64)>,
    /// Powersafe overwrite: garbage only where unsynced writes wrote, never in the rest of
    /// their sectors (SQLite relies on it: it then packs journal headers into 512 bytes).
    psow: bool,
    /// Byte ranges `[from, to)` the unsynced writes covered.
    written: Vec<(u64, u64)>,
}

#[derive(Debug, Clone)]
enum Pending {
    /// Created since the directory's last sync (sequence number of the creation).
    Created { seq: u64 },
    /// Deleted (or deleted, then created again) since the directory's last sync: the durable
    /// entry still holds `content`, with `undo` its own unsynced writes; `seq` numbers the
    /// deletion, `recreated` the creation that followed it, if any.
    Deleted {
        content: Vec<u8>,
        undo: Option<FileUndo>,
        seq: u64,
        recreated: Option<u64>,
    },
}

impl Pending {
    fn max_seq(&self) -> u64 {
        match self {
            Pending::Created { seq } => *seq,
            Pending::Deleted { seq, recreated, .. } => recreated.unwrap_or(*seq),
        }
    }
}

/// What the file's device promises: its sector size and powersafe overwrite.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Device {
    pub(crate) sector: u64,
    pub(crate) psow: bool,
}

/// Everything not yet durable, for one VFS instance.
#[derive(Debug, Default)]
pub(crate) struct PowerState {
    undo: BTreeMap<String, FileUndo>,
    pending: BTreeMap<String, Pending>,
    /// Sequence number of the last metadata change (the first is 1).
    seq: u64,
    /// Highest sequence number a sync made durable (0: none). With ordered metadata every
    /// change up to it is durable.
    durable: u64,
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
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Records that `old` (the bytes at `offset` before a write or truncation) is about to be
    /// overwritten; `old_size` and `new_size` are the file size before and after the operation.
    pub(crate) fn record(
        &mut self,
        path: &str,
        offset: u64,
        old: Vec<u8>,
        old_size: u64,
        new_size: u64,
        device: Device,
    ) {
        let Device { sector, psow } = device;
        let seq = if new_size != old_size {
            Some(self.next_seq())
        } else {
            None
        };
        let u = self
            .undo
            .entry(path.to_string())
            .or_insert_with(|| FileUndo {
                base_size: old_size,
                sector: sector.max(1),
                writes: Vec::new(),
                sizes: Vec::new(),
                psow,
                written: Vec::new(),
            });
        let truncation = new_size < old_size;
        if !truncation {
            // A write: it covered [offset, offset + len), len = what it overwrote or, when it
            // extended the file, up to the new size.
            let end =
                (offset + old.len() as u64).max(if new_size > old_size { new_size } else { 0 });
            u.written.push((offset, end));
        }
        if !old.is_empty() {
            u.writes.push((offset, old, truncation));
        }
        if let Some(seq) = seq {
            u.sizes.push((seq, new_size));
        }
    }

    /// The file's data reached the disk.
    pub(crate) fn synced(&mut self, path: &str) {
        if let Some(u) = self.undo.remove(path) {
            if let Some(&(seq, _)) = u.sizes.last() {
                self.durable = self.durable.max(seq);
            }
        }
    }

    /// A new directory entry (the file did not exist before the open).
    pub(crate) fn created(&mut self, path: &str) {
        let new = self.next_seq();
        match self.pending.remove(path) {
            Some(Pending::Deleted {
                content, undo, seq, ..
            }) => {
                self.pending.insert(
                    path.to_string(),
                    Pending::Deleted {
                        content,
                        undo,
                        seq,
                        recreated: Some(new),
                    },
                );
            }
            _ => {
                self.pending
                    .insert(path.to_string(), Pending::Created { seq: new });
            }
        }
    }

    /// The file was deleted; `content` is what it held just before.
    pub(crate) fn deleted(&mut self, path: &str, content: Option<Vec<u8>>) {
        let new = self.next_seq();
        let undo = self.undo.remove(path);
        match self.pending.remove(path) {
            Some(Pending::Created { .. }) => {}
            Some(Pending::Deleted {
                content: old,
                undo: old_undo,
                seq,
                ..
            }) => {
                self.pending.insert(
                    path.to_string(),
                    Pending::Deleted {
                        content: old,
                        undo: old_undo,
                        seq,
                        recreated: None,
                    },
                );
            }
            None => {
                if let Some(content) = content {
                    self.pending.insert(
                        path.to_string(),
                        Pending::Deleted {
                            content,
                            undo,
                            seq: new,
                            recreated: None,
                        },
                    );
                }
            }
        }
    }

    /// The directory `dir` was synced: every entry in it is durable.
    pub(crate) fn dir_synced(&mut self, dir: &Path) {
        let mut durable = self.durable;
        self.pending.retain(|p, pend| {
            let keep = Path::new(p).parent().is_none_or(|d| d != dir);
            if !keep {
                durable = durable.max(pend.max_seq());
            }
            keep
        });
        self.durable = durable;
    }

    /// Draws the ordered cut: the sequence number of the first unsynced metadata change that
    /// does not persist (`u64::MAX` if all persist). Changes up to `durable` always persist.
    fn draw_cut_seq(&self, rng: &mut impl Rng, policy: Unsynced) -> u64 {
        let mut seqs: Vec<u64> = Vec::new();
        for u in self.undo.values() {
            seqs.extend(u.sizes.iter().map(|&(s, _)| s));
        }
        for pend in self.pending.values() {
            match pend {
                Pending::Created { seq } => seqs.push(*seq),
                Pending::Deleted {
                    undo,
                    seq,
                    recreated,
                    ..
                } => {
                    seqs.push(*seq);
                    seqs.extend(*recreated);
                    if let Some(u) = undo {
                        seqs.extend(u.sizes.iter().map(|&(s, _)| s));
                    }
                }
            }
        }
        seqs.retain(|&s| s > self.durable);
        seqs.sort_unstable();
        seqs.dedup();
        let n = seqs.len();
        let k = match policy {
            Unsynced::Keep => n,
            Unsynced::Revert => 0,
            Unsynced::Random if n == 0 => 0,
            Unsynced::Random => rng.random_range(0..=n),
        };
        seqs.get(k).copied().unwrap_or(u64::MAX)
    }

    /// Whether anything is not yet durable.
    pub(crate) fn is_empty(&self) -> bool {
        self.undo.is_empty() && self.pending.is_empty()
    }

    /// Puts the files on disk into a crash state and forgets the pending state.
    pub(crate) fn cut(
        &mut self,
        rng: &mut impl Rng,
        policy: Unsynced,
        metadata: MetadataOrder,
        disk: &dyn Disk,
    ) -> io::Result<CutReport> {
        let mut report = CutReport::default();
        let mut affected: Vec<String> = self.undo.keys().cloned().collect();
        affected.extend(self.pending.keys().cloned());
        affected.sort();
        affected.dedup();
        // Ordered: the first sequence number that does not persist (u64::MAX: all persist).
        let cut_seq = match metadata {
            MetadataOrder::Independent => None,
            MetadataOrder::Ordered => Some(self.draw_cut_seq(rng, policy)),
        };
        let persists = |seq: u64| cut_seq.is_some_and(|c| seq < c);
        self.durable = 0;
        let mut undo = std::mem::take(&mut self.undo);
        for (path, pend) in std::mem::take(&mut self.pending) {
            // Which of the entry's changes are undone: the deletion (restore the content), or
            // only the creation that followed it (remove the file).
            let (revert_delete, revert_create) = match (&pend, cut_seq) {
                (_, None) => {
                    let r = draw_bool(rng, policy);
                    (r, r)
                }
                (Pending::Created { seq }, Some(_)) => (false, !persists(*seq)),
                (Pending::Deleted { seq, recreated, .. }, Some(_)) => {
                    (!persists(*seq), recreated.is_some_and(|r| !persists(r)))
                }
            };
            match pend {
                Pending::Created { .. } if revert_create => {
                    report.entries_reverted += 1;
                    let _ = disk.remove(&path);
                    undo.remove(&path);
                }
                Pending::Deleted {
                    content,
                    undo: old_undo,
                    ..
                } if revert_delete => {
                    report.entries_reverted += 1;
                    disk.write(&path, &content)?;
                    undo.remove(&path);
                    if let Some(u) = old_undo {
                        undo.insert(path.clone(), u);
                    }
                }
                Pending::Deleted { .. } if revert_create && cut_seq.is_some() => {
                    report.entries_reverted += 1;
                    let _ = disk.remove(&path);
                    undo.remove(&path);
                }
                _ => {}
            }
        }
        for (path, u) in undo {
            if disk.len(&path).is_some() {
                apply_undo(disk, &path, &u, rng, policy, cut_seq, &mut report)?;
            }
        }
        for path in &affected {
            reset_shm(disk, path);
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

/// `cut_seq`: ordered metadata, size changes from this sequence number on are reverted; `None`:
/// the size is kept or reverted on its own.
fn apply_undo(
    disk: &dyn Disk,
    path: &str,
    u: &FileUndo,
    rng: &mut impl Rng,
    policy: Unsynced,
    cut_seq: Option<u64>,
    report: &mut CutReport,
) -> io::Result<()> {
    let cur = disk.read(path)?;
    let mut synced = cur.clone();
    for (off, old, _) in u.writes.iter().rev() {
        let off = *off as usize;
        let end = off + old.len();
        if synced.len() < end {
            synced.resize(end, 0);
        }
        synced[off..end].copy_from_slice(old);
    }
    synced.resize(u.base_size as usize, 0);
    let new_len = match cut_seq {
        None if cur.len() == synced.len() || !draw_bool(rng, policy) => cur.len(),
        None => synced.len(),
        Some(c) => match u.sizes.iter().rposition(|&(s, _)| s < c) {
            // The latest size change persists: the size is the current one.
            Some(i) if i + 1 == u.sizes.len() => cur.len(),
            Some(i) => u.sizes[i].1 as usize,
            None if u.sizes.is_empty() => cur.len(),
            None => synced.len(),
        },
    };
    // What each byte last held: the current content, and beyond the current size what the
    // truncations removed. A reverted truncation brings back the removed bytes, not zeros: a
    // durable tail that no unsynced write touched comes back as it was (both policies).
    let mut latest = cur.clone();
    for (off, old, truncation) in u.writes.iter().rev() {
        let off = *off as usize;
        if *truncation && off <= latest.len() && off + old.len() > latest.len() {
            let from = latest.len() - off;
            latest.extend_from_slice(&old[from..]);
        }
    }
    let sector = u.sector as usize;
    let mut out = vec![0u8; new_len];
    let mut s = 0usize;
    while s < new_len {
        let e = (s + sector).min(new_len);
        let c = padded(&latest, s, e);
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
                    out[s..e].copy_from_slice(&c);
                    if u.psow {
                        // Only the bytes a write covered can turn to garbage.
                        for &(from, to) in &u.written {
                            let (a, b) = ((from as usize).max(s), (to as usize).min(e));
                            if a < b {
                                rng.fill_bytes(&mut out[a..b]);
                            }
                        }
                    } else {
                        rng.fill_bytes(&mut out[s..e])
                    }
                }
            }
        }
        s = e;
    }
    disk.write(path, &out)
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
fn reset_shm(disk: &dyn Disk, path: &str) {
    let db = path
        .strip_suffix("-wal")
        .or_else(|| path.strip_suffix("-journal"))
        .unwrap_or(path);
    let shm = format!("{db}-shm");
    if disk.len(&shm).is_some_and(|n| n >= 136) {
        let _ = disk.write_at(&shm, 0, &[0u8; 136]);
    }
}

#[cfg(test)]
#[path = "powercut_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "powercut_props.rs"]
mod props;
