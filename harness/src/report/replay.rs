//! The replay command printed with every violation, and `replay`'s headline and exit code.
//!
//! Why its own module: the command must be the one the user can paste (cargo or the binary as
//! invoked, shell-quoted), and `replay` must say and exit the same way in every mode.

use crate::oracle::VerdictKind;

/// The `replay` command line for an ID, as the user runs the harness: `cargo run -- replay ID`
/// under cargo (`CARGO` is set), else this executable as it was invoked (`argv[0]`).
pub fn replay_command(id: &str) -> String {
    let argv0 = std::env::args().next();
    replay_command_for(std::env::var_os("CARGO").is_some(), argv0.as_deref(), id)
}

fn replay_command_for(under_cargo: bool, argv0: Option<&str>, id: &str) -> String {
    let program = match argv0.filter(|a| !under_cargo && !a.is_empty()) {
        Some(exe) => shell_word(exe),
        None if under_cargo => "cargo run --".into(),
        None => "sqlite-backup-harness".into(),
    };
    format!("{program} replay {}", shell_word(id))
}

/// `s` as one shell word: as it is when it needs no quoting, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:+=,@%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The exit code of `replay`: 1 when a run's verdict is a violation, else 0.
pub fn replay_exit_code(kinds: &[VerdictKind]) -> i32 {
    i32::from(kinds.iter().any(|k| k.is_violation()))
}

/// The first line `replay` prints: the verdict and its detail after one run; after several,
/// the tally of verdict kinds (most frequent first) and the detail of the first violation.
pub fn replay_headline(id: &str, kinds: &[VerdictKind], detail: &str) -> String {
    match kinds {
        [one] => format!("{id}: {} ({detail})", one.as_str()),
        _ => {
            let mut tally: Vec<(VerdictKind, usize)> = Vec::new();
            for &k in kinds {
                match tally.iter_mut().find(|(t, _)| *t == k) {
                    Some((_, n)) => *n += 1,
                    None => tally.push((k, 1)),
                }
            }
            tally.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
            let counts: Vec<String> = tally
                .iter()
                .map(|(k, n)| format!("{} {n}", k.as_str()))
                .collect();
            let first = kinds.iter().find(|k| k.is_violation()).map_or_else(
                || "no violation".to_string(),
                |k| format!("first {}: {detail}", k.as_str()),
            );
            format!(
                "{id}: {} runs: {} ({first})",
                kinds.len(),
                counts.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_commands_show_how_the_harness_was_invoked() {
        let id = "wal-storm:1:copy-naive:3";
        assert_eq!(
            replay_command_for(true, Some("target/debug/sqlite-backup-harness"), id),
            "cargo run -- replay wal-storm:1:copy-naive:3"
        );
        assert_eq!(
            replay_command_for(false, Some("./target/release/sqlite-backup-harness"), id),
            "./target/release/sqlite-backup-harness replay wal-storm:1:copy-naive:3"
        );
        assert_eq!(
            replay_command_for(false, Some("/opt/my tools/harness"), "/a b/s.toml:1:x:2"),
            "'/opt/my tools/harness' replay '/a b/s.toml:1:x:2'"
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(
            replay_command_for(false, None, id),
            "sqlite-backup-harness replay wal-storm:1:copy-naive:3"
        );
    }

    #[test]
    fn replay_exits_1_on_a_violation_and_tallies_its_runs() {
        use VerdictKind::*;
        assert_eq!(replay_exit_code(&[Snapshot]), 0);
        assert_eq!(replay_exit_code(&[Untouched, Error, Stall]), 0);
        assert_eq!(replay_exit_code(&[Snapshot, Torn, Snapshot]), 1);
        assert_eq!(replay_exit_code(&[FalseSuccess]), 1);
        assert_eq!(
            replay_headline("x:1:s:2", &[Torn], "k=3"),
            "x:1:s:2: torn (k=3)"
        );
        assert_eq!(
            replay_headline("x:1:s:2", &[Snapshot, Torn, Torn, Snapshot, Torn], "k=3"),
            "x:1:s:2: 5 runs: torn 3, snapshot 2 (first torn: k=3)"
        );
        assert_eq!(
            replay_headline("x:1:s:2", &[Snapshot, Untouched], "ok"),
            "x:1:s:2: 2 runs: snapshot 1, untouched 1 (no violation)"
        );
    }
}
