//! The load-time constructor: the shim's only FFI glue (a function pointer in `.init_array`).

// `#[link_section]` is what the `unsafe_code` lint flags here: placing a value in a section
// the loader interprets. Everything the constructor does is safe Rust.
#![allow(unsafe_code)]

use vfs_faults::preload::{arm_from_env, SETUP_FAILED_EXIT_CODE};

/// Arms the VFS, or ends the process with a reason. Runs before the program's `main`; never
/// unwinds into the loader (a panic is caught and treated as a failed setup).
extern "C" fn init() {
    let outcome = std::panic::catch_unwind(arm_from_env);
    let why = match outcome {
        Ok(Ok(_)) => return,
        Ok(Err(e)) => e.to_string(),
        Err(_) => "panicked while arming".to_string(),
    };
    eprintln!("vfs-faults preload: {why}; not running unarmed");
    std::process::exit(SETUP_FAILED_EXIT_CODE);
}

// SAFETY: `.init_array` holds pointers to functions the dynamic loader calls once, when this
// library is loaded, before the program's `main` (arguments are passed but the C ABI lets a
// callee ignore them). `init` has the C ABI, takes nothing, returns nothing, and does not
// unwind. `#[used]` keeps the linker from dropping the otherwise unreferenced static.
#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = init;
