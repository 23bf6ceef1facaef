//! The foreign writer of a cell and the collector of its commit events; and the WAL size poller.
//!
//! Why it exists: a cell needs a writer committing at a fixed rate while the backup steps, in
//! another process (the real thing) or in a thread (tests, whose executable has no `worker`
//! subcommand), and the commits it acknowledged; kept apart from the backup loop of [`super::cell`].

use super::cell::{CellEnv, Rate, WriterMode};
use crate::event::Event;
use crate::run::child::{Child, Message, Tag};
use crate::strategy::common::sidecar;
use crate::workload::{self, WorkloadSpec};
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Commit events (`k`, latency), gathered by a thread.
pub(super) struct Collector {
    first: Receiver<()>,
    handle: JoinHandle<Vec<(u64, Option<u64>)>>,
}

pub(super) fn spawn_collector(rx: Receiver<Message>) -> Collector {
    let (first_tx, first) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut out = Vec::new();
        for msg in rx {
            if let Message::Event(_, Event::Commit { k, latency_us, .. }) = msg {
                if out.is_empty() {
                    let _ = first_tx.send(());
                }
                out.push((k, latency_us));
            }
        }
        out
    });
    Collector { first, handle }
}

impl Collector {
    pub(super) fn wait_first(&self, limit: Duration) -> Result<()> {
        self.first
            .recv_timeout(limit)
            .map_err(|e| anyhow!("no commit event: {e}"))
    }

    /// Waits for every sender to be gone (writers stopped) and returns the commits.
    pub(super) fn finish(self) -> Vec<(u64, Option<u64>)> {
        self.handle.join().unwrap_or_default()
    }
}

/// The foreign writer of a cell; stopped (killed or joined) on drop.
pub(super) enum Writer {
    Process(Child),
    Thread(Arc<AtomicBool>, Option<JoinHandle<()>>),
}

impl Writer {
    pub(super) fn stop(&mut self) {
        match self {
            Writer::Process(c) => {
                c.kill();
            }
            Writer::Thread(stop, h) => {
                stop.store(true, Ordering::SeqCst);
                if let Some(h) = h.take() {
                    let _ = h.join();
                }
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(super) fn start_writer(
    env: &CellEnv<'_>,
    source: &Path,
    rate: Rate,
    tx: Sender<Message>,
) -> Result<Writer> {
    let per_s = rate.nominal().unwrap_or(0.0);
    match env.writer_mode {
        WriterMode::Process => {
            let args: Vec<String> = vec![
                "writer".into(),
                "--source".into(),
                source.display().to_string(),
                "--spec".into(),
                serde_json::to_string(env.spec).context("workload spec to JSON")?,
                "--id".into(),
                "1".into(),
                "--rate".into(),
                format!("{per_s}"),
            ];
            let stderr = sidecar(source, ".writer-stderr");
            let child = Child::spawn(Tag::Writer(1), &args, &[], &stderr, tx)
                .context("spawning the writer process")?;
            Ok(Writer::Process(child))
        }
        WriterMode::Thread => {
            let stop = Arc::new(AtomicBool::new(false));
            let (stop2, source, spec) = (stop.clone(), source.to_path_buf(), env.spec.clone());
            let h = std::thread::spawn(move || thread_writer(&source, &spec, per_s, &stop2, &tx));
            Ok(Writer::Thread(stop, Some(h)))
        }
    }
}

fn thread_writer(
    source: &Path,
    spec: &WorkloadSpec,
    rate: f64,
    stop: &AtomicBool,
    tx: &Sender<Message>,
) {
    let Ok(conn) = workload::open_writer(source) else {
        return;
    };
    let start = Instant::now();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        if rate > 0.0 {
            let due = start + Duration::from_secs_f64(n as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep((due - now).min(Duration::from_millis(5)));
                continue;
            }
        }
        let began = Instant::now();
        let Ok(k) = workload::commit_next(&conn, spec) else {
            return;
        };
        n += 1;
        let latency_us = Some(began.elapsed().as_micros() as u64);
        let ev = Event::Commit {
            k,
            writer: 1,
            latency_us,
        };
        if tx.send(Message::Event(Tag::Writer(1), ev)).is_err() {
            return;
        }
    }
}

/// Polls the size of a file every 500 µs until stopped; returns the maximum seen.
pub(super) struct SizePoller {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl SizePoller {
    pub(super) fn start(path: PathBuf) -> SizePoller {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(file_len(&path)));
        let (s, m) = (stop.clone(), max.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                m.fetch_max(file_len(&path), Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(500));
            }
            m.fetch_max(file_len(&path), Ordering::Relaxed);
        });
        SizePoller {
            stop,
            max,
            handle: Some(handle),
        }
    }

    pub(super) fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.max.load(Ordering::Relaxed)
    }
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}
