//! Unit tests of scenario parsing and validation.

use super::*;
use crate::strategy::Synchronous;
use crate::workload::{CheckpointMode, JournalMode};

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, Path::new("scenarios/t.toml"))
}

const MINIMAL: &str = "seed = 3\n[[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n";

#[test]
fn minimal_scenario_gets_defaults() {
    let s = parse(MINIMAL).unwrap();
    assert_eq!(s.name, "t");
    assert_eq!(s.seed, 3);
    assert_eq!(s.iterations, 10);
    assert_eq!(s.strategies[0].params.npage, 100);
    assert_eq!(s.workload_spec().seed, 3);
}

#[test]
fn type_error_names_file_line_and_key() {
    let err = parse("seed = 1\n[workload]\nwriters = \"two\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("scenarios/t.toml:3: key `workload.writers`:"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn unknown_key_is_named() {
    let err = parse("seed = 1\n[source]\npagez = 5\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("scenarios/t.toml:3: key `source.pagez`"),
        "{err}"
    );
}

#[test]
fn syntax_error_has_a_line() {
    let err = parse("seed = 1\niterations = = 3\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("scenarios/t.toml:2:"), "{err}");
}

#[test]
fn out_of_range_value_is_named() {
    let err = parse(&format!("iterations = 0\n{MINIMAL}"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("key `iterations`") && err.contains("out of range"),
        "{err}"
    );
    let err = parse(&format!("{MINIMAL}npage = -5\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("key `strategy[0].npage`"), "{err}");
}

#[test]
fn validation_errors_point_at_the_offending_table_entry() {
    let text = "seed = 1\n\n[[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\nnpage = 5\n\n\
                [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\nnpage = -7\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(
        err.starts_with("scenarios/t.toml:11: key `strategy[1].npage`"),
        "{err}"
    );
    let text = format!("{MINIMAL}[source]\npages = 5\n[destination]\nkinds = []\n");
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.starts_with("scenarios/t.toml:8: key `destination.kinds`"),
        "{err}"
    );
    let text = format!("{MINIMAL}[source]\npage_size = 1000\n");
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.starts_with("scenarios/t.toml:6: key `source.page_size`"),
        "{err}"
    );
}

#[test]
fn unknown_strategy_points_to_list() {
    let err = parse("[[strategy]]\nname = \"nope\"\nexpect = \"safe\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown strategy `nope`") && err.contains("`list`"),
        "{err}"
    );
}

#[test]
fn select_strategies_keeps_only_entries_the_scenario_defines() {
    let text = format!(
        "{MINIMAL}[[strategy]]\nname = \"api-step\"\nlabel = \"step-10\"\nexpect = \"safe\"\nnpage = 10\n\
         [[strategy]]\nname = \"api-journal-off\"\nexpect = \"unsafe\"\n"
    );
    let mut s = parse(&text).unwrap();
    s.select_strategies("api-journal-off, step-10").unwrap();
    let ids: Vec<&str> = s.strategies.iter().map(|e| e.id()).collect();
    assert_eq!(ids, ["api-journal-off", "step-10"]);
    assert_eq!(s.strategies[0].expect, Expect::Unsafe);
    let mut s = parse(&text).unwrap();
    for (name, why) in [
        ("vacuum-into", "is not defined in the scenario"),
        ("bogus", "is not a strategy"),
    ] {
        let err = s.select_strategies(name).unwrap_err().to_string();
        assert!(
            err.contains(why) && err.contains("api-oneshot, step-10, api-journal-off"),
            "{name}: {err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
    // A name whose entries all carry labels (a matrix's cells) lists those labels.
    let err = s.select_strategies("api-step").unwrap_err().to_string();
    assert!(
        err.contains("labelled") && err.ends_with(": step-10"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    assert_eq!(s.strategies.len(), 3, "a refused selection changes nothing");
}

#[test]
fn external_entries_need_a_command_with_dst() {
    let ext =
        "[[strategy]]\nname = \"external:py\"\nexpect = \"safe\"\nfaults = [\"kill-delay\"]\n";
    let err = parse(ext).unwrap_err().to_string();
    assert!(
        err.contains("key `strategy[0].command`")
            && err.contains("external:py")
            && !err.contains('\n'),
        "{err}"
    );
    let err = parse(&format!("{ext}command = [\"cp\", \"{{src}}\", \"/x\"]\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("key `strategy[0].command`") && err.contains("{dst}"),
        "{err}"
    );
    let mut s = parse(&format!(
        "{ext}command = [\"cp\", \"{{src}}\", \"{{dst}}\"]\n"
    ))
    .unwrap();
    assert_eq!(s.strategies[0].params.command[2], "{dst}");
    let err = parse(&format!("{MINIMAL}command = [\"cp\"]\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("external:<label> strategies only"), "{err}");
    assert!(s.select_strategies("external:other").is_err());
    s.select_strategies("external:py").unwrap();
    assert_eq!(s.strategies.len(), 1);
}

#[test]
fn bundled_scenarios_parse() {
    for (name, _) in bundled() {
        Scenario::load(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn faults_a_strategy_cannot_receive_are_refused_at_load() {
    let copy = "[[strategy]]\nname = \"copy-locked\"\nexpect = \"safe\"\n";
    let err = parse(copy).unwrap_err().to_string();
    assert!(
        err.contains("key `faults.kinds`") && err.contains("kill-dest-op") && !err.contains('\n'),
        "{err}"
    );
    let own = format!("{copy}faults = [\"torn\"]\n");
    let err = parse(&own).unwrap_err().to_string();
    assert!(err.contains("key `strategy[0].faults`"), "{err}");
    assert!(parse(&format!("{copy}faults = [\"kill-delay\"]\n")).is_ok());
    let abort = "[[strategy]]\nname = \"vacuum-into\"\nexpect = \"safe\"\nfaults = [\"abort\"]\n";
    let err = parse(abort).unwrap_err().to_string();
    assert!(err.contains("sqlite3_backup_step"), "{err}");
}

#[test]
fn labels_make_one_strategy_two_entries() {
    let twice = "[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n\
                 [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n";
    let err = parse(twice).unwrap_err().to_string();
    assert!(err.contains("distinct `label`"), "{err}");
    let labelled = format!("{twice}label = \"step-extra\"\n");
    let s = parse(&labelled).unwrap();
    assert_eq!(s.strategies[1].id(), "step-extra");
    assert_eq!(s.strategy("step-extra").unwrap().name, "api-step");
    let err = parse(&format!("{twice}label = \"a:b\"\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("letters, digits"), "{err}");
}

#[test]
fn destination_keys_reach_the_plan_and_the_connection() {
    let text = "[destination]\nkinds = [\"existing-delete\"]\njournal_mode = \"truncate\"\n\
                synchronous = \"extra\"\npage_size = 1024\n\
                setup_sql = [\"CREATE TABLE items(price INT)\"]\n\
                [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n\
                [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n\
                [strategy.destination]\njournal_mode = \"memory\"\n";
    let s = parse(text).unwrap();
    let step = &s.strategies[0].params;
    assert_eq!(
        (step.dest_journal_mode, step.dest_synchronous),
        (Some(JournalMode::Truncate), Some(Synchronous::Extra))
    );
    assert_eq!(
        s.strategies[1].params.dest_journal_mode,
        Some(JournalMode::Memory)
    );
    let setup = s
        .destination
        .keys
        .merged(s.strategies[1].destination.as_ref())
        .setup(DestinationChoice::ExistingDelete, 4096);
    assert_eq!(setup.journal_mode, Some(JournalMode::Memory));
    assert_eq!(setup.page_size, 1024);
    assert_eq!(setup.setup_sql.len(), 1);
    let bad = text.replace("1024", "1000");
    assert!(parse(&bad)
        .unwrap_err()
        .to_string()
        .contains("destination.page_size"));
    let copy = "[destination]\njournal_mode = \"wal\"\n[[strategy]]\nname = \"copy-locked\"\n\
                expect = \"safe\"\nfaults = [\"kill-delay\"]\n";
    assert!(parse(copy)
        .unwrap_err()
        .to_string()
        .contains("cannot be applied"));
}

#[test]
fn checkpointer_modes_cycle_or_come_from_truncate_every() {
    let s = parse(&format!(
        "{MINIMAL}[checkpointer]\nmodes = [\"full\", \"restart\"]\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.checkpointer.cycle(),
        vec![CheckpointMode::Full, CheckpointMode::Restart]
    );
    let legacy = parse(MINIMAL).unwrap();
    let cycle = legacy.checkpointer.cycle();
    assert_eq!(cycle.len(), 10);
    assert_eq!(cycle[9], CheckpointMode::Truncate);
    let both = format!("{MINIMAL}[checkpointer]\nmodes = [\"full\"]\ntruncate_every = 3\n");
    assert!(parse(&both).unwrap_err().to_string().contains("not both"));
}

#[test]
fn a_matrix_expands_into_labelled_cells_with_their_expectations() {
    let s = parse(
        "[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n\
         unsafe_variants = [\"journal=off\", \"journal=delete,sync=full\"]\n\
         [strategy.matrix]\njournal_mode = [\"delete\", \"off\"]\nsynchronous = [\"full\", \"extra\"]\n",
    )
    .unwrap();
    let cells: Vec<(String, Expect, String)> = s
        .strategies
        .iter()
        .map(|e| (e.id().to_string(), e.expect, e.variant.clone().unwrap()))
        .collect();
    assert_eq!(
        cells,
        vec![
            (
                "api-step.delete.full".into(),
                Expect::Unsafe,
                "journal=delete,sync=full".into()
            ),
            (
                "api-step.delete.extra".into(),
                Expect::Safe,
                "journal=delete,sync=extra".into()
            ),
            (
                "api-step.off.full".into(),
                Expect::Unsafe,
                "journal=off,sync=full".into()
            ),
            (
                "api-step.off.extra".into(),
                Expect::Unsafe,
                "journal=off,sync=extra".into()
            ),
        ]
    );
    assert_eq!(
        s.strategies[1].params.dest_journal_mode,
        Some(JournalMode::Delete)
    );
    assert_eq!(
        s.strategies[1].params.dest_synchronous,
        Some(Synchronous::Extra)
    );
    assert!(variant_matches("journal=wal,sync=normal", "sync=normal"));
    assert!(!variant_matches(
        "journal=wal,sync=normal",
        "journal=wal,sync=full"
    ));
    // The variant is set by the expansion, never by the file.
    assert!(
        parse("[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\nvariant = \"x\"\n").is_err()
    );
}

#[test]
fn a_matrix_over_checkpoints_gives_each_cell_its_checkpointer() {
    let s = parse(
        "[checkpointer]\ninterval_ms = 7\n\
         [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n\
         [strategy.matrix]\ncheckpoint = [\"none\", \"restart\"]\nautocheckpoint = [false]\n",
    )
    .unwrap();
    let ids: Vec<&str> = s.strategies.iter().map(|e| e.id()).collect();
    assert_eq!(ids, ["api-step.none.off", "api-step.restart.off"]);
    let none = s.strategies[0].checkpointer.as_ref().unwrap();
    assert!(!none.enabled);
    let restart = s.strategies[1].checkpointer.as_ref().unwrap();
    assert!(restart.enabled);
    assert_eq!(restart.cycle(), vec![CheckpointMode::Restart]);
    assert_eq!(
        (restart.interval_ms, restart.autocheckpoint),
        (7, Some(false))
    );
    assert_eq!(
        s.strategies[1].variant.as_deref(),
        Some("checkpoint=restart,autocheckpoint=off")
    );
}

#[test]
fn values_that_cannot_work_are_refused_at_their_limit() {
    let refused = [
        (
            "[workload]\nwarmup_commits = 1000001\n",
            "workload.warmup_commits",
        ),
        (
            "[source]\npages = 1000000\npage_size = 8192\n",
            "source.pages",
        ),
        (
            "[source]\npages = 65537\npage_size = 65536\n",
            "source.pages",
        ),
        (
            "[checkpointer]\ninterval_ms = 0\n",
            "checkpointer.interval_ms",
        ),
        ("[faults]\ndelay_max_ms = 60001\n", "faults.delay_max_ms"),
        ("delay_max_ms = 60001\n", "strategy[0].delay_max_ms"),
        ("delay_min_ms = 301\n", "strategy[0].delay_min_ms"),
        ("[faults]\ndelay_min_ms = 301\n", "faults.delay_min_ms"),
    ];
    for (extra, key) in refused {
        let err = parse(&format!("{MINIMAL}{extra}"))
            .expect_err(extra)
            .to_string();
        assert!(err.contains(&format!("key `{key}`")), "{extra}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    let accepted = [
        "[workload]\nwarmup_commits = 1000000\n",
        "[source]\npages = 65536\npage_size = 65536\n",
        "[checkpointer]\ninterval_ms = 1\n",
        "[faults]\ndelay_max_ms = 60000\n",
        "delay_max_ms = 60000\n",
        "delay_min_ms = 100\ndelay_max_ms = 100\n",
        "[faults]\ndelay_min_ms = 300\n",
    ];
    for extra in accepted {
        parse(&format!("{MINIMAL}{extra}")).expect(extra);
    }
}

#[test]
fn a_file_over_1_mib_is_refused_before_it_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    let padding = "# padding\n".repeat((MAX_FILE_BYTES as usize) / 10 + 1);
    std::fs::write(&path, format!("{padding}{MINIMAL}")).unwrap();
    let err = Scenario::load(path.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, ScenarioError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
    // Just under the limit: loads.
    let fits = "# padding\n".repeat((MAX_FILE_BYTES as usize - MINIMAL.len()) / 10);
    std::fs::write(&path, format!("{fits}{MINIMAL}")).unwrap();
    Scenario::load(path.to_str().unwrap()).unwrap();
    // A device that never ends is refused before it is opened.
    if Path::new("/dev/zero").exists() {
        let err = Scenario::load("/dev/zero").unwrap_err();
        assert!(
            err.to_string()
                .contains("not a regular file (a character device)"),
            "{err}"
        );
    }
}

#[test]
fn ignore_tables_are_globs_that_spare_the_workloads_own_tables() {
    let with = |globs: &str| {
        parse(&format!(
            "seed = 1\n[workload]\nignore_tables = [{globs}]\n[[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n"
        ))
    };
    let s = with("\"_litestream_*\"").unwrap();
    assert_eq!(
        s.workload_spec().ignore_tables,
        vec!["_litestream_*".to_string()]
    );
    let e = with("\"t*\"").unwrap_err().to_string();
    assert!(
        e.contains("workload.ignore_tables") && e.contains("`t0`"),
        "{e}"
    );
    let e = with("\"x[\"").unwrap_err().to_string();
    assert!(e.contains("not a glob"), "{e}");
    // An app adds its own tables to the list.
    let app = parse(
        "seed = 1\n[app]\nworkers = 1\ninvariants = [{ name = \"n\", sql = \"SELECT 1 WHERE 0\" }]\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n",
    )
    .unwrap();
    assert_eq!(app.workload_spec().ignore_tables, vec!["app_*".to_string()]);
    let e = parse(
        "seed = 1\n[app]\nworkers = 1\n[[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("app.invariants"), "{e}");
}

#[test]
fn tool_paths_are_expanded_when_the_scenario_loads() {
    let text = "[[strategy]]\nname = \"external:py\"\nexpect = \"safe\"\noptional = true\nfaults = [\"kill-delay\"]\n\
                requires = [\"{tools}/python/apsw\"]\n\
                command = [\"python3\", \"{scenario_dir}/tools/x.py\", \"{src}\", \"{dst}\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::parse(text, &dir.path().join("t.toml")).unwrap();
    let e = &s.strategies[0];
    let here = dir.path().canonicalize().unwrap();
    assert_eq!(
        e.params.command,
        vec![
            "python3".to_string(),
            format!("{}/tools/x.py", here.display()),
            "{src}".into(),
            "{dst}".into(),
        ]
    );
    let tools = crate::strategy::external::tools_dir();
    assert_eq!(e.requires, vec![format!("{}/python/apsw", tools.display())]);
    assert!(e.optional);
}

#[test]
fn requires_and_optional_belong_to_external_entries() {
    for key in ["optional = true\n", "requires = [\"/x\"]\n"] {
        let err = parse(&format!("{MINIMAL}{key}")).unwrap_err().to_string();
        let name = key.split(' ').next().unwrap();
        assert!(
            err.contains(&format!("key `strategy[0].{name}`"))
                && err.contains("external:<label> strategies only"),
            "{err}"
        );
    }
}

#[test]
fn fault_vfs_decides_which_faults_reach_an_external_tool() {
    let tool = |route: &str, faults: &str| {
        format!(
            "[[strategy]]\nname = \"external:cli\"\nexpect = \"safe\"\n{route}faults = [{faults}]\n\
             command = [\"sqlite3\", \"{{src}}\", \".backup {{dst}}\"]\n"
        )
    };
    // Without the shim, a VFS fault cannot reach a tool: refused, with the way out named.
    let err = parse(&tool("", "\"power-cut\"")).unwrap_err().to_string();
    assert!(
        err.contains("key `strategy[0].faults`")
            && err.contains("fault_vfs = \"preload\"")
            && !err.contains('\n'),
        "{err}"
    );
    let err = parse(&tool("fault_vfs = \"static-sqlite\"\n", "\"kill-dest-op\""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("statically linked"), "{err}");
    // With it, power cuts and kills at an operation reach it; a power cut after the claim
    // cannot (the tool has exited).
    let s = parse(&tool(
        "fault_vfs = \"preload\"\n",
        "\"power-cut\", \"kill-dest-op\", \"kill-delay\"",
    ))
    .unwrap();
    assert!(s.strategies[0].facts().unwrap().dest_through_vfs);
    let err = parse(&tool(
        "fault_vfs = \"preload\"\n",
        "\"power-cut-after-claim\"",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("key `strategy[0].faults`") && err.contains("power-cut-after-claim"),
        "{err}"
    );
    // An unknown route names its line and key; the key belongs to external entries.
    let err = parse(&tool("fault_vfs = \"ld\"\n", "\"kill-delay\""))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("scenarios/t.toml:4: key `strategy[0].fault_vfs`")
            && err.contains("preload")
            && !err.contains('\n'),
        "{err}"
    );
    let err = parse(&format!("{MINIMAL}fault_vfs = \"preload\"\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("key `strategy[0].fault_vfs`")
            && err.contains("external:<label> strategies only"),
        "{err}"
    );
}
