//! The network-backup table: for each entry whose backup was shipped over the stream link,
//! what crossed it (bytes, pages, pages sent again), how the throttle and the bandwidth limit
//! shaped it, and the send queue's depth over time.
//!
//! Why its own module: these are the questions of someone sizing a live network backup (how
//! much traffic, how much of it re-sent, does the link keep up), which the verdict table has no
//! columns for.

use crate::event::Claim;
use crate::run::{IterationResult, RunResult};
use serde::{Deserialize, Serialize};

/// One stream entry of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRow {
    pub strategy: String,
    /// `unix` or `tcp`.
    pub transport: String,
    /// Iterations that reported shipping statistics (a killed sender reports none).
    pub iterations: u64,
    /// Of those, the ones that claimed success.
    pub finished: u64,
    /// Bytes shipped over all those iterations, and the median of a finished one.
    pub bytes_shipped: u64,
    pub bytes_per_finished: u64,
    /// Pages shipped, and pages shipped again within the same backup.
    pub pages_sent: u64,
    pub pages_resent: u64,
    /// Same-connection strategy, over the finished backups only (a failed one's rollback
    /// writes old pages back, which are not re-sends): source pages its own commits changed
    /// while backing up, the pages re-sent meanwhile, and their ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resent_finished: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resent_per_changed: Option<f64>,
    /// Restarts over the iterations with statistics, and the most in one finished backup.
    pub restarts: u64,
    pub restarts_max_finished: u64,
    /// Time the backup thread waited for the link (throttle and full queue), over all.
    pub throttled_ms: u64,
    /// The bandwidth limit (0: none) and the median throughput of a finished backup (from
    /// its first to its last byte, pauses between steps included).
    pub bandwidth_bps: u64,
    pub throughput_bps_median: u64,
    /// The queue's bound and its deepest point over all iterations, in bytes.
    pub queue_bytes: u64,
    pub queue_max: u64,
    /// The queue depth over the longest finished backup, one character per sample group,
    /// from empty (`▁`) to the bound (`█`).
    pub queue_depth: String,
}

/// The rows of the entries with shipping statistics, in the scenario's order.
pub fn rows(run: &RunResult) -> Vec<NetworkRow> {
    run.scenario
        .strategies
        .iter()
        .filter_map(|e| {
            let rs: Vec<&IterationResult> = run
                .results
                .iter()
                .filter(|r| r.strategy == e.id() && r.stream.is_some())
                .collect();
            row(e.id(), &rs)
        })
        .collect()
}

fn row(strategy: &str, rs: &[&IterationResult]) -> Option<NetworkRow> {
    let first = rs.first()?.stream.as_ref()?;
    let stats = || rs.iter().filter_map(|r| r.stream.as_ref());
    let finished: Vec<&IterationResult> = rs
        .iter()
        .copied()
        .filter(|r| r.claim == Some(Claim::Success))
        .collect();
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let of_finished = |f: fn(&crate::stream::StreamStats) -> u64| {
        median(
            finished
                .iter()
                .filter_map(|r| r.stream.as_ref().map(f))
                .collect(),
        )
    };
    let pages_resent = stats().map(|s| s.pages_resent).sum();
    let finished_stats = || finished.iter().filter_map(|r| r.stream.as_ref());
    let changed: Option<u64> = finished_stats()
        .map(|s| s.changed_pages)
        .try_fold(0u64, |acc, c| c.map(|c| acc + c))
        .filter(|_| !finished.is_empty());
    let resent_finished: u64 = finished_stats().map(|s| s.pages_resent).sum();
    let longest = finished
        .iter()
        .filter_map(|r| r.stream.as_ref())
        .max_by_key(|s| s.queue_samples.len());
    Some(NetworkRow {
        strategy: strategy.to_string(),
        transport: first.transport.clone(),
        iterations: rs.len() as u64,
        finished: finished.len() as u64,
        bytes_shipped: stats().map(|s| s.bytes_shipped).sum(),
        bytes_per_finished: of_finished(|s| s.bytes_shipped),
        pages_sent: stats().map(|s| s.pages_sent).sum(),
        pages_resent,
        changed_pages: changed,
        resent_finished: changed.map(|_| resent_finished),
        resent_per_changed: changed
            .filter(|&c| c > 0)
            .map(|c| (resent_finished as f64 / c as f64 * 1000.0).round() / 1000.0),
        restarts: rs.iter().map(|r| r.restarts).sum(),
        restarts_max_finished: finished.iter().map(|r| r.restarts).max().unwrap_or(0),
        throttled_ms: stats().map(|s| s.throttled_ms).sum(),
        bandwidth_bps: first.bandwidth_bps,
        throughput_bps_median: of_finished(|s| s.throughput_bps),
        queue_bytes: first.queue_bytes,
        queue_max: stats().map(|s| s.queue_max).max().unwrap_or(0),
        queue_depth: longest
            .map(|s| sparkline(&s.queue_samples, s.queue_bytes, 40))
            .unwrap_or_default(),
    })
}

/// `samples` (`[ms, bytes]`) as at most `width` characters, each the deepest point of its group,
/// scaled to `bound`.
pub fn sparkline(samples: &[(u64, u64)], bound: u64, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if samples.is_empty() || width == 0 {
        return String::new();
    }
    let group = samples.len().div_ceil(width);
    samples
        .chunks(group)
        .map(|c| {
            let deepest = c.iter().map(|&(_, b)| b).max().unwrap_or(0);
            let bound = u128::from(bound.max(1));
            let level = (u128::from(deepest).min(bound) * 7).div_ceil(bound);
            BARS[level as usize]
        })
        .collect()
}

fn human_bytes(b: u64) -> String {
    if b >= 10 << 20 {
        format!("{} MiB", b >> 20)
    } else if b >= 10 << 10 {
        format!("{} KiB", b >> 10)
    } else {
        format!("{b} B")
    }
}

/// The Markdown section (empty when no entry shipped anything).
pub fn markdown(rows: &[NetworkRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Network backups\n\n| strategy | link | finished / iterations | shipped (per finished backup) | pages sent / re-sent | re-sent per changed page (finished backups) | restarts (max in a finished backup) | throttled | throughput / limit | queue max / bound | queue depth, longest finished backup |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let limit = if r.bandwidth_bps == 0 {
            "none".to_string()
        } else {
            format!("{}/s", human_bytes(r.bandwidth_bps))
        };
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} ({}) | {} / {} | {} | {} ({}) | {} ms | {}/s / {} | {} / {} | `{}` |\n",
            super::markdown::code(&r.strategy),
            r.transport,
            r.finished,
            r.iterations,
            human_bytes(r.bytes_shipped),
            human_bytes(r.bytes_per_finished),
            r.pages_sent,
            r.pages_resent,
            match (r.resent_per_changed, r.changed_pages, r.resent_finished) {
                (Some(x), Some(c), Some(re)) => format!("{x} ({re} / {c})"),
                _ => "-".into(),
            },
            r.restarts,
            r.restarts_max_finished,
            r.throttled_ms,
            human_bytes(r.throughput_bps_median),
            limit,
            human_bytes(r.queue_max),
            human_bytes(r.queue_bytes),
            r.queue_depth
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sparkline_scales_to_the_bound_and_keeps_the_deepest_of_each_group() {
        let samples: Vec<(u64, u64)> = (0..8).map(|i| (i, i * 100)).collect();
        assert_eq!(sparkline(&samples, 700, 8), "▁▂▃▄▅▆▇█");
        assert_eq!(sparkline(&samples, 700, 4), "▂▄▆█");
        assert_eq!(sparkline(&[(0, 5000)], 700, 4), "█");
        assert_eq!(sparkline(&[], 700, 4), "");
    }
}
