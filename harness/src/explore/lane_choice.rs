//! Which lane the in-process states of a strategy × destination run on: the memory disk or
//! real files.
//!
//! Why its own module: the memory lane is only as honest as the proof that it behaves as the
//! disk does. That proof is made here, per strategy × destination, before any state runs: the
//! fault-free run in memory must give the same trace (every operation, offset, length and
//! result), the same claim and the same files as on disk. A strategy that changes files outside
//! SQLite (`std::fs`, another process) never gets the memory lane: its writes would not land on
//! the memory disk at all.

use super::inprocess::{Lane, LanePolicy, RunOutcome};
use super::sweep::Explorer;
use super::ExploreError;
use crate::scenario::DestinationChoice;
use crate::strategy::StrategyParams;
use vfs_faults::FaultPlan;

impl Explorer {
    /// The fault-free run with tracing on (on disk), and the lane the in-process states of
    /// this strategy × destination will run on: with [`LanePolicy::Auto`], the memory lane when
    /// the strategy writes only through SQLite and its fault-free run in memory gave the same
    /// trace (operations, offsets, lengths, results), the same claim and the same files.
    pub fn trace(
        &mut self,
        strategy: &str,
        params: &StrategyParams,
        d: DestinationChoice,
    ) -> Result<RunOutcome, ExploreError> {
        self.runner.set_lane(Lane::Disk)?;
        let disk = self.fault_free_run(strategy, params, d)?;
        // Kill states are judged on a memory disk under the same policy.
        match self.lanes {
            LanePolicy::Disk => self.pool.judge_in_memory = None,
            LanePolicy::Auto if self.pool.judge_in_memory.is_none() => {
                self.pool.judge_in_memory = Some(super::kill::MemoryJudge::new()?);
            }
            LanePolicy::Auto => {}
        }
        let why_not = match self.lanes {
            LanePolicy::Disk => Some("disk lane asked for".to_string()),
            LanePolicy::Auto => self.memory_differs(strategy, params, d, &disk)?,
        };
        let lane = if why_not.is_none() {
            Lane::Memory
        } else {
            Lane::Disk
        };
        self.runner.set_lane(lane)?;
        self.lane_reason = match why_not {
            None => "memory: the fault-free run is the same as on disk".to_string(),
            Some(why) => format!("disk: {why}"),
        };
        Ok(disk)
    }

    /// The fault-free run, traced, on the current lane's fresh copy of the reference.
    fn fault_free_run(
        &mut self,
        strategy: &str,
        params: &StrategyParams,
        d: DestinationChoice,
    ) -> Result<RunOutcome, ExploreError> {
        self.runner.materialize(&self.reference, d)?;
        self.runner.run(
            strategy,
            params,
            &self.reference,
            FaultPlan::default(),
            true,
        )
    }

    /// Why the memory lane would not run `strategy` as the disk did (`None`: it would). The
    /// disk lane holds the fault-free run's files when this is called.
    fn memory_differs(
        &mut self,
        strategy: &str,
        params: &StrategyParams,
        d: DestinationChoice,
        disk: &RunOutcome,
    ) -> Result<Option<String>, ExploreError> {
        let facts = crate::strategy::facts(strategy);
        if !facts.is_some_and(|f| f.dest_through_vfs && !f.link) {
            return Ok(Some(
                "the strategy changes files outside SQLite or ships them to another process"
                    .to_string(),
            ));
        }
        let on_disk = self.runner.file_summary()?;
        let disk_root = self.runner.files().root().to_string_lossy().into_owned();
        let disk_vfs = self.runner.vfs_name();
        self.runner.set_lane(Lane::Memory)?;
        let mem_root = self.runner.files().root().to_string_lossy().into_owned();
        let mem_vfs = self.runner.vfs_name();
        let mem = self.fault_free_run(strategy, params, d)?;
        let in_memory = self.runner.file_summary()?;
        self.runner.set_lane(Lane::Disk)?;
        Ok(lanes_differ(
            &LaneRun {
                outcome: disk,
                files: &on_disk,
                root: &disk_root,
                vfs: &disk_vfs,
            },
            &LaneRun {
                outcome: &mem,
                files: &in_memory,
                root: &mem_root,
                vfs: &mem_vfs,
            },
        ))
    }
}

/// What one lane's fault-free run showed: its outcome, its files (name, length, hash of a
/// database file's bytes), and the root and VFS names its messages may mention.
struct LaneRun<'a> {
    outcome: &'a RunOutcome,
    files: &'a [(String, u64, Option<u64>)],
    root: &'a str,
    vfs: &'a str,
}

/// Why the memory lane's fault-free run is not the disk's (`None`: it is the same run): the
/// first differing trace entry, a different claim (after putting the disk's root and VFS
/// names in the memory lane's), or different files (names, lengths or database bytes).
fn lanes_differ(disk: &LaneRun, mem: &LaneRun) -> Option<String> {
    let (d, m) = (disk.outcome, mem.outcome);
    if m.trace_hash != d.trace_hash {
        let show = |e: Option<&vfs_faults::TraceEntry>| match e {
            Some(e) => format!(
                "{:?} {:?} at {:?} len {:?} -> {}",
                e.op, e.file, e.offset, e.len, e.rc
            ),
            None => "nothing".to_string(),
        };
        let same = |a: &vfs_faults::TraceEntry, b: &vfs_faults::TraceEntry| {
            (a.op, a.file, &a.role, a.offset, a.len, a.rc)
                == (b.op, b.file, &b.role, b.offset, b.len, b.rc)
        };
        let i = (0..)
            .find(|&i| match (d.trace.get(i), m.trace.get(i)) {
                (Some(a), Some(b)) => !same(a, b),
                _ => true,
            })
            .unwrap_or(0);
        return Some(format!(
            "its trace in memory differs from operation {i} on: disk {}, memory {}",
            show(d.trace.get(i)),
            show(m.trace.get(i))
        ));
    }
    // An error message may name the files and the VFS: the same claim about files elsewhere.
    let mem_claim = claim_text(&m.claim)
        .replace(mem.root, disk.root)
        .replace(mem.vfs, disk.vfs);
    if mem_claim != claim_text(&d.claim) {
        return Some(format!(
            "its claim in memory differs ({:?}; on disk {:?})",
            m.claim, d.claim
        ));
    }
    if mem.files != disk.files {
        return Some(format!(
            "it leaves other files in memory ({:?}; on disk {:?})",
            mem.files, disk.files
        ));
    }
    None
}

fn claim_text(c: &crate::event::Claim) -> String {
    format!("{c:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Claim;
    use vfs_faults::{FileKind, OpKind, TraceEntry};

    fn entry(index: u64, op: OpKind, offset: i64, rc: i32) -> TraceEntry {
        TraceEntry {
            index,
            op,
            file: FileKind::MainDb,
            role: Some("destination".into()),
            path: Some(format!("/root{index}/dest.db")),
            offset: Some(offset),
            len: Some(4096),
            rc,
        }
    }

    fn outcome(claim: Claim, trace: Vec<TraceEntry>, trace_hash: u64) -> RunOutcome {
        RunOutcome {
            claim,
            rule_hits: Vec::new(),
            trace,
            trace_hash,
        }
    }

    type Files = Vec<(String, u64, Option<u64>)>;

    fn files() -> Files {
        vec![
            ("dest.db".into(), 8192, Some(7)),
            ("dest.db-journal".into(), 0, None),
            ("source.db".into(), 4096, Some(9)),
        ]
    }

    fn differ(disk: (&RunOutcome, &Files), mem: (&RunOutcome, &Files)) -> Option<String> {
        lanes_differ(
            &LaneRun {
                outcome: disk.0,
                files: disk.1,
                root: "/tmp/disk-1",
                vfs: "faults-disk",
            },
            &LaneRun {
                outcome: mem.0,
                files: mem.1,
                root: "/harness-memory-1",
                vfs: "faults-mem",
            },
        )
    }

    fn trace() -> Vec<TraceEntry> {
        vec![
            entry(0, OpKind::Write, 0, 0),
            entry(1, OpKind::Write, 4096, 0),
            entry(2, OpKind::Sync, 0, 0),
        ]
    }

    #[test]
    fn the_same_run_on_both_lanes_is_the_same() {
        let o = outcome(Claim::Success, trace(), 42);
        assert_eq!(differ((&o, &files()), (&o, &files())), None);
    }

    #[test]
    fn files_that_differ_in_content_length_or_name_refuse_the_memory_lane() {
        let o = outcome(Claim::Success, trace(), 42);
        let disk = files();
        let mut content = files();
        content[0].2 = Some(8);
        let mut length = files();
        length[2].1 = 8192;
        let mut name = files();
        name[1].0 = "dest.db-wal".into();
        let mut missing = files();
        missing.pop();
        let mut hashed = files();
        hashed[1].2 = Some(0);
        for mem in [content, length, name, missing, hashed] {
            let why = differ((&o, &disk), (&o, &mem)).expect("files differ");
            assert!(
                why.starts_with("it leaves other files in memory ("),
                "{why}"
            );
            assert!(why.contains(&format!("{mem:?}; on disk {disk:?}")), "{why}");
        }
    }

    #[test]
    fn a_claim_that_differs_beyond_the_lanes_names_refuses_the_memory_lane() {
        let on = |root: &str, vfs: &str| Claim::Error {
            message: format!("backup_step rc=10 on {root}/dest.db via {vfs}"),
        };
        let disk = outcome(on("/tmp/disk-1", "faults-disk"), trace(), 42);
        // The same error about the memory lane's files and VFS: the same claim.
        let mem = outcome(on("/harness-memory-1", "faults-mem"), trace(), 42);
        assert_eq!(differ((&disk, &files()), (&mem, &files())), None);
        for claim in [
            Claim::Success,
            Claim::Error {
                message: "backup_step rc=5 on /harness-memory-1/dest.db via faults-mem".into(),
            },
            Claim::Aborted {
                message: "backup_step rc=10 on /harness-memory-1/dest.db via faults-mem".into(),
            },
        ] {
            let mem = outcome(claim.clone(), trace(), 42);
            let why = differ((&disk, &files()), (&mem, &files())).expect("claims differ");
            assert_eq!(
                why,
                format!(
                    "its claim in memory differs ({claim:?}; on disk {:?})",
                    disk.claim
                )
            );
        }
        // A success on disk and an error in memory, the other way round.
        let ok = outcome(Claim::Success, trace(), 42);
        assert!(differ((&ok, &files()), (&disk, &files())).is_some());
    }

    #[test]
    fn a_trace_that_differs_names_its_first_differing_operation() {
        let disk = outcome(Claim::Success, trace(), 42);
        let mut t = trace();
        t[1].rc = 10;
        let mem = outcome(Claim::Success, t, 43);
        assert_eq!(
            differ((&disk, &files()), (&mem, &files())).as_deref(),
            Some(
                "its trace in memory differs from operation 1 on: disk Write MainDb at Some(4096) \
                 len Some(4096) -> 0, memory Write MainDb at Some(4096) len Some(4096) -> 10"
            )
        );
        // A shorter trace: the first missing operation.
        let mut t = trace();
        t.pop();
        let mem = outcome(Claim::Success, t, 44);
        assert_eq!(
            differ((&disk, &files()), (&mem, &files())).as_deref(),
            Some(
                "its trace in memory differs from operation 2 on: disk Sync MainDb at Some(0) \
                 len Some(4096) -> 0, memory nothing"
            )
        );
        // Entries that differ only in their index and path (which name the lane) are the
        // same; a different role is not.
        let mut t = trace();
        t[0].role = Some("source".into());
        let mem = outcome(Claim::Success, t, 45);
        assert!(differ((&disk, &files()), (&mem, &files()))
            .unwrap()
            .contains("from operation 0 on"));
        // The hash decides: the same hash is the same trace, and a claim or files are
        // compared next.
        let mem = outcome(Claim::Success, Vec::new(), 42);
        assert_eq!(differ((&disk, &files()), (&mem, &files())), None);
        let mem = outcome(Claim::Success, trace(), 46);
        assert_eq!(
            differ((&disk, &files()), (&mem, &files())).as_deref(),
            Some("its trace in memory differs from operation 3 on: disk nothing, memory nothing")
        );
    }
}
