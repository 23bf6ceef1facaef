//! Fuzzing (being written).
use super::ExploreError;
use crate::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Debug, Clone, serde::Serialize)]
pub struct FuzzReport {
    pub expectations_met: bool,
}
pub fn run(_s: &Scenario, _i: &AtomicBool) -> Result<FuzzReport, ExploreError> {
    Err(ExploreError::Setup("fuzz: not yet".into()))
}
pub fn bugbase_entry(_id: &str) -> Option<PathBuf> {
    None
}
pub fn replay_entry(_dir: &Path, _times: u32) -> Result<serde_json::Value, ExploreError> {
    Err(ExploreError::Setup("fuzz: not yet".into()))
}
