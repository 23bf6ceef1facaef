//! Keys that would have no effect where they are written: each is refused with the key and
//! why, as the README promises ("no key is silently ignored").
//!
//! Why its own module: serde refuses keys nobody knows and `keys` the keys a mode does not
//! use; these are keys a mode uses, written where the rest of the scenario makes them mean
//! nothing (`npage` of a strategy that never steps, `delay_max_ms` without a `kill-delay`).
//! Which strategy reads which key comes from its registered [`Facts`](crate::strategy::Facts),
//! never from its name, so a new strategy gets this right by declaring its facts.

use super::*;
use crate::fault::FaultKind;

/// `Err((key, message))` for the first key of `text` that has no effect. `entries` are the
/// `[[strategy]]` entries as written (before any `[strategy.matrix]` is expanded: index `i`
/// is the i-th entry of the file); `scenario` is the expanded, validated scenario.
pub(super) fn check(
    scenario: &Scenario,
    entries: &[StrategyEntry],
    text: &str,
) -> Result<(), (String, String)> {
    let Ok(raw) = toml::from_str::<toml::Table>(text) else {
        return Ok(()); // serde reported it already
    };
    let section = |name: &str| raw.get(name).and_then(|v| v.as_table());
    let sets = |name: &str, key: &str| match name {
        "" => raw.contains_key(key),
        _ => section(name).is_some_and(|t| t.contains_key(key)),
    };
    let raw_entries: Vec<&toml::Table> = raw
        .get("strategy")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|e| e.as_table()).collect())
        .unwrap_or_default();
    let no_effect = |key: String, why: String| Err((key.clone(), format!("has no effect: {why}")));

    for (i, id) in scenario.known.iter().enumerate() {
        let strategy = match crate::replay_id::ReplayId::parse(id) {
            Some(crate::replay_id::ReplayId::Storm { strategy, .. })
            | Some(crate::replay_id::ReplayId::Crash { strategy, .. })
            | Some(crate::replay_id::ReplayId::Fuzz { strategy, .. }) => strategy,
            None => continue, // validate refused it
        };
        if scenario.strategy(&strategy).is_none() {
            let ids: Vec<&str> = scenario.strategies.iter().map(|s| s.id()).collect();
            return no_effect(
                format!("known[{i}]"),
                format!(
                    "`{id}` names strategy `{strategy}`, which is no entry of this scenario \
                     (entries: {})",
                    ids.join(", ")
                ),
            );
        }
    }

    if scenario.mode == Mode::Storm {
        storm_sections(scenario, entries, &sets, &no_effect)?;
    }

    for (i, (e, t)) in entries.iter().zip(&raw_entries).enumerate() {
        let Some(facts) = e.facts() else {
            continue; // validate refused the name
        };
        let key = |k: &str| format!("strategy[{i}].{k}");
        let step_keys = ["npage", "sleep_ms", "max_restarts"];
        if let Some(k) = step_keys
            .iter()
            .find(|k| !facts.steps && t.contains_key(**k))
        {
            return no_effect(
                key(k),
                format!(
                    "{} does not call sqlite3_backup_step in steps of `npage` pages (so no \
                     `sleep_ms` between steps, no restarts to count)",
                    e.name
                ),
            );
        }
        if !facts.busy_timeout && t.contains_key("busy_timeout_ms") {
            return no_effect(
                key("busy_timeout_ms"),
                format!(
                    "{} opens no SQLite connection on the source of its own, so it has no \
                     busy timeout",
                    e.name
                ),
            );
        }
        let pragmas = [
            ("dest_journal_mode", facts.dest_pragmas),
            ("dest_synchronous", facts.dest_synchronous),
        ];
        if let Some((k, _)) = pragmas
            .iter()
            .find(|(k, applies)| !applies && t.contains_key(*k))
        {
            return no_effect(
                key(k),
                format!(
                    "{} does not apply it to a destination connection (it opens none, or \
                     sets that pragma itself)",
                    e.name
                ),
            );
        }
        if !e.caught_as.is_empty() && e.expect != Expect::Unsafe && e.unsafe_variants.is_empty() {
            return no_effect(
                key("caught_as"),
                format!(
                    "the entry expects `{}`: `caught_as` names what catches an `unsafe` entry",
                    e.expect.as_str()
                ),
            );
        }
        if !e.unsafe_variants.is_empty() && e.matrix.is_none() {
            return no_effect(
                key("unsafe_variants"),
                "the entry has no [strategy.matrix]: `unsafe_variants` picks matrix cells".into(),
            );
        }
        if scenario.mode == Mode::Storm {
            storm_entry(scenario, e, t, i, &no_effect)?;
        }
    }
    Ok(())
}

type NoEffect<'a> = dyn Fn(String, String) -> Result<(), (String, String)> + 'a;

/// The fault kinds entry `e` draws from.
fn kinds<'a>(scenario: &'a Scenario, e: &'a StrategyEntry) -> &'a [FaultKind] {
    e.faults.as_deref().unwrap_or(&scenario.faults.kinds)
}

fn is_power_cut(k: &FaultKind) -> bool {
    matches!(k, FaultKind::PowerCut | FaultKind::PowerCutAfterClaim)
}

/// The destinations entry `e` backs up into.
fn dests<'a>(scenario: &'a Scenario, e: &'a StrategyEntry) -> &'a [DestinationChoice] {
    e.destinations
        .as_deref()
        .unwrap_or(&scenario.destination.kinds)
}

const FRESH_WHY: &str = "a `fresh` destination has no file before the backup (the backup \
                         creates it); `page_size` and `setup_sql` shape a pre-existing one";

/// `[destination]`, `[faults]` and `[app]` keys that no entry uses.
fn storm_sections(
    scenario: &Scenario,
    entries: &[StrategyEntry],
    sets: &dyn Fn(&str, &str) -> bool,
    no_effect: &NoEffect<'_>,
) -> Result<(), (String, String)> {
    for k in ["page_size", "setup_sql"] {
        // Used by an entry that does not set its own and backs up into a pre-existing file.
        let used = entries.iter().any(|e| {
            let own = e.destination.as_ref().is_some_and(|d| match k {
                "page_size" => d.page_size.is_some(),
                _ => !d.setup_sql.is_empty(),
            });
            !own && dests(scenario, e)
                .iter()
                .any(|d| *d != DestinationChoice::Fresh)
        });
        if sets("destination", k) && !used {
            return no_effect(
                format!("destination.{k}"),
                format!("no entry backs up into a destination it applies to: {FRESH_WHY}"),
            );
        }
    }
    for k in ["delay_max_ms", "delay_min_ms"] {
        let used = entries.iter().any(|e| {
            let own = match k {
                "delay_max_ms" => e.delay_max_ms.is_some(),
                _ => e.delay_min_ms.is_some(),
            };
            !own && kinds(scenario, e).contains(&FaultKind::KillDelay)
        });
        if sets("faults", k) && !used {
            return no_effect(
                format!("faults.{k}"),
                "no entry draws the `kill-delay` fault, the only one with a delay".into(),
            );
        }
    }
    for k in ["power_cut_metadata", "power_cut_unsynced"] {
        let used = entries
            .iter()
            .any(|e| kinds(scenario, e).iter().any(is_power_cut));
        if sets("faults", k) && !used {
            return no_effect(
                format!("faults.{k}"),
                "no entry draws a `power-cut` or `power-cut-after-claim` fault".into(),
            );
        }
    }
    let scenario_sql = !scenario.app.invariants.is_empty()
        || !scenario.destination.keys.setup_sql.is_empty()
        || entries.iter().any(|e| {
            e.destination
                .as_ref()
                .is_some_and(|d| !d.setup_sql.is_empty())
        });
    if sets("", "sql_timeout_ms") && !scenario_sql {
        return no_effect(
            "sql_timeout_ms".into(),
            "the scenario has no SQL of its own (`setup_sql`, `[app] invariants`) to time".into(),
        );
    }
    if scenario.app.workers == 0 {
        if let Some(k) = ["order", "rate", "stage_ms"]
            .into_iter()
            .find(|k| sets("app", k))
        {
            return no_effect(
                format!("app.{k}"),
                "`[app] workers` is 0: there is no application to run".into(),
            );
        }
    }
    Ok(())
}

/// Storm keys of entry `e` (the `i`-th, `t` as written) that the rest of it makes meaningless.
fn storm_entry(
    scenario: &Scenario,
    e: &StrategyEntry,
    t: &toml::Table,
    i: usize,
    no_effect: &NoEffect<'_>,
) -> Result<(), (String, String)> {
    let key = |k: &str| format!("strategy[{i}].{k}");
    let kill_delay = kinds(scenario, e).contains(&FaultKind::KillDelay);
    if let Some(k) = ["delay_max_ms", "delay_min_ms"]
        .into_iter()
        .find(|k| !kill_delay && t.contains_key(*k))
    {
        return no_effect(
            key(k),
            format!(
                "{}: the entry does not draw the `kill-delay` fault, the only one with a delay",
                e.id()
            ),
        );
    }
    if let Some(d) = &e.destination {
        let all_fresh = dests(scenario, e)
            .iter()
            .all(|d| *d == DestinationChoice::Fresh);
        let k = if d.page_size.is_some() {
            Some("page_size")
        } else if !d.setup_sql.is_empty() {
            Some("setup_sql")
        } else {
            None
        };
        if let Some(k) = k.filter(|_| all_fresh) {
            return no_effect(
                key(&format!("destination.{k}")),
                format!("{}: {FRESH_WHY}", e.id()),
            );
        }
    }
    if scenario.app.workers == 0 && t.contains_key("app_order") {
        return no_effect(
            key("app_order"),
            format!(
                "{}: `[app] workers` is 0: there is no application to run",
                e.id()
            ),
        );
    }
    Ok(())
}
