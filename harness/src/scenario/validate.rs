//! Validation of a parsed scenario: every range check and cross-key rule, each failing with
//! the key it is about and a one-line message (`mod.rs` adds the file and line).
//!
//! Why its own module: the limits are a contract documented in `scenarios/wal-storm.toml`;
//! reading them in one place is how they stay in step with it.

use super::*;

impl Scenario {
    /// Range checks. Errors are `(key, message)`. The limits are documented in
    /// `scenarios/wal-storm.toml`.
    pub(super) fn validate(&self, text: &str) -> Result<(), (String, String)> {
        let bad = |key: &str, msg: String| Err((key.to_string(), msg));
        stream_keys_only_where_read(text)?;
        if self.iterations == 0 || self.iterations > 100_000 {
            return bad(
                "iterations",
                format!("{} is out of range 1..=100000", self.iterations),
            );
        }
        if !(512..=65536).contains(&self.source.page_size)
            || !self.source.page_size.is_power_of_two()
        {
            return bad(
                "source.page_size",
                format!(
                    "{} is not a power of two in 512..=65536",
                    self.source.page_size
                ),
            );
        }
        if self.source.pages == 0 || self.source.pages > 1_000_000 {
            return bad(
                "source.pages",
                format!("{} is out of range 1..=1000000", self.source.pages),
            );
        }
        let source_bytes = u64::from(self.source.pages) * u64::from(self.source.page_size);
        if source_bytes > MAX_SOURCE_BYTES {
            return bad(
                "source.pages",
                format!(
                    "{} pages of {} bytes is {:.1} GiB; pages × page_size must be at most 4 GiB",
                    self.source.pages,
                    self.source.page_size,
                    source_bytes as f64 / (1u64 << 30) as f64
                ),
            );
        }
        self.check_limits()?;
        if self.workload.warmup_commits > MAX_WARMUP_COMMITS {
            return bad(
                "workload.warmup_commits",
                format!(
                    "{} is out of range 0..={MAX_WARMUP_COMMITS}",
                    self.workload.warmup_commits
                ),
            );
        }
        for p in &self.workload.ignore_tables {
            let glob = match glob::Pattern::new(p) {
                Ok(g) => g,
                Err(e) => {
                    return bad(
                        "workload.ignore_tables",
                        format!("`{p}` is not a glob: {e}"),
                    )
                }
            };
            // The workload's own tables are what the model describes: left out of the
            // destination's digest but not the model's, every verdict would be torn.
            let own = ["meta"]
                .iter()
                .chain(crate::workload::ops::BASE_TABLES.iter())
                .chain(crate::workload::ops::EXTRA_TABLES.iter())
                .find(|t| glob.matches(t));
            if let Some(t) = own {
                return bad(
                    "workload.ignore_tables",
                    format!("`{p}` matches the workload's own table `{t}`"),
                );
            }
        }
        if self.app.workers > 0 && self.app.invariants.is_empty() {
            return bad(
                "app.invariants",
                "an app with workers needs at least one invariant (its tables are left out of the digest: without invariants nothing judges them)".into(),
            );
        }
        if self.app.stage_ms > MAX_DELAY_MS {
            return bad(
                "app.stage_ms",
                format!("{} is out of range 0..={MAX_DELAY_MS}", self.app.stage_ms),
            );
        }
        if !(self.app.rate >= 0.0 && self.app.rate.is_finite()) {
            return bad(
                "app.rate",
                format!("{} is out of range: a finite number >= 0", self.app.rate),
            );
        }
        if self.app.workers > 64 {
            return bad(
                "app.workers",
                format!("{} is out of range 0..=64", self.app.workers),
            );
        }
        if self.checkpointer.interval_ms == 0 {
            return bad(
                "checkpointer.interval_ms",
                "0 is out of range: at least 1 (disable the checkpointer with `enabled = false`)"
                    .into(),
            );
        }
        if self.faults.delay_max_ms > MAX_DELAY_MS {
            return bad(
                "faults.delay_max_ms",
                format!(
                    "{} is out of range 0..={MAX_DELAY_MS}",
                    self.faults.delay_max_ms
                ),
            );
        }
        if self.workload.writers > 16 {
            return bad(
                "workload.writers",
                format!("{} is out of range 0..=16", self.workload.writers),
            );
        }
        if !(self.workload.rate >= 0.0 && self.workload.rate.is_finite()) {
            return bad(
                "workload.rate",
                format!("{} must be >= 0 (0 = max)", self.workload.rate),
            );
        }
        if self.workload.ops_min == 0 || self.workload.ops_min > self.workload.ops_max {
            return bad(
                "workload.ops_min",
                format!(
                    "ops_min {} must be >= 1 and <= ops_max {}",
                    self.workload.ops_min, self.workload.ops_max
                ),
            );
        }
        let frac_ok = |f: f64| (0.0..=1.0).contains(&f);
        if !frac_ok(self.faults.complete_fraction) {
            return bad(
                "faults.complete_fraction",
                format!("{} is out of range 0..=1", self.faults.complete_fraction),
            );
        }
        if self.watchdog_ms < 100 || self.budget_ms < 100 {
            return bad(
                "watchdog_ms",
                "watchdog_ms and budget_ms must be at least 100".into(),
            );
        }
        if self.destination.kinds.is_empty() {
            return bad(
                "destination.kinds",
                "destination kinds must not be empty".into(),
            );
        }
        if self.strategies.is_empty() {
            return bad("strategy", "the scenario names no [[strategy]]".into());
        }
        if self.crash.destinations.is_empty() {
            return bad(
                "crash.destinations",
                "[crash] destinations must not be empty".into(),
            );
        }
        if self.crash.kinds.is_empty() {
            return bad("crash.kinds", "[crash] kinds must not be empty".into());
        }
        if !(1..=16).contains(&self.crash.kill_parallel) {
            return bad(
                "crash.kill_parallel",
                format!("{} is out of range 1..=16", self.crash.kill_parallel),
            );
        }
        if self.fuzz.cases == 0 || self.fuzz.cases > 1_000_000 {
            return bad(
                "fuzz.cases",
                format!("{} is out of range 1..=1000000", self.fuzz.cases),
            );
        }
        if self.fuzz.max_faults == 0 || self.fuzz.max_faults > MAX_FUZZ_FAULTS {
            return bad(
                "fuzz.max_faults",
                format!(
                    "{} is out of range 1..={MAX_FUZZ_FAULTS}",
                    self.fuzz.max_faults
                ),
            );
        }
        if !frac_ok(self.faults.min_fault_hit) {
            return bad(
                "faults.min_fault_hit",
                format!("{} is out of range 0..=1", self.faults.min_fault_hit),
            );
        }
        if let Err(m) = check_destination_keys(&self.destination.keys) {
            return bad(&format!("destination.{}", m.0), m.1);
        }
        if !self.checkpointer.modes.is_empty() && text_sets(text, "checkpointer", "truncate_every")
        {
            return bad(
                "checkpointer.truncate_every",
                "give either `modes` or `truncate_every`, not both".into(),
            );
        }
        for (i, id) in self.known.iter().enumerate() {
            let ok = matches!(
                (crate::replay_id::ReplayId::parse(id), self.mode),
                (Some(crate::replay_id::ReplayId::Storm { .. }), Mode::Storm)
                    | (
                        Some(crate::replay_id::ReplayId::Crash { .. }),
                        Mode::CrashPoints
                    )
                    | (Some(crate::replay_id::ReplayId::Fuzz { .. }), Mode::Fuzz)
            );
            if !ok {
                return bad(
                    &format!("known[{i}]"),
                    format!("`{id}` is not a replay ID of this scenario's mode"),
                );
            }
        }
        if self.fuzz.pages_min < 2 || self.fuzz.pages_min > self.fuzz.pages_max {
            return bad(
                "fuzz.pages_min",
                format!(
                    "pages_min {} must be >= 2 and <= pages_max {}",
                    self.fuzz.pages_min, self.fuzz.pages_max
                ),
            );
        }
        for (i, s) in self.strategies.iter().enumerate() {
            if !is_known(&s.name) {
                let hint = if s.name.starts_with(external::PREFIX) {
                    "; an external label is letters, digits, `.`, `_`, `-`"
                } else {
                    ""
                };
                return bad(
                    &format!("strategy[{i}].name"),
                    format!(
                        "unknown strategy `{}` (see `list` for the strategies{hint})",
                        s.name
                    ),
                );
            }
            if external::is_external(&s.name) {
                if let Err(e) = external::validate(&s.name, &s.params) {
                    return bad(&format!("strategy[{i}].command"), e.to_string());
                }
            } else if !s.params.command.is_empty() {
                return bad(
                    &format!("strategy[{i}].command"),
                    format!(
                        "{}: `command` applies to external:<label> strategies only",
                        s.name
                    ),
                );
            } else if !s.params.fault_vfs.is_none() {
                return bad(
                    &format!("strategy[{i}].fault_vfs"),
                    format!(
                        "{}: `fault_vfs` applies to external:<label> strategies only (the \
                         built-in ones write through the fault VFS already)",
                        s.name
                    ),
                );
            } else if !s.requires.is_empty() || s.optional || !s.version_command.is_empty() {
                let key = if s.optional {
                    "optional"
                } else if s.requires.is_empty() {
                    "version_command"
                } else {
                    "requires"
                };
                return bad(
                    &format!("strategy[{i}].{key}"),
                    format!(
                        "{}: `{key}` applies to external:<label> strategies only",
                        s.name
                    ),
                );
            }
            let link = crate::strategy::facts(&s.name).is_some_and(|f| f.link);
            if link {
                if s.params.queue_bytes < 65536 {
                    return bad(
                        &format!("strategy[{i}].queue_bytes"),
                        format!(
                            "{}: queue_bytes {} is below 65536 (a page and its frame must fit)",
                            s.name, s.params.queue_bytes
                        ),
                    );
                }
                // A sync waits for a full queue to drain: longer than the watchdog would turn
                // every slow link into a stall.
                let ack = crate::stream::session::ack_timeout(
                    s.params.bandwidth_bps,
                    s.params.queue_bytes,
                );
                let too_long = ack.is_none_or(|a| a.as_millis() > u128::from(self.watchdog_ms));
                if too_long {
                    let wait = ack.map_or_else(
                        || "longer than a Duration can hold".to_string(),
                        |a| format!("up to {} ms", a.as_millis()),
                    );
                    return bad(
                        &format!("strategy[{i}].bandwidth_bps"),
                        format!(
                            "{}: a full queue of {} bytes at {} bytes/s makes a sync wait {wait}, \
                             more than watchdog_ms {}: raise the bandwidth or lower queue_bytes",
                            s.id(),
                            s.params.queue_bytes,
                            s.params.bandwidth_bps,
                            self.watchdog_ms
                        ),
                    );
                }
                let kinds = s.destinations.as_ref().unwrap_or(&self.destination.kinds);
                if let Some(d) = kinds
                    .iter()
                    .find(|d| d.preset().1 == Some(crate::workload::JournalMode::Wal))
                {
                    return bad(
                        &format!("strategy[{i}].destinations"),
                        format!(
                            "{}: destination `{}` is in WAL mode, and a stream receiver owns \
                             the database file only (frames in its -wal would be replayed over \
                             the replica)",
                            s.id(),
                            d.as_str()
                        ),
                    );
                }
            }
            if let Err((key, why)) = check_params(&s.params) {
                return bad(
                    &format!("strategy[{i}].{key}"),
                    format!("{}: {why}", s.name),
                );
            }
            if let Some(ms) = s.delay_max_ms.filter(|&ms| ms > MAX_DELAY_MS) {
                return bad(
                    &format!("strategy[{i}].delay_max_ms"),
                    format!("{}: {ms} is out of range 0..={MAX_DELAY_MS}", s.id()),
                );
            }
            let max = s.delay_max_ms.unwrap_or(self.faults.delay_max_ms);
            let min = s.delay_min_ms.unwrap_or(self.faults.delay_min_ms);
            if min > max {
                let key = if s.delay_min_ms.is_some() {
                    format!("strategy[{i}].delay_min_ms")
                } else {
                    "faults.delay_min_ms".to_string()
                };
                return bad(
                    &key,
                    format!(
                        "{}: kill delays from {min} ms to {max} ms: the minimum is above the \
                         maximum (delay_max_ms)",
                        s.id()
                    ),
                );
            }
            if let Some(f) = s.complete_fraction {
                if !frac_ok(f) {
                    return bad(
                        &format!("strategy[{i}].complete_fraction"),
                        format!("{}: {} is out of range 0..=1", s.name, f),
                    );
                }
            }
            if matches!(&s.destinations, Some(d) if d.is_empty()) {
                return bad(
                    &format!("strategy[{i}].destinations"),
                    format!("{}: must not be empty", s.name),
                );
            }
            if let Some(label) = &s.label {
                if !valid_label(label) {
                    return bad(
                        &format!("strategy[{i}].label"),
                        format!(
                            "{}: label `{label}` must be letters, digits, `.`, `_`, `-`",
                            s.name
                        ),
                    );
                }
                if label != &s.name && is_known(label) {
                    return bad(
                        &format!("strategy[{i}].label"),
                        format!("{}: label `{label}` is another strategy's name", s.name),
                    );
                }
            }
            if let Some(j) = self.strategies[..i].iter().position(|o| o.id() == s.id()) {
                return bad(
                    &format!("strategy[{i}].label"),
                    format!(
                        "strategy[{j}] and strategy[{i}] are both `{}`: give each a distinct `label`",
                        s.id()
                    ),
                );
            }
            if let Some(keys) = &s.destination {
                if let Err(m) = check_destination_keys(keys) {
                    return bad(&format!("strategy[{i}].destination.{}", m.0), m.1);
                }
            }
            let facts = s.facts().expect("known strategy");
            if self.mode == Mode::Storm {
                let kinds = s.faults.as_deref().unwrap_or(&self.faults.kinds);
                for kind in kinds {
                    let reach = kind
                        .check(&facts)
                        .map_err(|why| external::hint(&s.name, &s.params, why))
                        .and_then(|()| after_claim(*kind, &s.params));
                    if let Err(why) = reach {
                        return match s.faults {
                            Some(_) => bad(
                                &format!("strategy[{i}].faults"),
                                format!("{}: {why}", s.id()),
                            ),
                            None => bad(
                                "faults.kinds",
                                format!(
                                    "{} (strategy[{i}]): {why}; give the entry its own `faults`",
                                    s.id()
                                ),
                            ),
                        };
                    }
                }
                let keys = self.destination.keys.merged(s.destination.as_ref());
                if !facts.dest_pragmas
                    && (keys.journal_mode.is_some() || keys.synchronous.is_some())
                {
                    return bad(
                        &format!("strategy[{i}].destination"),
                        format!(
                            "{}: this strategy does not open the destination connection itself, \
                             so destination `journal_mode` and `synchronous` cannot be applied to it",
                            s.id()
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

/// `Err(why)` for a power cut after the claim on an entry whose fault VFS is gone by then
/// (a preloaded tool: its facts let VFS faults reach it, but only while it runs).
fn after_claim(
    kind: crate::fault::FaultKind,
    params: &crate::strategy::StrategyParams,
) -> Result<(), String> {
    if kind == crate::fault::FaultKind::PowerCutAfterClaim
        && !external::vfs_outlives_the_tool(params)
    {
        return Err(format!(
            "fault `{}` needs the fault VFS in the process that claims; a preloaded tool has \
             exited (its record of unsynced writes with it) before its exit status is the claim",
            kind.as_str()
        ));
    }
    Ok(())
}

/// Whether `label` is letters, digits, `.`, `_`, `-` (no `:`, which separates replay-ID parts).
fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Range checks of destination keys: `Err((key, message))`.
fn check_destination_keys(keys: &DestinationKeys) -> Result<(), (String, String)> {
    if let Some(ps) = keys.page_size {
        if !(512..=65536).contains(&ps) || !ps.is_power_of_two() {
            return Err((
                "page_size".into(),
                format!("{ps} is not a power of two in 512..=65536"),
            ));
        }
    }
    if let Some(i) = keys.setup_sql.iter().position(|q| q.trim().is_empty()) {
        return Err((format!("setup_sql[{i}]"), "an empty statement".into()));
    }
    Ok(())
}

/// Whether `[section]` of `text` sets `key` (for keys whose default cannot tell).
fn text_sets(text: &str, section: &str, key: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|t| t.get(section)?.as_table()?.get(key).cloned())
        .is_some()
}

/// Keys of `[[strategy]]` entries that only the stream strategies read.
const STREAM_KEYS: [&str; 4] = ["bandwidth_bps", "queue_bytes", "link", "receiver_apply"];

/// A stream key written on an entry whose strategy ships nothing would be silently ignored
/// (even with its default value): refused, by the key as written.
fn stream_keys_only_where_read(text: &str) -> Result<(), (String, String)> {
    let Ok(raw) = toml::from_str::<toml::Table>(text) else {
        return Ok(());
    };
    let Some(entries) = raw.get("strategy").and_then(|v| v.as_array()) else {
        return Ok(());
    };
    for (i, entry) in entries.iter().enumerate() {
        let Some(t) = entry.as_table() else {
            continue;
        };
        let name = t.get("name").and_then(|v| v.as_str()).unwrap_or("");
        if crate::strategy::facts(name).is_some_and(|f| f.link) {
            continue;
        }
        if let Some(key) = STREAM_KEYS.iter().find(|k| t.contains_key(**k)) {
            return Err((
                format!("strategy[{i}].{key}"),
                format!(
                    "{name}: `{key}` applies to the stream strategies only (stream-vfs, \
                     stream-vfs-same-conn)"
                ),
            ));
        }
    }
    Ok(())
}
