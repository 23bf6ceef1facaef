//! `gate` and `report merge`: the CI regression gate's command line (the gate itself is
//! `crate::gate`).
//!
//! Why its own module: the gate has its own flags, outputs and exit rules; `cli` only
//! dispatches to it.

use super::{interrupt_flag, Usage};
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};

/// Where the gate's outputs go (shared by `gate` and `report merge`).
#[derive(clap::Args, Debug, Clone)]
pub struct GateOutputs {
    /// The pinned answers.
    #[arg(long, default_value = "ci/baseline.toml")]
    baseline: PathBuf,
    /// JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// The run and its judgement as JSON here (what `report merge` reads).
    #[arg(long)]
    json: Option<PathBuf>,
    /// The Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    md: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct GateArgs {
    /// The matrix.
    #[arg(long, default_value = "ci/gate.toml")]
    config: PathBuf,
    #[command(flatten)]
    out: GateOutputs,
    /// Run only shard K of N (`--shard 2/3`); `report merge` joins the shards' JSON.
    #[arg(long)]
    shard: Option<String>,
    /// Rewrite the baseline from this run (refused when CI is set).
    #[arg(long)]
    update_baseline: bool,
}

/// A path given relative to the repository (the default `ci/...` files) resolves against the
/// current directory first, then the crate's directory.
fn repo_path(p: &Path) -> PathBuf {
    if p.is_relative() && !p.exists() {
        let in_repo = Path::new(env!("CARGO_MANIFEST_DIR")).join(p);
        if in_repo.exists() {
            return in_repo;
        }
    }
    p.to_path_buf()
}

/// Fails (exit 2) before any work when an output file cannot be created.
fn check_writable(paths: &[&Option<PathBuf>]) -> Result<()> {
    for p in paths.iter().copied().flatten() {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow!(Usage(format!(
                    "output {}: cannot create {}: {e}",
                    p.display(),
                    dir.display()
                )))
            })?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| anyhow!(Usage(format!("output {}: {e}", p.display()))))?;
    }
    Ok(())
}

fn load_baseline(path: &Path) -> Result<crate::gate::config::Baseline> {
    crate::gate::config::Baseline::load(&repo_path(path)).map_err(|e| anyhow!(Usage(e.to_string())))
}

/// Judges `run`, writes the outputs, prints the changes; the exit code.
fn finish_gate(run: &crate::gate::GateRun, out: &GateOutputs) -> Result<i32> {
    use crate::gate::{judge, output};
    let baseline = load_baseline(&out.baseline)?;
    let j = judge::judge(run, &baseline);
    for (path, text) in [
        (&out.junit, output::junit(&j)),
        (&out.json, output::json(run, &j)),
        (&out.md, output::markdown(run, &j)),
    ] {
        if let Some(p) = path {
            std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
        }
    }
    let failed = j.cases.iter().filter(|c| c.failure.is_some()).count();
    for c in &j.changes {
        crate::console::outln!("changed: {c}");
    }
    crate::console::outln!(
        "gate {}: {} test cases, {failed} failed, {} units, {} figures, {:.1} s",
        if j.passed {
            "passed"
        } else if j.could_not_run_here.is_empty() {
            "FAILED"
        } else {
            "COULD NOT RUN HERE"
        },
        j.cases.len(),
        run.units.len(),
        run.figures.len(),
        run.duration_s
    );
    if run.interrupted {
        let s = run
            .interrupted_by
            .unwrap_or(crate::process::StopSignal::Int);
        crate::console::errln!("interrupted by {}: partial gate results written", s.name());
        return Ok(s.exit_code());
    }
    if let Some(first) = j.could_not_run_here.first() {
        // Exit 2, not 1: CI must tell a machine that cannot run the matrix from a regression.
        crate::console::errln!(
            "gate could not run here: {} unit(s) failed for the machine, not the code (first: {}); \
             free space or point HARNESS_TMPDIR at a larger file system",
            j.could_not_run_here.len(),
            first.lines().next().unwrap_or("")
        );
        return Ok(2);
    }
    Ok(if j.passed { 0 } else { 1 })
}

pub(super) fn cmd_gate(args: &GateArgs) -> Result<i32> {
    use crate::gate::{config::GateConfig, units, GateRun};
    if args.update_baseline && std::env::var_os("CI").is_some() {
        return Err(anyhow!(Usage(
            "--update-baseline is refused when CI is set: review and commit a new baseline by hand"
                .into()
        )));
    }
    check_writable(&[&args.out.junit, &args.out.json, &args.out.md])?;
    let config_path = repo_path(&args.config);
    let cfg = GateConfig::load(&config_path).map_err(|e| anyhow!(Usage(e.to_string())))?;
    let baseline = load_baseline(&args.out.baseline)?;
    let base = config_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let all = units::plan(&cfg, &base, &baseline).map_err(|e| anyhow!(Usage(e)))?;
    let matrix: Vec<String> = all.iter().map(|u| u.key()).collect();
    let (mine, shard) = match &args.shard {
        None => (all, None),
        Some(s) => {
            let (k, n) = units::parse_shard(s).ok_or_else(|| {
                anyhow!(Usage(format!("--shard {s}: expected K/N with 1 <= K <= N")))
            })?;
            (units::shard(all, k, n), Some(format!("{k}/{n}")))
        }
    };
    let started = std::time::Instant::now();
    let interrupted = interrupt_flag();
    let mut run = GateRun::new(
        rusqlite::version().to_string(),
        shard,
        matrix,
        mine.iter().map(|u| u.key()).collect(),
    );
    let total = mine.len();
    for (i, unit) in mine.iter().enumerate() {
        if interrupted.is_set() {
            break;
        }
        let t = std::time::Instant::now();
        // Progress on stderr, so a CI log is never silent for minutes.
        crate::console::errln!("gate [{}/{total}] {} ...", i + 1, unit.key());
        let summary = match units::run(unit, &interrupted) {
            units::UnitOutput::Result(r) => {
                let line = format!("{} ({} violations)", r.result, r.violations.len());
                run.units.push(*r);
                line
            }
            units::UnitOutput::Figures(f) => {
                let line = format!("{} figures", f.len());
                run.figures.extend(f);
                line
            }
        };
        crate::console::errln!(
            "gate [{}/{total}] {}: {summary} in {:.1} s",
            i + 1,
            unit.key(),
            t.elapsed().as_secs_f64()
        );
    }
    run.interrupted_by = interrupted.signal();
    run.interrupted = run.interrupted_by.is_some();
    run.duration_s = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    if args.update_baseline {
        let mut b = baseline.clone();
        for u in &run.units {
            let s = b.scenarios.entry(u.scenario.clone()).or_default();
            s.expect.insert(u.strategy.clone(), u.expect.clone());
            for k in &u.known_reproduced {
                if !s.known.contains(k) {
                    s.known.push(k.clone());
                }
            }
        }
        for f in &run.figures {
            let figs = b.figures.entry(f.bench.clone()).or_default();
            let tolerance = figs.get(&f.name).map_or(0.0, |p| p.tolerance);
            figs.insert(
                f.name.clone(),
                crate::gate::config::Pinned {
                    value: f.value,
                    tolerance,
                },
            );
        }
        let path = repo_path(&args.out.baseline);
        std::fs::write(&path, b.to_toml())
            .with_context(|| format!("writing {}", path.display()))?;
        crate::console::outln!("baseline written: {}", path.display());
    }
    finish_gate(&run, &args.out)
}

pub(super) fn cmd_merge(files: &[PathBuf], out: &GateOutputs) -> Result<i32> {
    check_writable(&[&out.junit, &out.json, &out.md])?;
    let mut runs = Vec::new();
    for f in files {
        let text = crate::textfile::read(f, crate::textfile::MAX_REPORT_BYTES)
            .map_err(|e| anyhow!(Usage(format!("{}: {e}", f.display()))))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| anyhow!(Usage(format!("{}: not JSON: {e}", f.display()))))?;
        let run: crate::gate::GateRun = serde_json::from_value(v["run"].clone()).map_err(|e| {
            anyhow!(Usage(format!(
                "{}: not a gate `--json` file: {e}",
                f.display()
            )))
        })?;
        runs.push(run);
    }
    let matrices: Vec<&Vec<String>> = runs.iter().map(|r| &r.matrix).collect();
    if matrices.windows(2).any(|w| w[0] != w[1]) {
        return Err(anyhow!(Usage(
            "the shards ran different gate matrices: merge shards of one gate run".into()
        )));
    }
    let merged = crate::gate::GateRun::merge(runs);
    let missing: Vec<&String> = merged
        .matrix
        .iter()
        .filter(|m| !merged.planned.contains(m))
        .collect();
    if !missing.is_empty() {
        crate::console::errln!(
            "warning: {} matrix units were in no shard (missing shard files?)",
            missing.len()
        );
    }
    let mut merged = merged;
    // Units no shard planned did not run: judge them as the whole matrix.
    merged.planned = merged.matrix.clone();
    finish_gate(&merged, out)
}
