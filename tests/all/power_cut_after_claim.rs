//! A claimed success must be durable: the claim is recorded, then the power is cut with every
//! change that was not made durable at the mercy of the power-cut model. At SQLite's default
//! `synchronous=FULL` a rollback-journal commit deletes its journal without syncing the
//! directory, so the cut can bring the journal back and the next open rolls the destination
//! back: a claimed success that did not survive, which the oracle calls `false-success`.

use crate::support::*;
use harness::event::Claim;
use harness::oracle::{self, Observation, SourceCheck, VerdictKind, Window};
use harness::strategy::{self, StrategyContext, StrategyParams, Synchronous};
use harness::workload::{Model, WorkloadSpec};
use vfs_faults::{FaultPlan, FaultVfs, MetadataOrder, Options, PowerCutMode, Unsynced};

fn cut_after_claim(sync: Synchronous, name: &str) -> (VerdictKind, vfs_faults::CutReport) {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let (src, writer) = make_source(&dir_path);
    drop(writer);
    let dest = dir_path.join("dest.db");
    make_preexisting(&dest);
    let pre = oracle::take_pre_image(&dest).unwrap();
    let vfs = FaultVfs::register_with(
        name,
        Options {
            plan: FaultPlan::default(),
            track_power: true,
            ..Options::default()
        },
    )
    .unwrap();
    vfs.set_role(&dest.to_string_lossy(), "destination");
    let params = StrategyParams {
        npage: 7,
        dest_synchronous: Some(sync),
        ..StrategyParams::default()
    };
    let workload = WorkloadSpec::default();
    let mut emit = |_| {};
    let mut ctx = StrategyContext {
        source: &src,
        dest: &dest,
        source_vfs: None,
        dest_vfs: Some(name),
        params: &params,
        workload: &workload,
        abort_before_step: None,
        link_fault: None,
        emit: &mut emit,
    };
    let claim = strategy::by_name("api-step").unwrap().run(&mut ctx);
    assert_eq!(claim, Claim::Success);
    // Revert every change that was not made durable (the worst case the model allows).
    let report = vfs
        .power_cut_now_with(
            PowerCutMode::InProcess,
            Unsynced::Revert,
            MetadataOrder::Ordered,
        )
        .unwrap();
    vfs.set_plan(FaultPlan::default());
    // The source is a fixed file here, not the workload: its digest is not S(k). Judge the
    // destination by its own content instead: untouched means the backup did not survive.
    let mut model = Model::new(&workload).unwrap();
    let state = oracle::inspect_destination(&dest, &pre, &mut model).unwrap();
    let verdict = oracle::classify(
        &state,
        &Observation {
            claim: Some(claim),
            window: Window {
                k_start: 0,
                k_end: 0,
            },
            stall: None,
        },
        &SourceCheck { k: 0, damage: None },
    );
    if verdict.kind != VerdictKind::FalseSuccess {
        assert_eq!(content(&dest), content(&src), "{report:?}");
    }
    (verdict.kind, report)
}

#[test]
fn a_success_at_full_is_undone_by_a_power_cut_and_caught() {
    let (kind, report) = cut_after_claim(Synchronous::Full, "pcac-full");
    assert_eq!(kind, VerdictKind::FalseSuccess, "{report:?}");
    assert!(report.entries_reverted >= 1, "{report:?}");
}

#[test]
fn a_success_at_extra_survives_the_same_cut() {
    let (kind, report) = cut_after_claim(Synchronous::Extra, "pcac-extra");
    assert_ne!(kind, VerdictKind::FalseSuccess, "{report:?}");
}
