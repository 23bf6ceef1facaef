//! The fault model: one vocabulary for every mode. A fault is an *action* ([`FaultAction`])
//! at a *placement* ([`Placement`]).
//!
//! Why it exists: storm iterations, crash-point sweeps, fuzz cases and replays all place the
//! same faults, and every one of them reaches the VFS through [`OpFault::rule`], the only
//! place that builds a `vfs_faults::Rule`. A mode only decides *where*:
//!
//! * storm mode draws one [`Fault`] per iteration from a named [`FaultKind`] ([`kind`]);
//! * crash-points places a [`PointKind`] at every operation of a trace ([`point`]);
//! * fuzz draws [`OpFault`]s directly.
//!
//! To add a fault kind: a [`FaultKind`] variant with its name, its requirement
//! ([`FaultKind::requires`]) and its draw ([`FaultKind::draw`]); the compiler finds the rest.
//! A new VFS action also needs a `vfs_faults::Action` and a [`FaultAction::to_vfs`] arm.
//! Which kinds can reach a strategy comes from the strategy's own facts
//! (`crate::strategy::Facts`), never from its name.

pub mod action;
pub mod kind;
pub mod placement;
pub mod point;

pub use action::FaultAction;
pub use kind::{DrawContext, FaultKind};
pub use placement::{Fault, OpFault, OpSite, Placement};
pub use point::{CrashWindow, PointKind};

/// The role the backup worker gives the destination path in its fault VFS.
pub const DEST_ROLE: &str = "destination";
/// The role the backup worker gives the source path in its fault VFS.
pub const SOURCE_ROLE: &str = "source";
