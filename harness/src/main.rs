//! The `sqlite-backup-harness` binary: a thin shell over the `harness` library.

fn main() {
    std::process::exit(harness::cli::main());
}
