//! The scenario loader (`scenario::load_path`): YAML with serde-saphyr and its budgets, the
//! raw model, validation, `matrix:` expansion, `control:` templates and the control lookup
//! among a file's siblings. Each input is one scenario file, alone in its directory.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use xmpp_interop::scenario::load_path;

fuzz_target!(|data: &[u8]| {
    let path = common::write_input("scenario", "input.yaml", data);
    if let Err(error) = load_path(&path) {
        // Rendering the error (file:line:column) must not panic either.
        let _ = error.to_string();
    }
});
