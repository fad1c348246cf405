//! The originating side of a server-to-server stream (RFC 6120 §4–§6, XEP-0220 §2.1.1), sans-IO.
//!
//! An [`OriginatingSession`] opens a `jabber:server` stream from its domain to the receiving
//! domain, negotiates STARTTLS (or starts on direct TLS, XEP-0368), then authenticates: with
//! SASL EXTERNAL when the receiving server offers it (its certificate was good for our domain,
//! XEP-0178) and this side has a certificate, else with dialback (`<db:result/>` carrying the
//! XEP-0185 key) when the receiving server offers the dialback feature.

use rand::Rng as _;

use super::dialback::{self, DialbackSecret};
use super::{NS_DIALBACK, NS_DIALBACK_FEATURE, NS_SERVER, header_xml};
use crate::client::describe_header;
use crate::session::{Core, decode_sasl, delegate_to_core, feed_and_handle};
use crate::xml::{self, Element, Limits, NS_STREAM, StreamEvent, StreamHeader};
use crate::{Mechanism, S2sAuth, Step, Transport};
use crate::{NS_SASL, NS_TLS, Session, SessionEnd, Side, TlsChannel};

/// What the originating server does.
#[derive(Debug, Clone)]
pub struct OriginatingConfig {
    /// This server's domain (`from`).
    pub local_domain: String,
    /// The receiving domain (`to`).
    pub remote_domain: String,
    /// STARTTLS, or direct TLS (already up when the session starts).
    pub transport: Transport,
    /// Whether this side presented a certificate, so EXTERNAL is worth trying.
    pub has_certificate: bool,
    /// The secret dialback keys are made with; `None` never uses dialback.
    pub dialback: Option<DialbackSecret>,
    /// Send a dialback key that is not the XEP-0185 key (a forgery the receiving server must
    /// detect through its authoritative server).
    pub wrong_dialback_key: bool,
    /// Parser limits for what the receiving server sends.
    pub limits: Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitHeader,
    AwaitFeatures,
    AwaitProceed,
    AwaitTls,
    AwaitSaslResult,
    AwaitDialbackResult,
    Done,
}

/// One server-to-server stream, from the originating server's side.
pub struct OriginatingSession {
    config: OriginatingConfig,
    core: Core,
    state: State,
    tls: bool,
    stream_id: Option<String>,
    external_succeeded: bool,
    /// Whether the receiving server offered dialback on this stream (the fallback when it
    /// refuses EXTERNAL).
    dialback_offered: bool,
}

impl OriginatingSession {
    /// Starts a session; the stream header is queued right away. `tls_up` is true on direct TLS.
    pub fn new(config: OriginatingConfig, tls_up: bool) -> OriginatingSession {
        let core = Core::new(config.limits, NS_SERVER);
        let mut session = OriginatingSession {
            config,
            core,
            state: State::AwaitHeader,
            tls: tls_up,
            stream_id: None,
            external_succeeded: false,
            dialback_offered: false,
        };
        session.open_stream();
        session
    }

    fn open_stream(&mut self) {
        let header = StreamHeader {
            default_ns: NS_SERVER.to_owned(),
            from: Some(self.config.local_domain.clone()),
            to: Some(self.config.remote_domain.clone()),
            version: Some("1.0".to_owned()),
            ..StreamHeader::default()
        };
        let xml = header_xml(&header);
        self.core.send_raw(xml.clone(), xml);
        self.state = State::AwaitHeader;
        if !self.external_succeeded {
            self.core.step = Step::Stream;
        }
    }

    fn finish_with(&mut self, condition: &str, by: Side, detail: String) {
        self.core.reject(condition, by, detail);
        self.core.close();
        self.state = State::Done;
    }

    fn succeed(&mut self, method: S2sAuth) {
        self.core.decide(SessionEnd::S2sAuthenticated {
            method,
            domain: self.config.local_domain.clone(),
        });
        self.core.close();
        self.state = State::Done;
    }

    fn handle(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Header(header) => {
                self.core
                    .received_text(format!("<stream:stream {}>", describe_header(&header)));
                self.on_header(header);
            }
            StreamEvent::Closed => {
                self.core.received_text(xml::STREAM_CLOSE.to_owned());
                let detail = format!(
                    "the receiving server closed the stream while this side waited for {}",
                    self.waiting_for()
                );
                self.finish_with("closed", Side::Peer, detail);
            }
            StreamEvent::Element(element) => {
                self.core.received(&element);
                if element.is("error", NS_STREAM) {
                    self.core.peer_stream_error(&element);
                    self.state = State::Done;
                    return;
                }
                match self.state {
                    State::AwaitFeatures => self.on_features(&element),
                    State::AwaitProceed => self.on_starttls_answer(&element),
                    State::AwaitSaslResult => self.on_sasl_result(&element),
                    State::AwaitDialbackResult => self.on_dialback_result(&element),
                    State::AwaitHeader | State::AwaitTls | State::Done => {
                        let detail = format!(
                            "unexpected <{} xmlns='{}'> while waiting for {}",
                            element.name,
                            element.ns,
                            self.waiting_for()
                        );
                        self.finish_with("unexpected-element", Side::Local, detail);
                    }
                }
            }
        }
    }

    fn on_header(&mut self, header: StreamHeader) {
        if header.default_ns != NS_SERVER {
            let detail = format!(
                "the receiving server's stream has default namespace {:?}, not jabber:server",
                header.default_ns
            );
            self.core
                .reject("invalid-namespace", Side::Local, detail.clone());
            self.core.stream_error("invalid-namespace", &detail);
            self.state = State::Done;
            return;
        }
        if header.version.as_deref() != Some("1.0") {
            let detail = format!(
                "the receiving server's stream header has version {:?}; RFC 6120 §4.7.5 needs 1.0",
                header.version
            );
            self.core
                .reject("unsupported-version", Side::Local, detail.clone());
            self.core.stream_error("unsupported-version", &detail);
            self.state = State::Done;
            return;
        }
        self.stream_id = header.id;
        self.state = State::AwaitFeatures;
        if !self.external_succeeded {
            self.core.step = Step::Features;
        }
    }

    fn on_features(&mut self, features: &Element) {
        if !features.is("features", NS_STREAM) {
            let detail = format!("expected <stream:features/>, got <{}>", features.name);
            self.finish_with("unexpected-element", Side::Local, detail);
            return;
        }
        if self.external_succeeded {
            self.succeed(S2sAuth::External);
            return;
        }
        if !self.tls {
            if features.child("starttls", NS_TLS).is_some() {
                self.core.step = Step::Starttls;
                self.core.send(&Element::new("starttls", NS_TLS));
                self.state = State::AwaitProceed;
            } else {
                self.finish_with(
                    "starttls-not-offered",
                    Side::Local,
                    "the receiving server offered no <starttls/>; this server sends nothing \
                     over an unencrypted server-to-server stream (RFC 6120 §5.3.1)"
                        .into(),
                );
            }
            return;
        }
        let external_offered = features.child("mechanisms", NS_SASL).is_some_and(|m| {
            m.child_elements().any(|c| {
                c.is("mechanism", NS_SASL) && c.text().trim() == Mechanism::External.name()
            })
        });
        let dialback_offered = features.child("dialback", NS_DIALBACK_FEATURE).is_some();
        self.dialback_offered = dialback_offered;
        self.core.note(format!(
            "receiving server offers EXTERNAL: {external_offered}, dialback: {dialback_offered}"
        ));
        if external_offered && self.config.has_certificate {
            self.core.step = Step::Sasl;
            let auth = Element::new("auth", NS_SASL).with_attr("mechanism", "EXTERNAL");
            let authzid = self.config.local_domain.clone();
            self.core
                .send_sasl(auth, authzid.as_bytes(), format!("authzid {authzid}"));
            self.state = State::AwaitSaslResult;
        } else if dialback_offered && self.config.dialback.is_some() {
            self.send_dialback_result();
        } else {
            let detail = format!(
                "the receiving server offers {} and this server can use {}",
                match (external_offered, dialback_offered) {
                    (true, _) => "only EXTERNAL",
                    (false, true) => "only dialback",
                    (false, false) => "neither EXTERNAL nor dialback",
                },
                match (self.config.has_certificate, self.config.dialback.is_some()) {
                    (true, true) => "EXTERNAL or dialback",
                    (true, false) => "only EXTERNAL",
                    (false, true) => "only dialback",
                    (false, false) => "nothing",
                }
            );
            self.finish_with("no-common-authentication", Side::Peer, detail);
        }
    }

    fn send_dialback_result(&mut self) {
        self.core.step = Step::Dialback;
        let stream_id = self.stream_id.clone().unwrap_or_default();
        let Some(secret) = &self.config.dialback else {
            return;
        };
        let mut key = secret.key(
            &self.config.remote_domain,
            &self.config.local_domain,
            &stream_id,
        );
        if self.config.wrong_dialback_key {
            let forged: u64 = rand::thread_rng().r#gen();
            key = format!("{forged:016x}{}", &key[16..]);
            self.core
                .note("sending a forged dialback key (not the XEP-0185 key of this stream)");
        }
        let result = dialback::element(
            "result",
            &self.config.local_domain,
            &self.config.remote_domain,
        )
        .with_text(&key);
        self.core.send(&result);
        self.state = State::AwaitDialbackResult;
    }

    fn on_starttls_answer(&mut self, element: &Element) {
        if element.is("proceed", NS_TLS) {
            self.state = if self
                .core
                .switch_to_tls("the receiving server", "<proceed/>")
            {
                State::AwaitTls
            } else {
                State::Done
            };
        } else {
            self.finish_with(
                "starttls-failure",
                Side::Peer,
                format!(
                    "the receiving server answered <starttls/> with <{}/>",
                    element.name
                ),
            );
        }
    }

    fn on_sasl_result(&mut self, element: &Element) {
        if element.is("success", NS_SASL) {
            if let Err(e) = decode_sasl(&element.text()) {
                self.finish_with("incorrect-encoding", Side::Local, e);
                return;
            }
            self.external_succeeded = true;
            let discarded = self.core.restart_stream();
            if discarded > 0 {
                self.core.note(format!(
                    "discarded {discarded} bytes sent after <success/> before the restart"
                ));
            }
            self.open_stream();
        } else if element.is("failure", NS_SASL) {
            let condition = element
                .child_elements()
                .find(|c| c.ns == NS_SASL)
                .map_or_else(|| "undefined-condition".to_owned(), |c| c.name.clone());
            if self.dialback_offered && self.config.dialback.is_some() {
                // XEP-0178 §4 / XEP-0220 §2.1: a refused EXTERNAL leaves dialback, which was
                // offered on the same stream; real servers fall back to it too.
                self.core.note(format!(
                    "the receiving server refused EXTERNAL with <{condition}/>; falling back to the dialback it offered"
                ));
                self.send_dialback_result();
                return;
            }
            let detail = format!("the receiving server refused EXTERNAL with <{condition}/>");
            self.finish_with(&condition, Side::Peer, detail);
        } else {
            let detail = format!("expected <success/> or <failure/>, got <{}>", element.name);
            self.finish_with("unexpected-element", Side::Local, detail);
        }
    }

    fn on_dialback_result(&mut self, element: &Element) {
        if !element.is("result", NS_DIALBACK) {
            let detail = format!("expected <db:result/>, got <{}>", element.name);
            self.finish_with("unexpected-element", Side::Local, detail);
            return;
        }
        match element.attr("type") {
            Some("valid") => self.succeed(S2sAuth::Dialback),
            Some("invalid") => self.finish_with(
                "invalid",
                Side::Peer,
                "the receiving server answered <db:result type='invalid'/>: its authoritative \
                 server did not confirm the key"
                    .into(),
            ),
            Some("error") => {
                let condition = dialback::error_condition(element);
                let detail = format!(
                    "the receiving server answered <db:result type='error'/> with <{condition}/>"
                );
                self.finish_with(&condition, Side::Peer, detail);
            }
            other => {
                let detail = format!("<db:result/> with type {other:?}");
                self.finish_with("unexpected-element", Side::Local, detail);
            }
        }
    }
}

impl Session for OriginatingSession {
    fn receive(&mut self, bytes: &[u8]) {
        feed_and_handle!(self, bytes, while self.state != State::Done && self.state != State::AwaitTls);
    }
    fn tls_established(&mut self, _channel: TlsChannel) {
        self.tls = true;
        self.open_stream();
    }
    fn peer_closed(&mut self) {
        if self.state != State::Done {
            let detail = format!(
                "the receiving server closed the connection while this side waited for {}",
                self.waiting_for()
            );
            self.core.reject("closed", Side::Peer, detail);
            self.state = State::Done;
        }
    }
    delegate_to_core!();
    fn is_finished(&self) -> bool {
        self.state == State::Done
    }
    fn waiting_for(&self) -> &'static str {
        match self.state {
            State::AwaitHeader => "the receiving server's stream header",
            State::AwaitFeatures => "the receiving server's stream features",
            State::AwaitProceed => "<proceed/>",
            State::AwaitTls => "the TLS handshake",
            State::AwaitSaslResult => "the EXTERNAL outcome",
            State::AwaitDialbackResult => "<db:result type='valid'/> or 'invalid'",
            State::Done => "the end of the stream",
        }
    }
}
