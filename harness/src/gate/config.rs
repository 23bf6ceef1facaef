//! The gate's two files: the matrix it runs (`ci/gate.toml`) and the answers it pins
//! (`ci/baseline.toml`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Why a gate file could not be used. One line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Bad { path: String, message: String },
}

fn bad(path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError::Bad {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// `ci/gate.toml`: what the gate runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    #[serde(rename = "run", default)]
    pub runs: Vec<RunSpec>,
    #[serde(default)]
    pub bench: BenchSpec,
}

/// One scenario of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// A bundled scenario name or a path (relative to the gate file).
    pub scenario: String,
    /// Fixed seeds; each seed × strategy is one unit.
    #[serde(default = "one_seed")]
    pub seeds: Vec<u64>,
    /// Storm: iterations per strategy (default: the scenario's).
    #[serde(default)]
    pub iterations: Option<u32>,
    /// Crash-points: points sampled per strategy × destination (default: all).
    #[serde(default)]
    pub sample: Option<u32>,
    /// Fuzz: cases per strategy (default: the scenario's).
    #[serde(default)]
    pub cases: Option<u32>,
    /// Only these strategies (ids) of the scenario (default: all of them).
    #[serde(default)]
    pub strategies: Option<Vec<String>>,
    /// Skip (and say so) entries whose external program is not installed, instead of failing.
    #[serde(default)]
    pub optional_tools: bool,
}

fn one_seed() -> Vec<u64> {
    vec![1]
}

/// `[bench]`: benchmark figures the gate measures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchSpec {
    /// Run the quick restarts grid and check its figures.
    #[serde(default)]
    pub restarts: bool,
}

impl GateConfig {
    pub fn load(path: &Path) -> Result<GateConfig, ConfigError> {
        let text = crate::textfile::read(path, crate::scenario::MAX_FILE_BYTES)
            .map_err(|e| bad(path, e.to_string()))?;
        let cfg: GateConfig = toml::from_str(&text)
            .map_err(|e| bad(path, e.message().lines().next().unwrap_or("").to_string()))?;
        if cfg.runs.is_empty() {
            return Err(bad(path, "no [[run]] entries"));
        }
        for r in &cfg.runs {
            if r.seeds.is_empty() {
                return Err(bad(path, format!("run `{}`: seeds is empty", r.scenario)));
            }
        }
        Ok(cfg)
    }
}

/// A pinned figure: `value` within `tolerance` (absolute).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pinned {
    pub value: f64,
    #[serde(default)]
    pub tolerance: f64,
}

/// `ci/baseline.toml`: per scenario, the expectation of every strategy (`safe`, `unsafe`,
/// `any`) and the known findings; per bench, the pinned figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub scenarios: BTreeMap<String, ScenarioBaseline>,
    pub figures: BTreeMap<String, BTreeMap<String, Pinned>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioBaseline {
    /// Strategy id → `safe` | `unsafe` | `any`.
    pub expect: BTreeMap<String, String>,
    pub known: Vec<String>,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline, ConfigError> {
        let text = crate::textfile::read(path, crate::scenario::MAX_FILE_BYTES)
            .map_err(|e| bad(path, e.to_string()))?;
        Baseline::parse(&text).map_err(|m| bad(path, m))
    }

    pub fn parse(text: &str) -> Result<Baseline, String> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| e.message().lines().next().unwrap_or("").to_string())?;
        let mut b = Baseline::default();
        for (name, value) in table {
            let t = value
                .as_table()
                .ok_or_else(|| format!("`{name}` must be a table"))?;
            if name == "bench" {
                for (bench, figs) in t {
                    let figs = figs
                        .as_table()
                        .ok_or_else(|| format!("`bench.{bench}` must be a table"))?;
                    let mut out = BTreeMap::new();
                    for (fname, v) in figs {
                        let p: Pinned = v.clone().try_into().map_err(|e: toml::de::Error| {
                            format!("`bench.{bench}.{fname}`: {}", e.message())
                        })?;
                        out.insert(fname.clone(), p);
                    }
                    b.figures.insert(bench.clone(), out);
                }
                continue;
            }
            let mut s = ScenarioBaseline::default();
            for (k, v) in t {
                if k == "known" {
                    let list = v
                        .as_array()
                        .ok_or_else(|| format!("`{name}.known` must be a list of replay IDs"))?;
                    for id in list {
                        let id = id
                            .as_str()
                            .ok_or_else(|| format!("`{name}.known` must be a list of strings"))?;
                        if crate::replay_id::ReplayId::parse(id).is_none() {
                            return Err(format!("`{name}.known`: `{id}` is not a replay ID"));
                        }
                        s.known.push(id.to_string());
                    }
                    continue;
                }
                let e = v
                    .as_str()
                    .filter(|e| matches!(*e, "safe" | "unsafe" | "any"))
                    .ok_or_else(|| {
                        format!("`{name}.{k}` must be \"safe\", \"unsafe\" or \"any\"")
                    })?;
                s.expect.insert(k.clone(), e.to_string());
            }
            b.scenarios.insert(name, s);
        }
        Ok(b)
    }

    /// The baseline as TOML (what `--update-baseline` writes).
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# The gate's pinned answers: per scenario, each strategy's expectation (safe: no\n\
             # violation and really tested; unsafe: a control that must be caught; any: reported)\n\
             # and its known findings; per bench, figures with an absolute tolerance.\n\
             # Written by `gate --update-baseline`; review every change.\n",
        );
        for (name, s) in &self.scenarios {
            out.push_str(&format!("\n[{name}]\n"));
            for (k, e) in &s.expect {
                out.push_str(&format!("\"{k}\" = \"{e}\"\n"));
            }
            if !s.known.is_empty() {
                out.push_str("known = [\n");
                for k in &s.known {
                    out.push_str(&format!("  \"{k}\",\n"));
                }
                out.push_str("]\n");
            }
        }
        for (bench, figs) in &self.figures {
            out.push_str(&format!("\n[bench.{bench}]\n"));
            for (f, p) in figs {
                out.push_str(&format!(
                    "\"{f}\" = {{ value = {}, tolerance = {} }}\n",
                    p.value, p.tolerance
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_round_trip_and_refuse_bad_values() {
        let text = "[wal-storm]\napi-oneshot = \"safe\"\ncopy-naive = \"unsafe\"\n\
                    [crash-points]\nknown = [\"crash:crash-points:1:api-step:existing-wal:923:busy\"]\n\
                    [bench.restarts]\n\"writer-free restarts\" = { value = 0, tolerance = 0 }\n";
        let b = Baseline::parse(text).unwrap();
        assert_eq!(b.scenarios["wal-storm"].expect["copy-naive"], "unsafe");
        assert_eq!(b.scenarios["crash-points"].known.len(), 1);
        assert_eq!(b.figures["restarts"]["writer-free restarts"].value, 0.0);
        assert_eq!(Baseline::parse(&b.to_toml()).unwrap(), b);
        assert!(Baseline::parse("[x]\na = \"sometimes\"\n").is_err());
        assert!(Baseline::parse("[x]\nknown = [\"nonsense\"]\n").is_err());
    }
}
