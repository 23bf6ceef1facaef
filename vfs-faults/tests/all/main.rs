//! The fault VFS's integration tests, one binary (linking the crate once instead of once per
//! file). Each module is one area; `common` holds the helpers they share. Tests that must die
//! (a power cut ends the process) re-run this binary as a child with `--exact module::name`.

mod common;

mod actions;
mod crash;
mod determinism;
mod engine;
mod memdisk;
mod plans;
mod powercut;
mod powercut_sectors;
mod storage;
