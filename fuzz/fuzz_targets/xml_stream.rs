//! The restricted XML stream parser (`proto::xml::StreamParser`).
//!
//! The first byte picks the limits (default or tiny, to reach the limit paths) and the point
//! at which the rest is split into two `feed` calls; the same bytes are also fed whole and one
//! byte at a time. Chunking must not change what the parser reports up to the first
//! `<proceed/>` or `<success/>`: the events, and whether (and with which stream error
//! condition) it failed. What a restart discards depends on what has arrived, so the two-part
//! feeding is also run on past such elements, restarting the stream as the sessions do, without
//! comparing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xmpp_interop::proto::xml::{Limits, StreamEvent, StreamParser};

/// Everything the parser reported for one way of feeding the input.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<StreamEvent>,
    restarts: Vec<usize>,
    error: Option<&'static str>,
}

fn run<'a>(limits: Limits, chunks: impl Iterator<Item = &'a [u8]>, restart: bool) -> Outcome {
    let mut parser = StreamParser::new(limits);
    let mut outcome = Outcome {
        events: Vec::new(),
        restarts: Vec::new(),
        error: None,
    };
    for chunk in chunks {
        parser.feed(chunk);
        loop {
            match parser.next_event() {
                Ok(Some(event)) => {
                    let restarts = matches!(&event, StreamEvent::Element(e)
                        if e.name == "proceed" || e.name == "success");
                    if let StreamEvent::Element(element) = &event {
                        // Serialising what was parsed must not panic either.
                        let _ = element.to_xml("jabber:client");
                    }
                    outcome.events.push(event);
                    if restarts {
                        if !restart {
                            return outcome;
                        }
                        outcome.restarts.push(parser.restart());
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let _ = error.offending_bytes();
                    outcome.error = Some(error.stream_error_condition());
                    return outcome;
                }
            }
        }
    }
    outcome
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let limits = if first & 0x80 == 0 {
        Limits::default()
    } else {
        Limits {
            max_stanza_bytes: 200,
            max_depth: 4,
            max_header_bytes: 160,
        }
    };
    let split = if input.is_empty() {
        0
    } else {
        usize::from(first & 0x7f) * input.len() / 0x7f
    };
    let (a, b) = input.split_at(split.min(input.len()));
    let whole = run(limits, std::iter::once(input), false);
    let two = run(limits, [a, b].into_iter(), false);
    assert_eq!(whole, two, "split at {split} changed the outcome");
    if input.len() <= 512 {
        let bytewise = run(limits, input.chunks(1), false);
        assert_eq!(
            whole, bytewise,
            "byte-at-a-time feeding changed the outcome"
        );
    }
    run(limits, [a, b].into_iter(), true);
});
