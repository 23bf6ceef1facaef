//! The load-time constructor (a function pointer in `.init_array`): reads the plan from the
//! environment, before the program's `main`, without touching SQLite.

// `#[link_section]` is what the `unsafe_code` lint flags here: placing a value in a section
// the loader interprets. Everything the constructor does is safe Rust.
#![allow(unsafe_code)]

use vfs_faults::preload::{arm_from_env, SETUP_FAILED_EXIT_CODE};

/// Ends the process with `why` on stderr (never stdout: the program's output is its own).
pub(crate) fn fail(why: &str) -> ! {
    eprintln!("vfs-faults preload: {why}; not running unarmed");
    std::process::exit(SETUP_FAILED_EXIT_CODE);
}

/// Reads the plan, or ends the process with a reason. Runs before the program's `main`; never
/// unwinds into the loader (a panic is caught and treated as a failed setup).
extern "C" fn init() {
    match std::panic::catch_unwind(arm_from_env) {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => fail(&e.to_string()),
        Err(_) => fail("panicked while arming"),
    }
}

// SAFETY: `.init_array` holds pointers to functions the dynamic loader calls once, when this
// library is loaded, before the program's `main` (arguments are passed but the C ABI lets a
// callee ignore them). `init` has the C ABI, takes nothing, returns nothing, and does not
// unwind. `#[used]` keeps the linker from dropping the otherwise unreferenced static.
#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = init;
