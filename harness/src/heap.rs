//! Keeping freed memory in the process: glibc's heap is told, without `unsafe`, not to give
//! back to the kernel what SQLite and the harness free between crash states.
//!
//! Why it exists: exploration opens and closes several SQLite connections per crash state.
//! Each close frees its page cache (hundreds of 4 KiB blocks), and glibc's `free` hands the top
//! of the heap back to the kernel once more than `M_TRIM_THRESHOLD` (128 KiB at start) is free
//! there; the next state's connections fault the same pages in again, and allocations above
//! `M_MMAP_THRESHOLD` are `mmap`ed and `munmap`ed every time. Measured on the crash-points
//! reference (256 pages), a fault-free backup into memory took 1.9 ms this way and 0.25 ms with
//! the memory kept: most of a state's cost was page faults.
//!
//! glibc raises both thresholds by itself when a block it had `mmap`ed is freed: the mmap
//! threshold becomes that block's size and the trim threshold twice that (its "dynamic
//! threshold", for blocks up to 32 MiB on 64-bit targets). One such block allocated and freed
//! at start-up therefore sets them to about 30 and 60 MiB. The effect is the same as
//! `GLIBC_TUNABLES=glibc.malloc.trim_threshold=…:glibc.malloc.mmap_threshold=…`, which would
//! have to be set before the process starts. Other allocators ignore the block; nothing else
//! changes.

use std::sync::Once;

/// Size of the block whose free raises glibc's thresholds: below its 32 MiB cap.
const BLOCK: usize = 30 << 20;

/// Raises glibc's mmap and trim thresholds for the rest of the process (once; later calls do
/// nothing). Costs one `mmap` and one `munmap` of untouched pages.
pub fn keep_freed_memory() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Zeroed: glibc's calloc takes fresh mmapped pages without touching them.
        let block = vec![0u8; BLOCK];
        drop(std::hint::black_box(block));
    });
}
