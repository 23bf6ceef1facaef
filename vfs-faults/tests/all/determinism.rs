//! Same seed, same trace; plans round-trip; occurrence counting matches the counters.

use crate::common::*;
use proptest::prelude::*;
use vfs_faults::*;

fn run(seed: u64) -> (u64, Vec<RuleHits>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    setup(&db, 20);
    let mut p = plan(vec![rule(
        &[OpKind::Write],
        Some(FileKind::MainDb),
        Occurrence::Probability(0.3),
        err(ErrorCode::IoerrWrite, false),
    )]);
    p.seed = seed;
    let v = vfs("det", p);
    v.set_role("*/d.db", "db");
    v.set_trace(true);
    let c = open(&db, &v).unwrap();
    for i in 0..30 {
        let _ = c.execute(
            "UPDATE t SET v = ?1 WHERE id % 3 = ?2",
            (format!("v{i}"), i % 3),
        );
    }
    drop(c);
    let t = v.trace();
    assert!(t
        .iter()
        .all(|e| e.role.as_deref() == Some("db") || e.file == FileKind::Other));
    (v.trace_hash(), v.rule_hits(), t.len())
}

#[test]
fn same_seed_same_trace_hash() {
    let a = run(11);
    let b = run(11);
    assert!(a.2 > 100);
    assert!(a.1[0].fired > 0);
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
}

#[test]
fn different_seeds_differ() {
    let a = run(11);
    let b = run(12);
    assert_ne!(a.0, b.0);
}

#[test]
fn trace_jsonl_is_one_entry_per_line() {
    let v = vfs("jsonl", FaultPlan::default());
    v.set_trace(true);
    let dir = tempfile::tempdir().unwrap();
    let c = open(&dir.path().join("j.db"), &v).unwrap();
    c.execute_batch("CREATE TABLE x(a)").unwrap();
    let text = v.trace_jsonl();
    let n = text.lines().count();
    assert_eq!(n, v.trace().len());
    let first: TraceEntry = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first.index, 0);
}

fn arb_occurrence() -> impl Strategy<Value = Occurrence> {
    prop_oneof![
        Just(Occurrence::Every),
        (1u64..40).prop_map(Occurrence::Nth),
        (1u64..40, 0u64..40).prop_map(|(f, d)| Occurrence::Range { from: f, to: f + d }),
        (0.0f64..1.0).prop_map(Occurrence::Probability),
    ]
}

fn arb_op() -> impl Strategy<Value = OpKind> {
    prop_oneof![
        Just(OpKind::Open),
        Just(OpKind::Read),
        Just(OpKind::Write),
        Just(OpKind::Sync),
        Just(OpKind::Delete),
        Just(OpKind::ShmLock),
        Just(OpKind::Unlock),
    ]
}

fn arb_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::IoerrRead),
        Just(ErrorCode::IoerrWrite),
        Just(ErrorCode::IoerrFsync),
        Just(ErrorCode::Full),
        Just(ErrorCode::Busy),
        Just(ErrorCode::Cantopen),
    ]
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (arb_code(), any::<bool>())
            .prop_map(|(code, persistent)| Action::Error { code, persistent }),
        (
            0u32..4,
            proptest::option::of(0u64..5000),
            proptest::option::of(arb_code())
        )
            .prop_map(|(keep_sectors, keep_bytes, then)| Action::TornWrite {
                keep_sectors,
                keep_bytes,
                then
            }),
        Just(Action::LostWrite),
        (0u64..100).prop_map(|keep_bytes| Action::ShortRead { keep_bytes }),
        (0u64..100).prop_map(|ms| Action::Delay { ms }),
        prop_oneof![Just(KillWhen::Before), Just(KillWhen::After)]
            .prop_map(|when| Action::Kill { when }),
        (
            prop_oneof![Just(PowerCutMode::Exit), Just(PowerCutMode::InProcess)],
            prop_oneof![
                Just(Unsynced::Random),
                Just(Unsynced::Revert),
                Just(Unsynced::Keep)
            ],
            prop_oneof![
                Just(MetadataOrder::Ordered),
                Just(MetadataOrder::Independent)
            ]
        )
            .prop_map(|(mode, unsynced, metadata)| Action::PowerCut {
                mode,
                unsynced,
                metadata
            }),
        "[a-z]{1,8}".prop_map(|name| Action::Marker { name }),
    ]
}

fn arb_rule() -> impl Strategy<Value = Rule> {
    (
        proptest::option::of("[a-z ]{0,10}"),
        proptest::collection::vec(arb_op(), 0..3),
        proptest::option::of(prop_oneof![
            Just(FileKind::MainDb),
            Just(FileKind::Wal),
            Just(FileKind::MainJournal)
        ]),
        proptest::option::of("[a-z]{1,6}"),
        proptest::option::of("/tmp/*.db"),
        arb_occurrence(),
        proptest::option::of("[a-z]{1,6}"),
        arb_action(),
    )
        .prop_map(
            |(name, ops, file, role, path, when, after_marker, action)| Rule {
                name,
                select: Selector {
                    ops,
                    file,
                    role,
                    path,
                    when,
                    after_marker,
                },
                action,
            },
        )
}

fn arb_plan() -> impl Strategy<Value = FaultPlan> {
    (
        0..=i64::MAX as u64,
        proptest::collection::vec(arb_rule(), 0..4),
    )
        .prop_map(|(seed, rules)| FaultPlan { seed, rules })
}

proptest! {
    #[test]
    fn plan_round_trips_through_json_and_toml(p in arb_plan()) {
        let json = p.to_env_value();
        prop_assert_eq!(&FaultPlan::parse(&json).unwrap(), &p);
        let toml = toml::to_string(&p).unwrap();
        prop_assert_eq!(&FaultPlan::parse(&toml).unwrap(), &p);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    /// A rule's `matched` equals the VFS's own count of the selected ops, and `fired` is exactly
    /// the number of occurrences the `when` selects among them.
    #[test]
    fn occurrence_counting_matches_counters(when in arb_occurrence().prop_filter("deterministic", |w| !matches!(w, Occurrence::Probability(_)))) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("o.db");
        setup(&db, 5);
        let v = vfs("occ", plan(vec![rule(&[OpKind::Write], Some(FileKind::MainDb), when.clone(), Action::Marker { name: "m".into() })]));
        let c = open(&db, &v).unwrap();
        for i in 0..8 {
            c.execute("INSERT INTO t VALUES(?1, 'o')", [100 + i]).unwrap();
        }
        drop(c);
        let n = v.counters().get(OpKind::Write, FileKind::MainDb);
        let h = &v.rule_hits()[0];
        prop_assert_eq!(h.matched, n);
        let expected = (1..=n).filter(|k| occurrence_fires(&when, *k)).count() as u64;
        prop_assert_eq!(h.fired, expected);
    }
}
