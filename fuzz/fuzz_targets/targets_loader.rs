//! The targets file loader (`targets::file::load_targets`).
//!
//! A targets file may name a `version:` command that the loader runs to learn the
//! implementation's version; that is by design (the file is trusted configuration) but no
//! business of a fuzzer, which could otherwise start any program. Inputs that contain the
//! text `version` are skipped, and `PATH` is emptied at start-up as a second guard.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use xmpp_interop::targets::file::load_targets;

fuzz_target!(|data: &[u8]| {
    static GUARD: std::sync::Once = std::sync::Once::new();
    GUARD.call_once(|| {
        // SAFETY: set once, before this process starts any thread of its own.
        unsafe { std::env::set_var("PATH", common::scratch_dir()) };
    });
    if data.windows(7).any(|w| w.eq_ignore_ascii_case(b"version")) {
        return;
    }
    let path = common::write_input("targets", "targets.yaml", data);
    if let Err(error) = load_targets(&path) {
        let _ = error.to_string();
    }
});
