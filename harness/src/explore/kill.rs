//! Kill points: the backup worker process dies by SIGKILL from its own VFS before or after the
//! chosen operation; the supervisor then runs the oracle on what it left.
//!
//! Why its own module: process death is the one fault that needs a child (the existing
//! `worker backup` subcommand, armed through [`vfs_faults::PLAN_ENV`], with the source routed
//! through the VFS as in the in-process trace). A few children run at once, each in its own
//! scratch directory.

use super::reference::{ram_dir, Reference};
use super::ExploreError;
use crate::event::SOURCE_VFS_ENV;
use crate::event::{Claim, Event};
use crate::oracle::Verdict;
use crate::run::child::{describe_status, Child, Message, Tag};
use crate::scenario::DestinationChoice;
use crate::strategy::StrategyParams;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vfs_faults::FaultPlan;

/// What a kill state gave.
#[derive(Debug, Clone)]
pub struct KillOutcome {
    /// The worker died by SIGKILL before claiming anything.
    pub hit: bool,
    pub claim: Option<Claim>,
    pub exit: String,
    pub verdict: Verdict,
}

struct Slot {
    _dir: tempfile::TempDir,
    files: PathBuf,
    stderr: PathBuf,
}

/// Scratch directories for concurrent backup workers.
pub struct KillPool {
    slots: Vec<Slot>,
    /// How long a worker may run before it is killed as stalled.
    pub timeout: Duration,
}

impl KillPool {
    pub fn new(parallel: usize) -> Result<KillPool, ExploreError> {
        let mut slots = Vec::new();
        for _ in 0..parallel.max(1) {
            let dir = ram_dir("kill-")?;
            let root = dir
                .path()
                .canonicalize()
                .map_err(|e| ExploreError::Setup(format!("resolving a temp dir: {e}")))?;
            let files = root.join("s");
            std::fs::create_dir(&files)
                .map_err(|e| ExploreError::Setup(format!("creating {}: {e}", files.display())))?;
            slots.push(Slot {
                _dir: dir,
                stderr: root.join("backup.stderr"),
                files,
            });
        }
        Ok(KillPool {
            slots,
            timeout: Duration::from_secs(20),
        })
    }

    pub fn parallel(&self) -> usize {
        self.slots.len()
    }

    /// Runs up to [`KillPool::parallel`] plans at once, one worker each, and verifies each.
    pub fn run_batch(
        &mut self,
        r: &mut Reference,
        d: DestinationChoice,
        strategy: &str,
        params: &StrategyParams,
        plans: &[FaultPlan],
    ) -> Result<Vec<KillOutcome>, ExploreError> {
        assert!(
            plans.len() <= self.slots.len(),
            "batch larger than the pool"
        );
        let spec = serde_json::to_string(&r.spec).expect("spec serializes");
        let params_json = serde_json::to_string(params).expect("params serialize");
        let mut running = Vec::new();
        for (slot, plan) in self.slots.iter().zip(plans) {
            r.materialize(&slot.files, d)?;
            let (tx, rx) = mpsc::channel();
            let args = vec![
                "backup".to_string(),
                "--strategy".into(),
                strategy.to_string(),
                "--source".into(),
                slot.files.join("source.db").display().to_string(),
                "--dest".into(),
                slot.files.join("dest.db").display().to_string(),
                "--spec".into(),
                spec.clone(),
                "--params".into(),
                params_json.clone(),
            ];
            let env = vec![
                (vfs_faults::PLAN_ENV.to_string(), plan.to_env_value()),
                (SOURCE_VFS_ENV.to_string(), "1".to_string()),
            ];
            let child = Child::spawn(Tag::Backup, &args, &env, &slot.stderr, tx)
                .map_err(|e| ExploreError::Setup(format!("spawning a backup worker: {e}")))?;
            running.push((child, rx));
        }
        let mut out = Vec::new();
        for ((mut child, rx), slot) in running.into_iter().zip(&self.slots) {
            let started = Instant::now();
            let mut claim = None;
            let mut closed = false;
            while !closed {
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(Message::Event(_, Event::Claim { claim: c })) => claim = Some(c),
                    Ok(Message::Event(..)) => {}
                    Ok(Message::Closed(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                        closed = true
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                if started.elapsed() > self.timeout {
                    child.kill();
                    return Err(ExploreError::Setup(format!(
                        "{strategy}: backup worker did not finish in {:?} (stderr: {})",
                        self.timeout,
                        slot.stderr.display()
                    )));
                }
            }
            let status = child.wait();
            let exit = describe_status(status);
            let power_cut = format!("exit {}", vfs_faults::POWER_CUT_EXIT_CODE);
            let hit = claim.is_none() && (exit == "signal 9" || exit == power_cut);
            if claim.is_none() && !hit {
                let err = std::fs::read_to_string(&slot.stderr).unwrap_or_default();
                return Err(ExploreError::Setup(format!(
                    "{strategy}: backup worker ended with {exit} and no claim: {}",
                    err.trim()
                )));
            }
            let verdict = super::inprocess::verify_state(
                super::state_files::StateFiles::Dir(&slot.files),
                &slot.files.join("source.db"),
                &slot.files.join("dest.db"),
                r,
                d,
                claim.clone(),
            )?;
            out.push(KillOutcome {
                hit,
                claim,
                exit,
                verdict,
            });
        }
        Ok(out)
    }
}
