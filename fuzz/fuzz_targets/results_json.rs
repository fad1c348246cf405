//! The `results.json` reader of `merge` and `diff` (`report::merge::read_results`), and what
//! those commands do with what it read: the coverage check and event replay of `merge`
//! (`check_coverage`, `events`; no transcript files exist beside the input) and `diff` of the
//! file against itself and against an empty run.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use xmpp_interop::report::diff::{diff, render};
use xmpp_interop::report::merge::{check_coverage, events, read_results};

fuzz_target!(|data: &[u8]| {
    let path = common::write_input("results", "results.json", data);
    let shard = match read_results(&path) {
        Ok(shard) => shard,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let shards = [shard.clone(), shard];
    let _ = check_coverage(&shards[..1], true);
    let _ = check_coverage(&shards, false);
    let _ = events(&shards[..1]);
    let _ = events(&shards);
    let changes = diff(&shards[0].results, &shards[1].results);
    let _ = render(&changes);
});
