//! A verification and fault-injection harness for SQLite backups.
//!
//! Data flow, one module per stage:
//! scenario → workload / strategy / fault → run → oracle → report.
//!
//! * [`scenario`]: TOML scenario files, validated.
//! * [`workload`]: the deterministic transaction generator, writers, checkpointer, model.
//! * [`strategy`]: one module per backup strategy (add new ones there).
//! * [`stream`]: network backups: the sender VFS, the link and the receiver process.
//! * [`fault`]: what goes wrong in an iteration (kills, VFS fault plans).
//! * [`run`]: the supervisor, worker processes, killer and watchdog.
//! * [`oracle`]: the verdict on real files.
//! * [`report`]: JSON, Markdown and the terminal table.
//! * [`explore`]: systematic crash exploration (every operation × every fault), fuzzing,
//!   shrinking and the bug base.
//! * [`bench`]: the `bench` subcommands.
//! * [`console`]: printing output that a closed pipe (`| head`) cannot turn into a panic.
//! * [`heap`]: keeping freed memory in the process (exploration's many short connections).

pub mod bench;
pub mod cli;
pub mod console;
pub mod digest;
pub mod event;
pub mod explore;
pub mod fault;
pub mod gate;
pub mod heap;
pub mod oracle;
pub mod process;
pub mod replay_id;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stable_hash;
pub mod strategy;
pub mod stream;
pub mod textfile;
pub mod workload;
