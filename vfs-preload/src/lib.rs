//! `libvfs_faults_preload.so`: the `vfs-faults` VFS for programs we do not change.
//!
//! Why it exists: people back up with the sqlite3 shell and Python's `sqlite3` module, which
//! open files with the system `libsqlite3`, not through our VFS, so only process kills could
//! reach them. Preloaded (`LD_PRELOAD=.../libvfs_faults_preload.so`), this library's
//! constructor runs before the program's `main` and reads the fault plan, the roles and the
//! events file from the environment ([`vfs_faults::preload`]); its `sqlite3_open*` wrappers
//! register the fault VFS as the default VFS of the program's own libsqlite3 (the one this
//! library links: a program with a statically linked SQLite is not reached) at the program's
//! first open, after the program configured SQLite (`open`). It never writes to stdout.
//! Kills at an exact operation, power cuts and I/O errors then happen inside the program, and
//! the events file says what fired.
//!
//! Without a plan in the environment it registers nothing. A plan it cannot use ends the
//! program at once with [`vfs_faults::preload::SETUP_FAILED_EXIT_CODE`] and a one-line reason
//! on stderr: a program must never run unarmed when faults were asked for.

mod init;
mod open;
