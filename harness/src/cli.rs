//! Command line: parses arguments and dispatches to the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "sqlite-backup-harness", version, about = "Verification and fault-injection harness for SQLite backups")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Benchmarks (JSON out).
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Commit-heavy workload through `unix` and through the fault VFS with nothing armed.
    VfsOverhead {
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench { which: BenchCommand::VfsOverhead { json: _ } } => 0,
    }
}
