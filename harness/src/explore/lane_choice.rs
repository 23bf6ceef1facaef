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
        Ok(if mem.trace_hash != disk.trace_hash {
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
                .find(|&i| match (disk.trace.get(i), mem.trace.get(i)) {
                    (Some(a), Some(b)) => !same(a, b),
                    _ => true,
                })
                .unwrap_or(0);
            Some(format!(
                "its trace in memory differs from operation {i} on: disk {}, memory {}",
                show(disk.trace.get(i)),
                show(mem.trace.get(i))
            ))
        } else if claim_text(&mem.claim)
            .replace(&mem_root, &disk_root)
            .replace(&mem_vfs, &disk_vfs)
            != claim_text(&disk.claim)
        {
            // An error message may name the files and the VFS: the same claim about files
            // elsewhere.
            Some(format!(
                "its claim in memory differs ({:?}; on disk {:?})",
                mem.claim, disk.claim
            ))
        } else if in_memory != on_disk {
            Some(format!(
                "it leaves other files in memory ({in_memory:?}; on disk {on_disk:?})"
            ))
        } else {
            None
        })
    }
}

fn claim_text(c: &crate::event::Claim) -> String {
    format!("{c:?}")
}
