//! Printing the command line's output without ever panicking.
//!
//! Why: `println!` panics when stdout is a closed pipe (`sqlite-backup-harness list | head -1`),
//! with a backtrace, and a panic in the middle of `scenario` would skip writing its report.
//! These macros write the same text, and a write that fails (a closed pipe, a full disk)
//! drops the rest of that stream's output quietly, as `rg … | head` does: the run goes on,
//! its reports are written, its children and temporary directories are cleaned up as usual,
//! and the exit code is the run's own. SIGPIPE stays ignored (Rust's default), so a closed
//! pipe is an error on the write, never a signal that kills the supervisor mid-run.
//!
//! The worker protocol (a worker's stdout is its supervisor's pipe) does not go through here.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `args` to stdout unless an earlier write to it failed.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    write_to(&mut std::io::stdout().lock(), &STDOUT_CLOSED, args);
}

/// Writes `args` to stderr unless an earlier write to it failed.
pub fn write_err(args: std::fmt::Arguments<'_>) {
    write_to(&mut std::io::stderr().lock(), &STDERR_CLOSED, args);
}

fn write_to(w: &mut impl Write, closed: &AtomicBool, args: std::fmt::Arguments<'_>) {
    if closed.load(Ordering::SeqCst) {
        return;
    }
    if w.write_fmt(args).and_then(|()| w.flush()).is_err() {
        closed.store(true, Ordering::SeqCst);
    }
}

/// `print!` that never panics (see the module docs).
macro_rules! out {
    ($($arg:tt)*) => { $crate::console::write_out(format_args!($($arg)*)) };
}
/// `println!` that never panics (see the module docs).
macro_rules! outln {
    () => { $crate::console::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}
/// `eprintln!` that never panics (see the module docs).
macro_rules! errln {
    ($($arg:tt)*) => { $crate::console::write_err(format_args!("{}\n", format_args!($($arg)*))) };
}
pub(crate) use {errln, out, outln};

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader went away.
    struct Closed(u32);
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            self.0 += 1;
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stream_is_written_once_then_left_alone() {
        let flag = AtomicBool::new(false);
        let mut w = Closed(0);
        write_to(&mut w, &flag, format_args!("a {}\n", 1));
        assert!(flag.load(Ordering::SeqCst));
        write_to(&mut w, &flag, format_args!("b\n"));
        assert_eq!(w.0, 1, "no write after the first failure");
        let flag = AtomicBool::new(false);
        let mut v = Vec::new();
        write_to(&mut v, &flag, format_args!("x {}\n", 2));
        assert_eq!(
            (v.as_slice(), flag.load(Ordering::SeqCst)),
            (&b"x 2\n"[..], false)
        );
    }
}
