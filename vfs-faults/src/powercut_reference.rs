//! The reference model of the power-cut property tests (`powercut_props.rs`): files as
//! inodes (synced content, current content, unsynced size changes) and directory entries
//! (durable entry, unsynced entry changes), every metadata outcome a cut may give, and the
//! contents each sector may have. Independent of `powercut.rs`'s undo logs: it replays the
//! ops on its own state.

use super::super::*;

/// The paths: two in directory `/a`, one in `/b`.
pub(super) const PATHS: [&str; 3] = ["/a/x", "/a/y", "/b/z"];
pub(super) const DIRS: [&str; 2] = ["/a", "/b"];
/// The device's sector: small, so that a file has many sectors.
pub(super) const SECTOR: u64 = 16;
/// Seeds tried per sequence for the reachability checks.
pub(super) const SEEDS: u64 = 1500;

#[derive(Debug, Clone)]
pub(super) enum Op {
    /// `len` bytes at `off`, each `fill + i` (never two writes with the same bytes).
    Write {
        f: usize,
        off: u64,
        len: u64,
        fill: u8,
    },
    Truncate {
        f: usize,
        size: u64,
    },
    Sync {
        f: usize,
    },
    SyncDir {
        d: usize,
    },
    Create {
        f: usize,
    },
    Delete {
        f: usize,
    },
}

/// One file's data, as the reference sees it.
#[derive(Debug, Clone, Default)]
pub(super) struct Inode {
    /// Content at the last sync (creation: empty).
    pub(super) synced: Vec<u8>,
    pub(super) cur: Vec<u8>,
    /// `cur`, then beyond its end what truncations removed (a reverted truncation brings
    /// those bytes back).
    pub(super) shadow: Vec<u8>,
    /// Unsynced size changes: (sequence number, new size).
    pub(super) sizes: Vec<(u64, u64)>,
    /// Byte ranges unsynced writes covered.
    pub(super) written: Vec<(u64, u64)>,
    /// Written or truncated since the last sync.
    pub(super) dirty: bool,
}

/// The reference model of the files and directory entries.
#[derive(Debug, Clone, Default)]
pub(super) struct Model {
    pub(super) inodes: Vec<Inode>,
    pub(super) linked: [Option<usize>; 3],
    pub(super) durable: [Option<usize>; 3],
    /// Unsynced entry changes of each path: (sequence number, the entry after the change).
    pub(super) pending: [Vec<(u64, Option<usize>)>; 3],
    pub(super) seq: u64,
    /// Highest sequence number a sync made durable.
    pub(super) watermark: u64,
}

pub(super) fn dir_of(f: usize) -> usize {
    usize::from(f == 2)
}

/// One allowed metadata outcome: per path, the inode there and its length.
pub(super) type Meta = [Option<(usize, usize)>; 3];

impl Model {
    pub(super) fn new(initial: &[Option<Vec<u8>>; 3]) -> Model {
        let mut m = Model::default();
        for (f, content) in initial.iter().enumerate() {
            if let Some(c) = content {
                m.inodes.push(Inode {
                    synced: c.clone(),
                    cur: c.clone(),
                    shadow: c.clone(),
                    ..Inode::default()
                });
                m.linked[f] = Some(m.inodes.len() - 1);
                m.durable[f] = m.linked[f];
            }
        }
        m
    }

    pub(super) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Applies one op (the caller checked it applies).
    pub(super) fn apply(&mut self, op: &Op) {
        match *op {
            Op::Write { f, off, len, fill } => {
                let i = self.linked[f].unwrap();
                let (off, len) = (off as usize, len as usize);
                let old = self.inodes[i].cur.len();
                if off + len > old {
                    let seq = self.next_seq();
                    self.inodes[i].sizes.push((seq, (off + len) as u64));
                }
                let n = &mut self.inodes[i];
                n.dirty = true;
                n.written.push((off as u64, (off + len) as u64));
                if n.cur.len() < off + len {
                    n.cur.resize(off + len, 0);
                }
                n.cur[off..off + len].copy_from_slice(&data(fill, len));
                let tail = n.shadow.get(n.cur.len()..).unwrap_or_default().to_vec();
                n.shadow = [n.cur.clone(), tail].concat();
            }
            Op::Truncate { f, size } => {
                let i = self.linked[f].unwrap();
                let size = size as usize;
                if size != self.inodes[i].cur.len() {
                    let seq = self.next_seq();
                    self.inodes[i].sizes.push((seq, size as u64));
                }
                let n = &mut self.inodes[i];
                n.dirty = true;
                if size <= n.cur.len() {
                    // `shadow` keeps the removed bytes.
                    n.cur.truncate(size);
                } else {
                    n.cur.resize(size, 0);
                    let tail = n.shadow.get(size..).unwrap_or_default().to_vec();
                    n.shadow = [n.cur.clone(), tail].concat();
                }
            }
            Op::Sync { f } => {
                let i = self.linked[f].unwrap();
                let n = &mut self.inodes[i];
                if let Some(&(seq, _)) = n.sizes.last() {
                    self.watermark = self.watermark.max(seq);
                }
                n.synced = n.cur.clone();
                n.shadow = n.cur.clone();
                n.sizes.clear();
                n.written.clear();
                n.dirty = false;
            }
            Op::SyncDir { d } => {
                for f in (0..3).filter(|&f| dir_of(f) == d) {
                    if let Some(&(seq, _)) = self.pending[f].last() {
                        self.watermark = self.watermark.max(seq);
                    }
                    self.pending[f].clear();
                    self.durable[f] = self.linked[f];
                }
            }
            Op::Create { f } => {
                let seq = self.next_seq();
                self.inodes.push(Inode::default());
                self.linked[f] = Some(self.inodes.len() - 1);
                self.pending[f].push((seq, self.linked[f]));
            }
            Op::Delete { f } => {
                let seq = self.next_seq();
                self.linked[f] = None;
                // The model keeps one unsynced change per entry: a file created since the
                // directory's last sync and deleted again leaves nothing; otherwise what is
                // pending is the deletion of the durable file.
                if self.durable[f].is_none() {
                    self.pending[f].clear();
                } else {
                    let first = self.pending[f].first().map_or(seq, |&(s, _)| s);
                    self.pending[f] = vec![(first, None)];
                }
            }
        }
    }

    /// Whether `op` applies to the current state (the generator draws any op).
    pub(super) fn applies(&self, op: &Op) -> bool {
        match *op {
            Op::Write { f, .. } | Op::Truncate { f, .. } | Op::Sync { f } | Op::Delete { f } => {
                self.linked[f].is_some()
            }
            Op::Create { f } => self.linked[f].is_none(),
            Op::SyncDir { .. } => true,
        }
    }

    /// The inodes whose unsynced state a cut works on: linked ones, and the durable file of a
    /// pending deletion.
    pub(super) fn tracked(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.linked.iter().flatten().copied().collect();
        for f in 0..3 {
            if self.pending[f].first().is_some_and(|&(_, e)| e.is_none()) {
                v.extend(self.durable[f]);
            }
        }
        v.retain(|&i| self.inodes[i].dirty);
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Ordered metadata: the cut points (the first sequence number that does not persist).
    pub(super) fn cut_points(&self) -> Vec<u64> {
        let mut seqs: Vec<u64> = self
            .tracked()
            .iter()
            .flat_map(|&i| self.inodes[i].sizes.iter().map(|&(s, _)| s))
            .chain(self.pending.iter().flatten().map(|&(s, _)| s))
            .filter(|&s| s > self.watermark)
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs.push(u64::MAX);
        seqs
    }

    pub(super) fn len_at_cut(&self, i: usize, cut: u64) -> usize {
        let n = &self.inodes[i];
        if !n.dirty {
            return n.cur.len();
        }
        match n.sizes.iter().rev().find(|&&(s, _)| s < cut) {
            Some(&(_, size)) => size as usize,
            None if n.sizes.is_empty() => n.cur.len(),
            None => n.synced.len(),
        }
    }

    /// The metadata outcome of an ordered cut at `cut`.
    pub(super) fn ordered(&self, cut: u64) -> Meta {
        std::array::from_fn(|f| {
            let entry = match self.pending[f].iter().rev().find(|&&(s, _)| s < cut) {
                Some(&(_, e)) => e,
                None if self.pending[f].is_empty() => self.linked[f],
                None => self.durable[f],
            };
            entry.map(|i| (i, self.len_at_cut(i, cut)))
        })
    }

    /// Every allowed metadata outcome: ordered, one per cut point; independent, every
    /// combination of a keep/revert coin per pending entry and per size change.
    pub(super) fn outcomes(&self, metadata: MetadataOrder) -> Vec<Meta> {
        let mut out: Vec<Meta> = match metadata {
            MetadataOrder::Ordered => self.cut_points().iter().map(|&c| self.ordered(c)).collect(),
            MetadataOrder::Independent => {
                let mut states: Vec<[Option<usize>; 3]> = vec![[None; 3]];
                for f in 0..3 {
                    let mut choices = vec![self.linked[f]];
                    if !self.pending[f].is_empty() {
                        choices.push(self.durable[f]);
                    }
                    states = states
                        .iter()
                        .flat_map(|s| {
                            choices.iter().map(move |&c| {
                                let mut s = *s;
                                s[f] = c;
                                s
                            })
                        })
                        .collect();
                }
                let mut metas: Vec<Meta> = Vec::new();
                for s in states {
                    let mut ms: Vec<Meta> = vec![[None; 3]];
                    for (f, e) in s.iter().enumerate() {
                        let lens = match e {
                            None => vec![None],
                            Some(i) => {
                                let n = &self.inodes[*i];
                                let mut l = vec![Some((*i, n.cur.len()))];
                                if n.dirty && n.synced.len() != n.cur.len() {
                                    l.push(Some((*i, n.synced.len())));
                                }
                                l
                            }
                        };
                        ms = ms
                            .iter()
                            .flat_map(|m| {
                                lens.iter().map(move |&l| {
                                    let mut m = *m;
                                    m[f] = l;
                                    m
                                })
                            })
                            .collect();
                    }
                    metas.extend(ms);
                }
                metas
            }
        };
        out.sort();
        out.dedup();
        out
    }

    /// The one outcome of `Revert`.
    pub(super) fn reverted(&self, metadata: MetadataOrder) -> Meta {
        match metadata {
            MetadataOrder::Ordered => self.ordered(self.cut_points()[0]),
            MetadataOrder::Independent => std::array::from_fn(|f| {
                let e = if self.pending[f].is_empty() {
                    self.linked[f]
                } else {
                    self.durable[f]
                };
                e.map(|i| {
                    let n = &self.inodes[i];
                    (i, if n.dirty { n.synced.len() } else { n.cur.len() })
                })
            }),
        }
    }

    /// The outcome of `Keep`.
    pub(super) fn kept(&self) -> Meta {
        std::array::from_fn(|f| self.linked[f].map(|i| (i, self.inodes[i].cur.len())))
    }

    /// Sectors of inode `i` at length `len` whose latest and synced contents differ, as
    /// (start, end, latest, synced).
    pub(super) fn differing(&self, i: usize, len: usize) -> Vec<(usize, usize, Vec<u8>, Vec<u8>)> {
        let n = &self.inodes[i];
        let mut v = Vec::new();
        if !n.dirty {
            return v;
        }
        let sector = SECTOR as usize;
        for s in (0..len).step_by(sector) {
            let e = (s + sector).min(len);
            let (c, y) = (padded(&n.shadow, s, e), padded(&n.synced, s, e));
            if c != y {
                v.push((s, e, c, y));
            }
        }
        v
    }

    /// Paths whose content or existence was not durable.
    pub(super) fn affected(&self) -> Vec<String> {
        (0..3)
            .filter(|&f| {
                !self.pending[f].is_empty() || self.linked[f].is_some_and(|i| self.inodes[i].dirty)
            })
            .map(|f| PATHS[f].to_string())
            .collect()
    }
}

pub(super) fn data(fill: u8, len: usize) -> Vec<u8> {
    (0..len).map(|k| fill.wrapping_add(k as u8)).collect()
}

/// How one sector came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Class {
    Kept,
    Reverted,
    Garbled,
}

/// Classifies the files after a cut against the outcome `meta`; `Err` says why they do not
/// fit it.
pub(super) fn classify(
    model: &Model,
    meta: &Meta,
    files: &[Option<Vec<u8>>; 3],
    psow: bool,
) -> Result<Vec<Class>, String> {
    let mut classes = Vec::new();
    for f in 0..3 {
        let (i, len) = match (meta[f], &files[f]) {
            (None, None) => continue,
            (Some((i, len)), Some(b)) if b.len() == len => (i, len),
            (m, b) => {
                return Err(format!(
                    "{}: {m:?} vs {:?}",
                    PATHS[f],
                    b.as_ref().map(Vec::len)
                ))
            }
        };
        let got = files[f].as_ref().unwrap();
        let n = &model.inodes[i];
        let diff = model.differing(i, len);
        let mut s = 0;
        while s < len {
            let e = (s + SECTOR as usize).min(len);
            let g = &got[s..e];
            match diff.iter().find(|d| d.0 == s) {
                None => {
                    if g != padded(&n.shadow, s, e) {
                        return Err(format!("{}: durable sector {s} changed", PATHS[f]));
                    }
                }
                Some((_, _, c, y)) => {
                    if g == c.as_slice() {
                        classes.push(Class::Kept);
                    } else if g == y.as_slice() {
                        classes.push(Class::Reverted);
                    } else {
                        // Garbage: under powersafe overwrite only in bytes a write covered.
                        let outside = (s..e).any(|b| {
                            !n.written
                                .iter()
                                .any(|&(a, z)| (a as usize..z as usize).contains(&b))
                                && got[b] != c[b - s]
                        });
                        if psow && outside {
                            return Err(format!("{}: garbage outside the writes at {s}", PATHS[f]));
                        }
                        classes.push(Class::Garbled);
                    }
                }
            }
            s = e;
        }
    }
    Ok(classes)
}
