//! No key is silently ignored: each mode lists the keys it uses, and a scenario that sets any
//! other key is refused with the key and the mode named.
//!
//! Why its own module: serde already refuses keys no mode knows; this adds the keys a *mode*
//! does not use (`[workload] writers` means nothing to a crash-point sweep, whose reference is
//! static), which serde cannot tell because every mode shares one scenario type.

use super::Mode;

/// Keys of `[[strategy]]` entries that only storm mode uses.
const STORM_ONLY_STRATEGY_KEYS: &[&str] = &[
    "faults",
    "complete_fraction",
    "delay_max_ms",
    "delay_min_ms",
    "destination",
    "checkpointer",
    "matrix",
    "refused",
    "caught_as",
    "unsafe_variants",
    "blocker",
    "recover",
    "writers",
    "max_restarts",
    "stalls",
    "app_order",
    "requires",
    "optional",
    "version_command",
    "fault_vfs",
];

/// The keys `mode` uses in `section` (`""` = top level); `None` = every key of the section.
fn allowed(mode: Mode, section: &str) -> Option<&'static [&'static str]> {
    const TOP_EXPLORE: &[&str] = &[
        "name",
        "description",
        "seed",
        "mode",
        "source",
        "workload",
        "crash",
        "strategy",
        "known",
    ];
    const TOP_FUZZ: &[&str] = &[
        "name",
        "description",
        "seed",
        "mode",
        "crash",
        "fuzz",
        "strategy",
        "known",
    ];
    const TOP_STORM: &[&str] = &[
        "name",
        "description",
        "seed",
        "mode",
        "iterations",
        "watchdog_ms",
        "budget_ms",
        "sql_timeout_ms",
        "source",
        "workload",
        "checkpointer",
        "destination",
        "faults",
        "app",
        "strategy",
        "known",
    ];
    const WORKLOAD_EXPLORE: &[&str] = &["ddl", "max_row_bytes", "ops_min", "ops_max"];
    const CRASH_FUZZ: &[&str] = &["destinations"];
    match (mode, section) {
        (Mode::Storm, "") => Some(TOP_STORM),
        (Mode::CrashPoints, "") => Some(TOP_EXPLORE),
        (Mode::Fuzz, "") => Some(TOP_FUZZ),
        (Mode::CrashPoints, "workload") => Some(WORKLOAD_EXPLORE),
        (Mode::Fuzz, "crash") => Some(CRASH_FUZZ),
        _ => None,
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Storm => "storm",
        Mode::CrashPoints => "crash-points",
        Mode::Fuzz => "fuzz",
    }
}

/// `Err((key, message))` for the first key `text` sets that `mode` does not use.
pub(super) fn check_mode_keys(text: &str, mode: Mode) -> Result<(), (String, String)> {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return Ok(()); // serde reported it already
    };
    let unused = |key: String| {
        Err((
            key.clone(),
            format!(
                "`{key}` is not used in mode `{}`: remove it",
                mode_name(mode)
            ),
        ))
    };
    for (key, value) in &table {
        if allowed(mode, "").is_some_and(|a| !a.contains(&key.as_str())) {
            return unused(key.clone());
        }
        if let (Some(a), Some(sub)) = (allowed(mode, key), value.as_table()) {
            if let Some(k) = sub.keys().find(|k| !a.contains(&k.as_str())) {
                return unused(format!("{key}.{k}"));
            }
        }
    }
    if mode != Mode::Storm {
        let entries = table.get("strategy").and_then(|v| v.as_array());
        for (i, entry) in entries.into_iter().flatten().enumerate() {
            let Some(entry) = entry.as_table() else {
                continue;
            };
            if let Some(k) = entry
                .keys()
                .find(|k| STORM_ONLY_STRATEGY_KEYS.contains(&k.as_str()))
            {
                return unused(format!("strategy[{i}].{k}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_a_mode_does_not_use_are_named() {
        let crash = "mode = \"crash-points\"\n[workload]\nwriters = 0\n";
        let (key, msg) = check_mode_keys(crash, Mode::CrashPoints).unwrap_err();
        assert_eq!(key, "workload.writers");
        assert!(msg.contains("crash-points"), "{msg}");
        let ok = "mode = \"crash-points\"\n[workload]\nddl = false\n";
        assert!(check_mode_keys(ok, Mode::CrashPoints).is_ok());
        let storm = "[crash]\nkinds = [\"busy\"]\n";
        assert_eq!(check_mode_keys(storm, Mode::Storm).unwrap_err().0, "crash");
        let fuzz = "mode = \"fuzz\"\n[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\nfaults = [\"busy\"]\n";
        assert_eq!(
            check_mode_keys(fuzz, Mode::Fuzz).unwrap_err().0,
            "strategy[0].faults"
        );
        assert_eq!(
            check_mode_keys("mode = \"fuzz\"\niterations = 3\n", Mode::Fuzz)
                .unwrap_err()
                .0,
            "iterations"
        );
    }
}
