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

#[path = "powercut_reference.rs"]
mod reference;

use super::*;
use crate::memdisk::MemDisk;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use reference::*;
use std::collections::BTreeSet;

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
