//! Property tests of the power-cut model (`powercut.rs`): the crash states each policy may and
//! may not produce.
//!
//! Why: the unit tests pin single cases; a policy branch that is dropped or inverted can still
//! pass them. Here a proptest draws a sequence of writes, truncations, creations, deletions,
//! file syncs and directory syncs over three paths in two directories, applies it to a
//! [`MemDisk`] the way the VFS does (record, then change), cuts the power, and compares the
//! files with a small reference model. The reference keeps files as inodes (synced content,
//! current content, unsynced size changes) and directory entries (durable entry, unsynced entry
//! changes), and enumerates every allowed metadata outcome (ordered: one per cut point;
//! independent: every combination of per-entry and per-size coins) and, per sector, the
//! allowed contents (kept, reverted, garbled within the written bytes under powersafe
//! overwrite). Checked for each sequence:
//!
//! - `Keep` leaves every file as it is; `Revert` gives exactly the one durable state;
//! - `Random` always gives an allowed state, and over many seeds reaches every allowed
//!   metadata outcome and each sector class (kept, reverted, garbled);
//! - the cut report's counts and affected paths match the reference.
//!
//! Kept in their own file so that the model's line numbers, which `ci/mutants-equivalent.txt`
//! cites, stay put.

use super::*;
use crate::memdisk::MemDisk;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

/// The paths: two in directory `/a`, one in `/b`.
const PATHS: [&str; 3] = ["/a/x", "/a/y", "/b/z"];
const DIRS: [&str; 2] = ["/a", "/b"];
/// The device's sector: small, so that a file has many sectors.
const SECTOR: u64 = 16;
/// Seeds tried per sequence for the reachability checks.
const SEEDS: u64 = 1500;

#[derive(Debug, Clone)]
enum Op {
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

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..64u64, 8..40u64, 1..=255u8)
            .prop_map(|(f, off, len, fill)| Op::Write { f, off, len, fill }),
        1 => (0..3usize, 0..72u64).prop_map(|(f, size)| Op::Truncate { f, size }),
        1 => (0..3usize).prop_map(|f| Op::Sync { f }),
        1 => (0..2usize).prop_map(|d| Op::SyncDir { d }),
        1 => (0..3usize).prop_map(|f| Op::Create { f }),
        1 => (0..3usize).prop_map(|f| Op::Delete { f }),
    ]
}

/// One file's data, as the reference sees it.
#[derive(Debug, Clone, Default)]
struct Inode {
    /// Content at the last sync (creation: empty).
    synced: Vec<u8>,
    cur: Vec<u8>,
    /// `cur`, then beyond its end what truncations removed (a reverted truncation brings
    /// those bytes back).
    shadow: Vec<u8>,
    /// Unsynced size changes: (sequence number, new size).
    sizes: Vec<(u64, u64)>,
    /// Byte ranges unsynced writes covered.
    written: Vec<(u64, u64)>,
    /// Written or truncated since the last sync.
    dirty: bool,
}

/// The reference model of the files and directory entries.
#[derive(Debug, Clone, Default)]
struct Model {
    inodes: Vec<Inode>,
    linked: [Option<usize>; 3],
    durable: [Option<usize>; 3],
    /// Unsynced entry changes of each path: (sequence number, the entry after the change).
    pending: [Vec<(u64, Option<usize>)>; 3],
    seq: u64,
    /// Highest sequence number a sync made durable.
    watermark: u64,
}

fn dir_of(f: usize) -> usize {
    usize::from(f == 2)
}

/// One allowed metadata outcome: per path, the inode there and its length.
type Meta = [Option<(usize, usize)>; 3];

impl Model {
    fn new(initial: &[Option<Vec<u8>>; 3]) -> Model {
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

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Applies one op (the caller checked it applies).
    fn apply(&mut self, op: &Op) {
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
    fn applies(&self, op: &Op) -> bool {
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
    fn tracked(&self) -> Vec<usize> {
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
    fn cut_points(&self) -> Vec<u64> {
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

    fn len_at_cut(&self, i: usize, cut: u64) -> usize {
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
    fn ordered(&self, cut: u64) -> Meta {
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
    fn outcomes(&self, metadata: MetadataOrder) -> Vec<Meta> {
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
    fn reverted(&self, metadata: MetadataOrder) -> Meta {
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
    fn kept(&self) -> Meta {
        std::array::from_fn(|f| self.linked[f].map(|i| (i, self.inodes[i].cur.len())))
    }

    /// Sectors of inode `i` at length `len` whose latest and synced contents differ, as
    /// (start, end, latest, synced).
    fn differing(&self, i: usize, len: usize) -> Vec<(usize, usize, Vec<u8>, Vec<u8>)> {
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
    fn affected(&self) -> Vec<String> {
        (0..3)
            .filter(|&f| {
                !self.pending[f].is_empty() || self.linked[f].is_some_and(|i| self.inodes[i].dirty)
            })
            .map(|f| PATHS[f].to_string())
            .collect()
    }
}

fn data(fill: u8, len: usize) -> Vec<u8> {
    (0..len).map(|k| fill.wrapping_add(k as u8)).collect()
}

/// How one sector came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Kept,
    Reverted,
    Garbled,
}

/// Classifies the files after a cut against the outcome `meta`; `Err` says why they do not
/// fit it.
fn classify(
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

/// A generated case: the device, the durable files, the ops (those that apply).
#[derive(Debug, Clone)]
struct Case {
    psow: bool,
    initial: [Option<Vec<u8>>; 3],
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    let file = prop::option::of((0..48usize, any::<u8>()).prop_map(|(n, b)| data(b, n)));
    (
        any::<bool>(),
        [file.clone(), file.clone(), file],
        prop::collection::vec(op(), 1..8),
    )
        .prop_map(|(psow, initial, ops)| Case { psow, initial, ops })
}

/// Runs the case on a fresh disk, cuts the power, and returns the files and the report.
fn run(
    case: &Case,
    seed: u64,
    policy: Unsynced,
    metadata: MetadataOrder,
) -> ([Option<Vec<u8>>; 3], CutReport) {
    let disk = MemDisk::new();
    let device = Device {
        sector: SECTOR,
        psow: case.psow,
    };
    for (f, c) in case.initial.iter().enumerate() {
        if let Some(c) = c {
            disk.put(PATHS[f], c);
        }
    }
    let mut st = PowerState::default();
    let d: &dyn Disk = &*disk;
    for op in &case.ops {
        match *op {
            Op::Write { f, off, len, fill } => {
                let p = PATHS[f];
                let mut cur = d.read(p).unwrap();
                let size = cur.len() as u64;
                let old = cur
                    .get(off as usize..((off + len).min(size)) as usize)
                    .unwrap_or_default()
                    .to_vec();
                st.record(p, off, old, size, size.max(off + len), device);
                let (off, len) = (off as usize, len as usize);
                if cur.len() < off + len {
                    cur.resize(off + len, 0);
                }
                cur[off..off + len].copy_from_slice(&data(fill, len));
                d.write(p, &cur).unwrap();
            }
            Op::Truncate { f, size } => {
                let p = PATHS[f];
                let mut cur = d.read(p).unwrap();
                let old = cur.get(size as usize..).unwrap_or_default().to_vec();
                st.record(p, size, old, cur.len() as u64, size, device);
                cur.resize(size as usize, 0);
                d.write(p, &cur).unwrap();
            }
            Op::Sync { f } => st.synced(PATHS[f]),
            Op::SyncDir { d } => st.dir_synced(Path::new(DIRS[d])),
            Op::Create { f } => {
                d.write(PATHS[f], b"").unwrap();
                st.created(PATHS[f]);
            }
            Op::Delete { f } => {
                let content = d.read(PATHS[f]).ok();
                d.remove(PATHS[f]).unwrap();
                st.deleted(PATHS[f], content);
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let report = st.cut(&mut rng, policy, metadata, d).unwrap();
    let files = std::array::from_fn(|f| d.read(PATHS[f]).ok());
    (files, report)
}

/// The case with only the ops that apply, and the reference model after them.
fn prepare(mut case: Case) -> (Case, Model) {
    let mut model = Model::new(&case.initial);
    case.ops.retain(|op| {
        let ok = model.applies(op);
        if ok {
            model.apply(op);
        }
        ok
    });
    (case, model)
}

/// The number of sectors a cut to `meta` chooses for.
fn choices(model: &Model, meta: &Meta) -> u64 {
    meta.iter()
        .flatten()
        .map(|&(i, len)| model.differing(i, len).len() as u64)
        .sum()
}

const ORDERS: [MetadataOrder; 2] = [MetadataOrder::Ordered, MetadataOrder::Independent];

fn entries_reverted(model: &Model, meta: &Meta) -> u64 {
    (0..3)
        .filter(|&f| !model.pending[f].is_empty() && meta[f].map(|m| m.0) != model.linked[f])
        .count() as u64
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// `Keep` is a kill: every file as it is. `Revert` is the one durable state: every unsynced
    /// sector reverted, the metadata as the order allows.
    #[test]
    fn keep_and_revert_give_their_one_state(case in case()) {
        let (case, model) = prepare(case);
        for metadata in ORDERS {
            let (files, report) = run(&case, 0, Unsynced::Keep, metadata);
            let kept = model.kept();
            let classes = classify(&model, &kept, &files, case.psow);
            prop_assert!(classes.is_ok(), "Keep, {metadata:?}: {classes:?}");
            prop_assert!(classes.unwrap().iter().all(|&c| c == Class::Kept));
            let want = CutReport {
                affected: model.affected(),
                kept: choices(&model, &kept),
                ..CutReport::default()
            };
            prop_assert_eq!(&report, &want, "Keep, {:?}", metadata);

            let (files, report) = run(&case, 0, Unsynced::Revert, metadata);
            let reverted = model.reverted(metadata);
            let classes = classify(&model, &reverted, &files, case.psow);
            prop_assert!(classes.is_ok(), "Revert, {metadata:?}: {classes:?}");
            prop_assert!(classes.unwrap().iter().all(|&c| c == Class::Reverted));
            let want = CutReport {
                affected: model.affected(),
                reverted: choices(&model, &reverted),
                entries_reverted: entries_reverted(&model, &reverted),
                ..CutReport::default()
            };
            prop_assert_eq!(&report, &want, "Revert, {:?}", metadata);
        }
    }

    /// `Random` only gives allowed states, and over seeds reaches every allowed metadata
    /// outcome (one per cut point when ordered, every combination when independent) and each
    /// sector class.
    #[test]
    fn random_reaches_exactly_the_allowed_states(case in case()) {
        let (case, model) = prepare(case);
        for metadata in ORDERS {
            let allowed = model.outcomes(metadata);
            let mut reached: BTreeSet<Meta> = BTreeSet::new();
            let mut classes: BTreeSet<Class> = BTreeSet::new();
            let mut any_choice = false;
            for seed in 0..SEEDS {
                let (files, report) = run(&case, seed, Unsynced::Random, metadata);
                let fits: Vec<(&Meta, Vec<Class>)> = allowed
                    .iter()
                    .filter_map(|m| classify(&model, m, &files, case.psow).ok().map(|c| (m, c)))
                    .collect();
                prop_assert!(
                    !fits.is_empty(),
                    "{:?}, seed {}: {:?} is no allowed state (allowed: {:?})",
                    metadata, seed, files, allowed
                );
                prop_assert_eq!(&report.affected, &model.affected());
                let n = report.kept + report.reverted + report.garbled;
                prop_assert!(
                    fits.iter().any(|(m, _)| choices(&model, m) == n
                        && entries_reverted(&model, m) == report.entries_reverted),
                    "{:?}, seed {}: report {:?} fits no allowed state", metadata, seed, report
                );
                for (m, c) in fits {
                    reached.insert(*m);
                    any_choice |= !c.is_empty();
                    classes.extend(c);
                }
            }
            let allowed: BTreeSet<Meta> = allowed.into_iter().collect();
            prop_assert_eq!(&reached, &allowed, "{:?}: not every allowed outcome reached", metadata);
            if any_choice {
                let all: BTreeSet<Class> = [Class::Kept, Class::Reverted, Class::Garbled].into();
                prop_assert_eq!(&classes, &all, "{:?}", metadata);
            }
        }
    }
}
