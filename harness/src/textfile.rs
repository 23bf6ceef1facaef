//! Reading an input file a user names (a scenario, a gate config or baseline, a bug-base
//! `plan.json`): a regular file of bounded size, in UTF-8.
//!
//! Why its own module: `open` blocks forever on a FIFO and `read_to_string` fills the memory
//! from `/dev/zero`; every reader of an input file refuses both the same way, with one line.

use std::io::Read;
use std::path::Path;

/// The largest JSON report read back (`report merge`, `bench restarts --baseline`): 256 MiB.
pub const MAX_REPORT_BYTES: u64 = 256 << 20;

/// Why an input file was not read. Always one line, without the path (the caller adds it).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextFileError {
    #[error("cannot read: {0}")]
    Io(String),
    #[error("not a regular file ({0}): refused without opening it")]
    NotRegular(&'static str),
    #[error("larger than {} KiB", .0 / 1024)]
    TooLarge(u64),
    #[error("not UTF-8 text")]
    NotUtf8,
}

/// What kind of file `meta` describes, for the error message.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// The text of `path`: refused, before it is opened, when it is not a regular file (a FIFO
/// would block the open), and when it has more than `max_bytes` bytes (read no further).
pub fn read(path: &Path, max_bytes: u64) -> Result<String, TextFileError> {
    let io = |e: std::io::Error| TextFileError::Io(e.to_string());
    // `metadata` follows symlinks, as `open` would: a link to a FIFO is refused too.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(TextFileError::NotRegular(kind(&meta)));
    }
    if meta.len() > max_bytes {
        return Err(TextFileError::TooLarge(max_bytes));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(TextFileError::TooLarge(max_bytes));
    }
    String::from_utf8(bytes).map_err(|_| TextFileError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_directories_and_large_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.toml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        // Opening a FIFO with no writer blocks: this returns only because it is not opened.
        assert_eq!(read(&fifo, 1024), Err(TextFileError::NotRegular("a FIFO")));
        assert_eq!(
            read(dir.path(), 1024),
            Err(TextFileError::NotRegular("a directory"))
        );
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        assert_eq!(read(&big, 1024), Err(TextFileError::TooLarge(1024)));
        assert_eq!(read(&big, 4096).unwrap().len(), 2048);
        let bin = dir.path().join("bin.toml");
        std::fs::write(&bin, [0xff, 0xfe]).unwrap();
        assert_eq!(read(&bin, 1024), Err(TextFileError::NotUtf8));
    }
}
