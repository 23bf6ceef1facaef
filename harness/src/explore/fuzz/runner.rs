//! Running: one case through the in-process fast path (one VFS, references reused), judged
//! by the oracle.

use super::case::FuzzCase;
use crate::event::Claim;
use crate::explore::inprocess::Runner;
use crate::explore::reference::Reference;
use crate::explore::ExploreError;
use crate::oracle::Verdict;
use crate::process::Interrupt;
use crate::scenario::DestinationChoice;
use std::collections::HashMap;
use vfs_faults::Action;

/// Runs cases, keeping one VFS and the references built so far.
pub struct CaseRunner {
    runner: Runner,
    refs: HashMap<(u32, u64, DestinationChoice), Reference>,
    /// Stops the building of a reference and the repeats of [`CaseRunner::check_times`].
    interrupted: Interrupt,
}

/// What a case gave.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    pub verdict: Verdict,
    pub fired: u64,
    pub claim: Option<Claim>,
}

impl CaseRunner {
    /// A runner stopped by the process's signal handle ([`Interrupt::process`]).
    pub fn new() -> Result<CaseRunner, ExploreError> {
        Ok(CaseRunner {
            runner: Runner::new()?,
            refs: HashMap::new(),
            interrupted: Interrupt::process(),
        })
    }

    /// The same runner, stopped by `interrupted` instead.
    pub fn stopped_by(mut self, interrupted: &Interrupt) -> CaseRunner {
        self.interrupted = interrupted.clone();
        self
    }

    /// Runs `case` `times` times (at least once), for `replay`: the verdict kind of every run,
    /// and the run to show (the first that violated, else the last).
    pub fn check_times(
        &mut self,
        case: &FuzzCase,
        times: u32,
    ) -> Result<(Vec<String>, CaseOutcome), ExploreError> {
        let mut kinds = Vec::new();
        let mut shown: Option<CaseOutcome> = None;
        for _ in 0..times.max(1) {
            if self.interrupted.is_set() {
                return Err(ExploreError::Interrupted);
            }
            let out = self.check(case)?;
            kinds.push(out.verdict.kind.as_str().to_string());
            if shown
                .as_ref()
                .is_none_or(|s| !s.verdict.kind.is_violation())
            {
                shown = Some(out);
            }
        }
        Ok((kinds, shown.expect("ran at least once")))
    }

    pub fn check(&mut self, case: &FuzzCase) -> Result<CaseOutcome, ExploreError> {
        let cuts = case
            .faults
            .iter()
            .any(|f| matches!(f.action, Action::PowerCut { .. }));
        if cuts && !crate::strategy::facts(&case.strategy).is_some_and(|f| f.dest_through_vfs) {
            return Err(ExploreError::Setup(format!(
                "{}: {} (not modelled)",
                case.strategy,
                crate::explore::points::POWER_CUT_NOT_MODELLED
            )));
        }
        let key = (case.pages, case.workload_seed, case.destination);
        if !self.refs.contains_key(&key) {
            if self.refs.len() > 64 {
                self.refs.clear();
            }
            let r = Reference::build(&case.spec(), &[case.destination], &self.interrupted)?;
            self.refs.insert(key, r);
        }
        let r = self.refs.get_mut(&key).expect("built");
        self.runner.materialize(r, case.destination)?;
        let dump = std::env::var_os("HARNESS_DUMP_TRACE");
        let run = self
            .runner
            .run(&case.strategy, &case.params, r, case.plan(), dump.is_some())?;
        if let Some(path) = dump {
            let lines: Vec<String> = run
                .trace
                .iter()
                .map(|t| serde_json::to_string(t).expect("trace entry"))
                .collect();
            let _ = std::fs::write(path, lines.join("\n") + "\n");
        }
        let fired: u64 = run.rule_hits.iter().map(|h| h.fired).sum();
        // After a power cut the process is gone as far as anyone can tell: no claim.
        let cut = case
            .faults
            .iter()
            .zip(&run.rule_hits)
            .any(|(f, h)| h.fired > 0 && matches!(f.action, Action::PowerCut { .. }));
        let claim = (!cut).then(|| run.claim.clone());
        let verdict = self.runner.verify(r, case.destination, claim.clone())?;
        Ok(CaseOutcome {
            verdict,
            fired,
            claim,
        })
    }
}
