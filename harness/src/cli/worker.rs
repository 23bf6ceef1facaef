//! `worker ...`: the hidden subcommand the supervisor starts its child processes with (writers,
//! the checkpointer, the app's pipeline workers, the blocker, the backup worker, a tool).
//!
//! Why its own module: this is the protocol between the supervisor and its children, not a
//! command a user types; its arguments are built in `run::iteration` and `run::load`.

use super::run;
use crate::strategy::StrategyParams;
use crate::workload::WorkloadSpec;
use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum WorkerCommand {
    Writer {
        #[arg(long)]
        source: PathBuf,
        #[arg(long)]
        spec: String,
        #[arg(long)]
        id: u32,
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// `PRAGMA wal_autocheckpoint` of the writer (default: SQLite's).
        #[arg(long)]
        autocheckpoint: Option<u32>,
    },
    Checkpointer {
        #[arg(long)]
        source: PathBuf,
        #[arg(long)]
        interval_ms: u64,
        /// Checkpoint modes, cycled: `passive,truncate`.
        #[arg(long, value_delimiter = ',')]
        modes: Vec<String>,
    },
    Backup {
        #[arg(long)]
        strategy: String,
        #[arg(long)]
        source: PathBuf,
        #[arg(long)]
        dest: PathBuf,
        #[arg(long)]
        spec: String,
        #[arg(long)]
        params: String,
        /// The iteration's fault (JSON), when the worker carries it out.
        #[arg(long)]
        fault: Option<String>,
        /// Seed of the fault VFS's generator (power-cut outcomes).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Report the VFS's last operation every this many ms (for stall diagnoses).
        #[arg(long)]
        monitor_ms: Option<u64>,
        /// Neither read the source's meta.seq nor send `start` / `end` (crash exploration).
        #[arg(long)]
        no_seq: bool,
    },
    /// A pipeline worker of the scenario's app (`[app]`), until killed.
    App {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        id: u32,
        #[arg(long)]
        order: String,
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        #[arg(long, default_value_t = 0)]
        stage_ms: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Takes a lock on a database and holds it until killed (`dest-write`, `dest-read`,
    /// `source-write`).
    Blocker {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        hold: String,
    },
    /// `exec-tool -- PROG ARGS...`: becomes PROG (same pid), dying with the process that
    /// started it; how `external:<label>` strategies start their tool.
    ExecTool {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        argv: Vec<std::ffi::OsString>,
    },
}

pub(super) fn cmd_worker(role: WorkerCommand) -> Result<()> {
    let parse_spec = |s: &str| -> Result<WorkloadSpec> {
        serde_json::from_str(s).context("worker --spec is not a workload spec")
    };
    match role {
        WorkerCommand::Writer {
            source,
            spec,
            id,
            rate,
            autocheckpoint,
        } => run::worker::writer(&source, &parse_spec(&spec)?, id, rate, autocheckpoint),
        WorkerCommand::Checkpointer {
            source,
            interval_ms,
            modes,
        } => {
            let modes = modes
                .iter()
                .map(|m| {
                    crate::workload::CheckpointMode::parse(m)
                        .ok_or_else(|| anyhow!("worker --modes: unknown mode `{m}`"))
                })
                .collect::<Result<Vec<_>>>()?;
            run::worker::checkpointer(&source, interval_ms, &modes)
        }
        WorkerCommand::Backup {
            strategy,
            source,
            dest,
            spec,
            params,
            fault,
            seed,
            monitor_ms,
            no_seq,
        } => {
            let params: StrategyParams =
                serde_json::from_str(&params).context("worker --params")?;
            let fault: Option<crate::fault::Fault> = fault
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .context("worker --fault")?;
            run::worker::backup(
                &strategy,
                &source,
                &dest,
                &parse_spec(&spec)?,
                &params,
                fault.as_ref(),
                seed,
                monitor_ms,
                !no_seq,
            )
        }
        WorkerCommand::App {
            db,
            id,
            order,
            rate,
            stage_ms,
            seed,
        } => {
            let order = crate::workload::AppOrder::parse(&order)
                .ok_or_else(|| anyhow!("worker app --order: `{order}` is not right or wrong"))?;
            let pace = crate::workload::app::AppPace { rate, stage_ms };
            run::worker::app(&db, id, order, pace, seed)
        }
        WorkerCommand::Blocker { db, hold } => {
            let what = crate::workload::Blocker::parse(&hold)
                .ok_or_else(|| anyhow!("worker blocker --hold: unknown lock `{hold}`"))?;
            run::worker::blocker(&db, what)
        }
        WorkerCommand::ExecTool { argv } => run::worker::exec_tool(&argv),
    }
}
