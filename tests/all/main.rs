//! The harness's integration tests, one binary (linking the crate once instead of once per
//! file). Each module is one area; `support` holds the helpers they share.

mod support;

mod app_invariants;
mod cli;
mod closed_pipe;
mod end_to_end;
mod environment;
mod explore;
mod external;
mod gate;
mod gate_render;
mod interrupt;
mod kill_pool;
mod known_findings;
mod memory_lane;
mod oracle;
mod orphans;
mod power_cut_after_claim;
mod preload;
mod report_render;
mod strategies;
mod strategy_faults;
mod stream;
mod stuck_backup;
mod supervisor;
