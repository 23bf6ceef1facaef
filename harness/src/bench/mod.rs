//! The `bench` subcommands: measurements that print JSON rather than timed tests.

pub mod crash_rate;
pub mod digest;
pub mod restarts;
pub mod vfs_overhead;
