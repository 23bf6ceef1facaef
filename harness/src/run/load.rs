//! The processes around the backup worker: the writers and the checkpointer that load the
//! source, and the blocker that holds a lock for the whole iteration.
//!
//! Why its own module: an iteration's premise (what runs beside the backup) is set up here,
//! apart from the loop that watches the backup itself.

use super::child::tail;
use super::child::{Child, Message, Tag};
use super::{RunContext, RunError};
use crate::event::Event;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Starts a blocker holding `what` on `db`, and waits until it holds its lock (commits that
/// arrive meanwhile raise `max_acked`).
pub(super) fn start_blocker(
    ctx: &RunContext,
    what: crate::workload::Blocker,
    db: &Path,
    dir: &Path,
    tx: &mpsc::Sender<Message>,
    rx: &mpsc::Receiver<Message>,
    max_acked: &mut u64,
) -> Result<Child, RunError> {
    let args = vec![
        "blocker".to_string(),
        "--db".into(),
        db.display().to_string(),
        "--hold".into(),
        what.as_str().to_string(),
    ];
    let stderr = dir.join("blocker.stderr");
    let child = Child::spawn(Tag::Blocker, &args, &[], &stderr, tx.clone())
        .map_err(|e| RunError::io("spawning the blocker".into(), e))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        ctx.check_interrupt()?;
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(Message::Event(Tag::Blocker, Event::Holding { .. })) => return Ok(child),
            Ok(Message::Event(_, Event::Commit { k, .. })) => *max_acked = (*max_acked).max(k),
            Ok(Message::Closed(Tag::Blocker)) => break,
            _ => {}
        }
    }
    Err(RunError::Setup(format!(
        "the blocker could not take its lock ({} on {}): {}",
        what.as_str(),
        db.display(),
        tail(&stderr, 300)
    )))
}

/// Spawns `writers` writers, the app's pipeline workers (committing in `app_order`, their
/// files drawn from `seed`) and the checkpointer on `src`.
#[allow(clippy::too_many_arguments)]
pub(super) fn spawn_source_load(
    ctx: &RunContext,
    writers: u32,
    checkpointer: &crate::scenario::CheckpointerSection,
    app_order: crate::workload::AppOrder,
    seed: u64,
    src: &Path,
    dir: &Path,
    tx: &mpsc::Sender<Message>,
) -> Result<Vec<Child>, RunError> {
    let scenario = &ctx.scenario;
    let spec_json = serde_json::to_string(&ctx.spec).expect("spec serializes");
    let mut children = Vec::new();
    for id in 0..writers {
        let args = vec![
            "writer".to_string(),
            "--source".into(),
            src.display().to_string(),
            "--spec".into(),
            spec_json.clone(),
            "--id".into(),
            id.to_string(),
            "--rate".into(),
            scenario.workload.rate.to_string(),
        ];
        let args = if checkpointer
            .autocheckpoint
            .unwrap_or(scenario.workload.autocheckpoint)
        {
            args
        } else {
            [args, vec!["--autocheckpoint".into(), "0".into()]].concat()
        };
        let stderr = dir.join(format!("writer{id}.stderr"));
        children.push(
            Child::spawn(Tag::Writer(id), &args, &[], &stderr, tx.clone())
                .map_err(|e| RunError::io("spawning a writer".into(), e))?,
        );
    }
    let app = &scenario.app;
    for id in 0..app.workers {
        let args = vec![
            "app".to_string(),
            "--db".into(),
            src.display().to_string(),
            "--id".into(),
            id.to_string(),
            "--order".into(),
            app_order.as_str().to_string(),
            "--rate".into(),
            app.rate.to_string(),
            "--stage-ms".into(),
            app.stage_ms.to_string(),
            "--seed".into(),
            seed.to_string(),
        ];
        let stderr = dir.join(format!("app{id}.stderr"));
        children.push(
            Child::spawn(Tag::App(id), &args, &[], &stderr, tx.clone())
                .map_err(|e| RunError::io("spawning an app worker".into(), e))?,
        );
    }
    if checkpointer.enabled {
        let args = vec![
            "checkpointer".to_string(),
            "--source".into(),
            src.display().to_string(),
            "--interval-ms".into(),
            checkpointer.interval_ms.to_string(),
            "--modes".into(),
            checkpointer
                .cycle()
                .iter()
                .map(|m| m.as_sql().to_lowercase())
                .collect::<Vec<_>>()
                .join(","),
        ];
        let stderr = dir.join("checkpointer.stderr");
        children.push(
            Child::spawn(Tag::Checkpointer, &args, &[], &stderr, tx.clone())
                .map_err(|e| RunError::io("spawning the checkpointer".into(), e))?,
        );
    }
    Ok(children)
}

/// The source's sequence number (the last committed transaction).
pub(super) fn read_seq(src: &Path) -> Result<u64, RunError> {
    let conn =
        rusqlite::Connection::open_with_flags(src, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| RunError::Setup(format!("opening {}: {e}", src.display())))?;
    let _ = conn.busy_timeout(Duration::from_secs(5));
    crate::workload::read_seq(&conn).map_err(|e| RunError::Setup(e.to_string()))
}

/// The helpers (writers, app workers, checkpointer, blocker) that stopped on their own
/// because the machine could not let them go on: killed by the file size limit (SIGXFSZ), or
/// failed with a full disk, an I/O error or a read-only file system, or with nothing on their
/// stderr (a full disk cannot take the message either). They run until killed, so such a stop
/// is the machine's, not the strategy's. A helper that stopped for another reason (say a
/// source the strategy damaged) is left to the oracle. `None`: none of those.
pub(super) fn stopped_on_their_own(helpers: &mut [Child], dir: &Path) -> Option<String> {
    const MACHINE: [&str; 6] = [
        "disk is full",
        "No space",
        "disk I/O error",
        "readonly database",
        "Read-only file system",
        "out of memory",
    ];
    let stopped: Vec<String> = helpers
        .iter_mut()
        .filter_map(|h| {
            let status = h.try_status()?;
            let name = h.tag().name();
            let err = tail(&dir.join(format!("{name}.stderr")), 200);
            let how = super::child::describe_status(Some(status));
            let machine =
                how == "signal 25" || err.is_empty() || MACHINE.iter().any(|m| err.contains(m));
            machine.then(|| {
                format!(
                    "{name} stopped on its own ({how}){}",
                    if err.is_empty() {
                        String::new()
                    } else {
                        format!(": {err}")
                    }
                )
            })
        })
        .collect();
    (!stopped.is_empty()).then(|| stopped.join("; "))
}
