//! The expectations loader (`runner::expectations::Expectations::load`): one
//! `<target>.yaml` file of recorded deviations, checked against the case ids of the shipped
//! scenarios (loaded once), then looked up the way the runner does.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use xmpp_interop::runner::expectations::Expectations;
use xmpp_interop::scenario::load_path;

const TARGETS: [&str; 3] = ["prosody", "ejabberd", "slixmpp"];

fn case_ids() -> &'static Vec<String> {
    static IDS: OnceLock<Vec<String>> = OnceLock::new();
    IDS.get_or_init(|| {
        load_path(&common::repo_root().join("scenarios"))
            .expect("the shipped scenarios load")
            .iter()
            .flat_map(|s| s.cases.iter().map(|c| c.id.clone()))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let ids = case_ids();
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let target = TARGETS[data.len() % TARGETS.len()];
    let path = common::write_input("expectations", &format!("{target}.yaml"), data);
    match Expectations::load(&path, &TARGETS, &wanted) {
        Ok(expectations) => {
            for id in ids.iter().take(64) {
                let _ = expectations.lookup(target, id);
            }
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
