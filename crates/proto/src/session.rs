//! What the client and server sessions share: the parser, the outbox, the transcript and the
//! bookkeeping of how the session ended.

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::xml::{self, Element, StreamEvent, StreamHeader, StreamParser, XmlError};
use super::{Action, Direction, SessionEnd, Side, TraceEntry};
use crate::Step;

/// Parser, outbox, transcript and outcome of one session.
pub(crate) struct Core {
    parser: StreamParser,
    actions: VecDeque<Action>,
    trace: Vec<TraceEntry>,
    end: Option<SessionEnd>,
    close_sent: bool,
    pub(crate) step: Step,
    pub(crate) default_ns: &'static str,
}

impl Core {
    pub(crate) fn new(limits: xml::Limits, default_ns: &'static str) -> Core {
        Core {
            parser: StreamParser::new(limits),
            actions: VecDeque::new(),
            trace: Vec::new(),
            end: None,
            close_sent: false,
            step: Step::Stream,
            default_ns,
        }
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.parser.feed(bytes);
    }

    pub(crate) fn next_event(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        self.parser.next_event()
    }

    /// Restarts the stream parser; returns how many unparsed bytes were thrown away.
    pub(crate) fn restart_stream(&mut self) -> usize {
        self.parser.restart()
    }

    pub(crate) fn send_raw(&mut self, bytes: String, trace: String) {
        self.trace.push(TraceEntry {
            direction: Direction::Sent,
            text: trace,
        });
        // Consecutive sends leave as one write: fewer segments, no Nagle stalls.
        match self.actions.back_mut() {
            Some(Action::Send(queued)) => queued.extend_from_slice(bytes.as_bytes()),
            _ => self.actions.push_back(Action::Send(bytes.into_bytes())),
        }
    }

    pub(crate) fn send(&mut self, element: &Element) {
        let xml = element.to_xml(self.default_ns);
        self.send_raw(xml.clone(), xml);
    }

    /// Sends a SASL element whose payload is shown redacted in the transcript.
    pub(crate) fn send_sasl(&mut self, element: Element, payload: &[u8], shown: String) {
        let element = element.with_text(&encode_sasl(payload));
        let xml = element.to_xml(self.default_ns);
        let shown = sasl_trace(&element, &shown, self.default_ns);
        self.send_raw(xml, shown);
    }

    pub(crate) fn received(&mut self, element: &Element) {
        self.trace.push(TraceEntry {
            direction: Direction::Received,
            text: element.to_xml(self.default_ns),
        });
    }

    pub(crate) fn received_sasl(&mut self, element: &Element, shown: String) {
        self.trace.push(TraceEntry {
            direction: Direction::Received,
            text: sasl_trace(element, &shown, self.default_ns),
        });
    }

    pub(crate) fn received_text(&mut self, text: String) {
        self.trace.push(TraceEntry {
            direction: Direction::Received,
            text,
        });
    }

    pub(crate) fn note(&mut self, text: impl Into<String>) {
        self.trace.push(TraceEntry {
            direction: Direction::Note,
            text: text.into(),
        });
    }

    pub(crate) fn start_tls(&mut self) {
        self.actions.push_back(Action::StartTls);
    }

    /// Queues an action after everything queued so far.
    pub(crate) fn push_action(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    /// Records the outcome unless one was recorded already: the first decision stands.
    pub(crate) fn decide(&mut self, end: SessionEnd) {
        if self.end.is_none() {
            self.note(format!("outcome: {end}"));
            self.end = Some(end);
        }
    }

    /// Replaces the outcome: something the peer did later outweighs the first decision.
    pub(crate) fn overrule(&mut self, end: SessionEnd) {
        self.note(format!("outcome: {end}"));
        self.end = Some(end);
    }

    /// Hands the connection to TLS once `<proceed/>` is sent or received: restarts the parser
    /// and asks the IO layer for the handshake. Bytes `peer` sent after `after` and before the
    /// handshake are an injection attempt (RFC 6120 §5.4.3.3): the session is then rejected
    /// with `starttls-injection` and closed, and `false` returned for the caller to stop.
    pub(crate) fn switch_to_tls(&mut self, peer: &str, after: &str) -> bool {
        let smuggled = self.restart_stream();
        if smuggled > 0 {
            let detail = format!(
                "{peer} sent {smuggled} bytes after {after} before the TLS handshake (RFC 6120 §5.4.3.3)"
            );
            self.reject("starttls-injection", Side::Local, detail);
            self.close();
            return false;
        }
        self.step = Step::Tls;
        self.start_tls();
        true
    }

    pub(crate) fn reject(&mut self, condition: &str, by: Side, detail: impl Into<String>) {
        let step = self.step;
        self.decide(SessionEnd::Rejected {
            step,
            condition: condition.to_owned(),
            by,
            detail: detail.into(),
        });
    }

    /// Ends the stream politely: `</stream:stream>`, then close.
    pub(crate) fn close(&mut self) {
        if !self.close_sent {
            self.close_sent = true;
            self.send_raw(xml::STREAM_CLOSE.to_owned(), xml::STREAM_CLOSE.to_owned());
            self.actions.push_back(Action::Close);
        }
    }

    /// Sends a stream error (RFC 6120 §4.9) and closes.
    pub(crate) fn stream_error(&mut self, condition: &str, text: &str) {
        if !self.close_sent {
            self.send(&xml::stream_error(condition, Some(text)));
            self.close();
        }
    }

    /// The peer's bytes broke the stream: stream error, close, and that is the outcome.
    pub(crate) fn xml_failure(&mut self, error: &XmlError) {
        let condition = error.stream_error_condition();
        if let Some(bytes) = error.offending_bytes() {
            self.received_text(format!("offending bytes: {}", show_bytes(bytes)));
        }
        self.reject(
            condition,
            Side::Local,
            format!("the peer's XML was refused: {error}"),
        );
        self.stream_error(condition, &error.to_string());
    }

    /// The peer sent `<stream:error/>`.
    pub(crate) fn peer_stream_error(&mut self, element: &Element) {
        let (condition, text) = xml::parse_stream_error(element);
        let detail = match text {
            Some(text) => format!("the peer sent stream error <{condition}/>: {text}"),
            None => format!("the peer sent stream error <{condition}/>"),
        };
        self.reject(&condition, Side::Peer, detail);
        self.close();
    }

    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub(crate) fn take_trace(&mut self) -> Vec<TraceEntry> {
        std::mem::take(&mut self.trace)
    }

    pub(crate) fn end(&self) -> Option<&SessionEnd> {
        self.end.as_ref()
    }
}

/// Base64 for SASL payloads: an empty payload is `=` (RFC 6120 §6.4.2).
pub(crate) fn encode_sasl(payload: &[u8]) -> String {
    if payload.is_empty() {
        "=".to_owned()
    } else {
        BASE64.encode(payload)
    }
}

/// Decodes a SASL payload: no text or `=` is empty; anything else must be valid base64.
pub(crate) fn decode_sasl(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    if text.is_empty() || text == "=" {
        return Ok(Vec::new());
    }
    BASE64
        .decode(text)
        .map_err(|e| format!("invalid base64 {:?}: {e}", truncate(text, 64)))
}

/// The element as XML, its base64 payload replaced by a readable, redacted rendering.
fn sasl_trace(element: &Element, shown: &str, default_ns: &str) -> String {
    let mut bare = element.clone();
    bare.children.clear();
    let xml = bare.to_xml(default_ns);
    let open = xml.strip_suffix("/>").unwrap_or(&xml);
    format!("{open}>[{shown}]</{}>", element.name)
}

/// Bytes for a human: printable ASCII as is, everything else escaped, at most 96 bytes.
pub(crate) fn show_bytes(bytes: &[u8]) -> String {
    let shown: String = bytes
        .iter()
        .take(96)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > 96 {
        format!("\"{shown}\"… ({} bytes)", bytes.len())
    } else {
        format!("\"{shown}\"")
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The [`Session`](super::Session) methods every session answers from its [`Core`] alone.
/// Expands inside an `impl Session for X` where `X` keeps its `Core` in a field named `core`.
macro_rules! delegate_to_core {
    () => {
        fn poll_action(&mut self) -> Option<$crate::Action> {
            self.core.poll_action()
        }
        fn take_trace(&mut self) -> Vec<$crate::TraceEntry> {
            self.core.take_trace()
        }
        fn end(&self) -> Option<&$crate::SessionEnd> {
            self.core.end()
        }
        fn step(&self) -> $crate::Step {
            self.core.step
        }
    };
}
pub(crate) use delegate_to_core;

/// [`Session::receive`](super::Session::receive) for every session: feeds `bytes` to the
/// session's [`Core`] and hands each parsed event to its `handle` while `$running` holds; a
/// parse failure ends the session (`state` becomes `State::Done`).
macro_rules! feed_and_handle {
    ($session:ident, $bytes:expr, while $running:expr) => {{
        $session.core.feed($bytes);
        while $running {
            match $session.core.next_event() {
                Ok(Some(event)) => $session.handle(event),
                Ok(None) => break,
                Err(error) => {
                    $session.core.xml_failure(&error);
                    $session.state = State::Done;
                }
            }
        }
    }};
}
pub(crate) use feed_and_handle;

/// What a receiving entity checks in the initiating entity's stream header: the default
/// namespace (RFC 6120 §4.9.3.10 `invalid-namespace`) and the domain it is addressed to
/// (§4.9.3.6 `host-unknown`). `Err` holds the stream-error condition and what was wrong.
pub(crate) fn check_incoming_header(
    header: &StreamHeader,
    namespace: &str,
    local_domain: &str,
) -> Result<(), (&'static str, String)> {
    if header.default_ns != namespace {
        return Err((
            "invalid-namespace",
            format!(
                "the stream's default namespace is {:?}, not {namespace}",
                header.default_ns
            ),
        ));
    }
    match header.to.as_deref() {
        Some(to) if to.eq_ignore_ascii_case(local_domain) => Ok(()),
        other => Err((
            "host-unknown",
            format!("the stream is addressed to {other:?}; this server is {local_domain}"),
        )),
    }
}
