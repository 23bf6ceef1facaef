//! Unit tests of the power-cut model (`powercut.rs`), kept in their own file so that the model's
//! line numbers, which `ci/mutants-equivalent.txt` cites, stay put.

use super::*;
use crate::disk::RealDisk;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fs;
use std::os::unix::fs::FileExt;

/// A 4096-byte file, durable as 0xAA, with one unsynced 512-byte write of 0xBB at 512;
/// returns the file after a random cut with the given seed.
fn cut_partial_sector_write(psow: bool, seed: u64) -> (Vec<u8>, CutReport) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    fs::write(&path, vec![0xAAu8; 4096]).unwrap();
    let p = path.to_string_lossy().into_owned();
    let mut st = PowerState::default();
    st.record(
        &p,
        512,
        vec![0xAA; 512],
        4096,
        4096,
        Device { sector: 4096, psow },
    );
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .write_all_at(&[0xBB; 512], 512)
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let report = st
        .cut(
            &mut rng,
            Unsynced::Random,
            MetadataOrder::Ordered,
            &RealDisk,
        )
        .unwrap();
    (fs::read(&path).unwrap(), report)
}

#[test]
fn powersafe_overwrite_never_garbles_bytes_outside_the_write() {
    let mut garbled = 0;
    for seed in 0..64 {
        let (bytes, report) = cut_partial_sector_write(true, seed);
        garbled += report.garbled;
        assert!(
            bytes[..512]
                .iter()
                .chain(&bytes[1024..])
                .all(|&b| b == 0xAA),
            "seed {seed}: a synced byte outside the write changed"
        );
    }
    assert!(garbled > 0, "no seed garbled the written range at all");
}

#[test]
fn without_powersafe_overwrite_the_whole_sector_can_turn_to_garbage() {
    let hit = (0..64).any(|seed| {
        let (bytes, _) = cut_partial_sector_write(false, seed);
        bytes[..512].iter().any(|&b| b != 0xAA)
    });
    assert!(
        hit,
        "a torn sector never reached the bytes beside the write"
    );
}

/// A directory of real files with the power-cut state kept the way the VFS keeps it: each
/// operation is recorded (what it overwrites, the sizes before and after), then done.
struct Disk {
    dir: tempfile::TempDir,
    st: PowerState,
    device: Device,
}

impl Disk {
    fn new(sector: u64, psow: bool) -> Disk {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["a", "b"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Disk {
            dir,
            st: PowerState::default(),
            device: Device { sector, psow },
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn read(&self, name: &str) -> Option<Vec<u8>> {
        fs::read(self.path(name)).ok()
    }

    /// A file that is durable already (content synced, entry in a synced directory).
    fn durable(&mut self, name: &str, content: &[u8]) {
        fs::write(self.path(name), content).unwrap();
    }

    /// Writes `data` at `off`, of which only the first `reached` bytes reach the file (a
    /// torn write); the record covers all of `data`, as the VFS records it before writing.
    fn torn_write(&mut self, name: &str, off: u64, data: &[u8], reached: usize) {
        let p = self.path(name);
        let cur = fs::read(&p).unwrap();
        let size = cur.len() as u64;
        let end = (off + data.len() as u64).min(size);
        let old = if off < size {
            cur[off as usize..end as usize].to_vec()
        } else {
            Vec::new()
        };
        let new_size = size.max(off + data.len() as u64);
        self.st.record(&p, off, old, size, new_size, self.device);
        let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.write_all_at(&data[..reached], off).unwrap();
    }

    fn write(&mut self, name: &str, off: u64, data: &[u8]) {
        self.torn_write(name, off, data, data.len());
    }

    fn truncate(&mut self, name: &str, size: u64) {
        let p = self.path(name);
        let cur = fs::read(&p).unwrap();
        let old = cur.get(size as usize..).unwrap_or_default().to_vec();
        self.st
            .record(&p, size, old, cur.len() as u64, size, self.device);
        fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(size)
            .unwrap();
    }

    /// Creates a new, empty file (a new directory entry).
    fn create(&mut self, name: &str) {
        let p = self.path(name);
        fs::write(&p, b"").unwrap();
        self.st.created(&p);
    }

    fn delete(&mut self, name: &str) {
        let p = self.path(name);
        let content = fs::read(&p).ok();
        fs::remove_file(&p).unwrap();
        self.st.deleted(&p, content);
    }

    fn sync(&mut self, name: &str) {
        self.st.synced(&self.path(name));
    }

    fn sync_dir(&mut self, sub: &str) {
        self.st.dir_synced(&self.dir.path().join(sub));
    }

    fn cut(&mut self, seed: u64, policy: Unsynced, metadata: MetadataOrder) -> CutReport {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.st.cut(&mut rng, policy, metadata, &RealDisk).unwrap()
    }
}

const A: u8 = 0xAA;
const B: u8 = 0xBB;

#[test]
fn with_powersafe_overwrite_a_garbled_sector_garbles_the_bytes_written() {
    let mut seen = 0;
    for seed in 0..64 {
        let (bytes, report) = cut_partial_sector_write(true, seed);
        if report.garbled == 1 {
            seen += 1;
            let w = &bytes[512..1024];
            assert!(
                w.iter().any(|&b| b != A) && w.iter().any(|&b| b != B),
                "seed {seed}: the written bytes are neither garbage nor old nor new"
            );
        }
    }
    assert!(seen > 0, "no seed garbled the sector");
}

#[test]
fn with_powersafe_overwrite_a_garbled_sector_garbles_the_bytes_appended() {
    let mut seen = 0;
    for seed in 0..64 {
        let mut d = Disk::new(4096, true);
        d.durable("f", &[A; 1024]);
        d.write("f", 1024, &[B; 512]);
        let report = d.cut(seed, Unsynced::Random, MetadataOrder::Ordered);
        let bytes = d.read("f").unwrap();
        assert!(bytes[..1024].iter().all(|&b| b == A), "seed {seed}");
        if report.garbled == 1 && bytes.len() == 1536 {
            seen += 1;
            assert!(
                bytes[1024..].iter().any(|&b| b != B),
                "seed {seed}: the appended bytes are not garbage"
            );
        }
    }
    assert!(seen > 0, "no seed kept the extension and garbled it");
}

#[test]
fn revert_undoes_an_unsynced_extension_under_both_metadata_orders() {
    for metadata in [MetadataOrder::Ordered, MetadataOrder::Independent] {
        let mut d = Disk::new(4096, true);
        d.durable("f", &[A; 1024]);
        d.write("f", 1024, &[B; 512]);
        d.cut(0, Unsynced::Revert, metadata);
        assert_eq!(d.read("f").unwrap(), vec![A; 1024], "{metadata:?}");
    }
}

#[test]
fn an_ordered_random_cut_sometimes_keeps_and_sometimes_reverts_a_size_change() {
    let mut sizes = std::collections::BTreeSet::new();
    for seed in 0..32 {
        let mut d = Disk::new(4096, true);
        d.durable("f", &[A; 1024]);
        d.write("f", 1024, &[B; 512]);
        d.cut(seed, Unsynced::Random, MetadataOrder::Ordered);
        sizes.insert(d.read("f").unwrap().len());
    }
    assert_eq!(sizes.into_iter().collect::<Vec<_>>(), vec![1024, 1536]);
}

/// The metadata order is about metadata: with only overwrites pending, the same seed gives
/// the same crash state under either order.
#[test]
fn without_metadata_changes_the_metadata_order_does_not_change_the_crash_state() {
    let run = |seed: u64, metadata: MetadataOrder| {
        let mut d = Disk::new(512, false);
        d.durable("f", &[A; 4096]);
        d.write("f", 0, &[B; 4096]);
        let report = d.cut(seed, Unsynced::Random, metadata);
        (
            d.read("f").unwrap(),
            report.kept,
            report.reverted,
            report.garbled,
        )
    };
    for seed in 0..8 {
        assert!(
            run(seed, MetadataOrder::Ordered) == run(seed, MetadataOrder::Independent),
            "seed {seed}"
        );
    }
}

/// Ordered metadata: a sync that makes a size change durable makes the earlier ones
/// durable too; a cut after it keeps the size the last durable change set, and reverts
/// the later one.
#[test]
fn an_ordered_cut_between_two_extensions_keeps_the_size_of_the_durable_one() {
    let mut d = Disk::new(512, true);
    d.durable("f", &[A; 1024]);
    d.durable("g", &[A; 1024]);
    d.write("f", 1024, &[B; 1024]);
    d.write("g", 1024, &[B; 1024]);
    d.sync("g");
    d.write("f", 2048, &[B; 1024]);
    d.cut(0, Unsynced::Revert, MetadataOrder::Ordered);
    let f = d.read("f").unwrap();
    assert_eq!(
        f.len(),
        2048,
        "the first extension persists, the second does not"
    );
    // Its size is durable, its data is not: the reverted sectors hold what the extension
    // found there (nothing: zeros).
    assert_eq!(&f[..1024], &[A; 1024]);
    assert!(f[1024..].iter().all(|&b| b == 0));
}

/// A torn write that would have extended the file reached only part of it: kept, the file
/// has the size the device reached, not the size the write asked for.
#[test]
fn a_kept_torn_extension_has_the_size_the_write_reached() {
    for metadata in [MetadataOrder::Ordered, MetadataOrder::Independent] {
        let mut d = Disk::new(512, true);
        d.durable("f", &[A; 1024]);
        d.torn_write("f", 1024, &[B; 2048], 512);
        d.cut(0, Unsynced::Keep, metadata);
        let mut want = vec![A; 1024];
        want.extend_from_slice(&[B; 512]);
        assert_eq!(d.read("f").unwrap(), want, "{metadata:?}");
    }
}

/// A truncation, then a write that extends the file past the truncated range: a revert
/// restores the synced bytes and size, keeping leaves the file as it is.
#[test]
fn a_truncation_then_an_extension_past_it_reverts_to_the_synced_file() {
    for (policy, want) in [
        (Unsynced::Revert, vec![A; 4096]),
        (Unsynced::Keep, [vec![A; 2048], vec![0xCC; 4096]].concat()),
    ] {
        let mut d = Disk::new(512, true);
        d.durable("f", &[A; 4096]);
        d.truncate("f", 2048);
        d.write("f", 2048, &[0xCC; 4096]);
        d.cut(0, policy, MetadataOrder::Ordered);
        assert!(d.read("f").unwrap() == want, "{policy:?}");
    }
}

/// Ordered metadata: a directory sync makes its entries durable, and with them every
/// earlier change, in any directory.
#[test]
fn a_directory_sync_makes_every_earlier_creation_durable() {
    let mut d = Disk::new(512, true);
    d.create("a/x");
    d.create("a/y");
    d.create("b/z");
    d.sync_dir("b");
    let report = d.cut(0, Unsynced::Revert, MetadataOrder::Ordered);
    assert_eq!(report.entries_reverted, 0, "{report:?}");
    for f in ["a/x", "a/y", "b/z"] {
        assert!(d.read(f).is_some(), "{f} is gone");
    }
}

/// A directory sync says nothing about a later creation in another directory.
#[test]
fn a_directory_sync_leaves_a_later_creation_elsewhere_unsynced() {
    let mut d = Disk::new(512, true);
    d.create("b/z");
    d.create("a/x");
    d.sync_dir("b");
    let report = d.cut(0, Unsynced::Revert, MetadataOrder::Ordered);
    assert_eq!(report.entries_reverted, 1, "{report:?}");
    assert!(d.read("b/z").is_some());
    assert!(d.read("a/x").is_none(), "the later creation was reverted");
}

/// Deleted, then created again, both unsynced: reverting the deletion brings back the old
/// content (the durable entry never changed).
#[test]
fn a_reverted_deletion_brings_back_the_old_content_of_a_recreated_file() {
    let mut d = Disk::new(512, true);
    d.durable("a/f", &[A; 1000]);
    d.delete("a/f");
    d.create("a/f");
    d.write("a/f", 0, &[B; 300]);
    let report = d.cut(0, Unsynced::Revert, MetadataOrder::Ordered);
    assert_eq!(d.read("a/f"), Some(vec![A; 1000]));
    assert_eq!(report.entries_reverted, 1, "{report:?}");
}

#[test]
fn keep_keeps_a_deleted_and_recreated_file_as_it_is() {
    let mut d = Disk::new(512, true);
    d.durable("a/f", &[A; 1000]);
    d.delete("a/f");
    d.create("a/f");
    d.write("a/f", 0, &[B; 300]);
    let report = d.cut(0, Unsynced::Keep, MetadataOrder::Ordered);
    assert_eq!(d.read("a/f"), Some(vec![B; 300]));
    assert_eq!(report.entries_reverted, 0, "{report:?}");
}

/// Ordered metadata: a sync after the deletion makes the deletion durable; the creation
/// that followed the sync is still undone, so the file is gone (neither old nor new).
#[test]
fn a_durable_deletion_stays_while_the_later_recreation_is_undone() {
    let mut d = Disk::new(512, true);
    d.durable("a/f", &[A; 1000]);
    d.durable("a/g", &[A; 1000]);
    d.delete("a/f");
    d.write("a/g", 1000, &[B; 24]);
    d.sync("a/g");
    d.create("a/f");
    d.write("a/f", 0, &[B; 300]);
    let report = d.cut(0, Unsynced::Revert, MetadataOrder::Ordered);
    assert_eq!(d.read("a/f"), None);
    assert_eq!(report.entries_reverted, 1, "{report:?}");
    assert_eq!(
        d.read("a/g").unwrap().len(),
        1024,
        "the synced extension stays"
    );
}
