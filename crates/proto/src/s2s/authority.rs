//! The dialback verification connection (XEP-0220 §2.1.2–§2.1.3), sans-IO, both ends.
//!
//! The receiving server opens a stream to the originating domain's authoritative server
//! ([`VerifySession`]) and sends `<db:verify/>` with the key it was given; the authoritative
//! server ([`AuthoritySession`]) recomputes the XEP-0185 key for that stream id and answers
//! `type='valid'` or `type='invalid'`. The connection carries no credentials of its own, but
//! real servers insist on encrypting every server-to-server stream (Prosody's and ejabberd's
//! `s2s_require_encryption`), so the authority offers STARTTLS when it has a certificate and the
//! verifier takes it when offered (RFC 6120 §5.3.1).
//!
//! Outcomes: the verifier ends "authenticated via dialback" for `valid` and rejected
//! (`invalid`, or the error's condition) otherwise; the authority ends the same way for the
//! answer it gave, so both transcripts say what was decided.

use rand::Rng as _;

use super::dialback::{self, DialbackSecret};
use super::{DialbackRequest, NS_DIALBACK, NS_DIALBACK_FEATURE, NS_SERVER, header_xml};
use crate::NS_TLS;
use crate::client::describe_header;
use crate::session::{Core, delegate_to_core, feed_and_handle};
use crate::xml::{self, Element, Limits, NS_STREAM, StreamEvent, StreamHeader};
use crate::{S2sAuth, Step};
use crate::{Session, SessionEnd, Side, TlsChannel};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitHeader,
    /// Verifier only: the authority's stream features.
    AwaitFeatures,
    /// Verifier only: `<proceed/>` after `<starttls/>`.
    AwaitProceed,
    AwaitTls,
    AwaitElement,
    Done,
}

/// The receiving server asking the authoritative server about one key.
pub struct VerifySession {
    request: DialbackRequest,
    core: Core,
    state: State,
    tls: bool,
}

impl VerifySession {
    /// Starts the verification; the stream header is queued right away.
    pub fn new(request: DialbackRequest, limits: Limits) -> VerifySession {
        let core = Core::new(limits, NS_SERVER);
        let mut session = VerifySession {
            request,
            core,
            state: State::AwaitHeader,
            tls: false,
        };
        session.open_stream();
        session
    }

    fn open_stream(&mut self) {
        let header = StreamHeader {
            default_ns: NS_SERVER.to_owned(),
            from: Some(self.request.receiving.clone()),
            to: Some(self.request.originating.clone()),
            version: Some("1.0".to_owned()),
            ..StreamHeader::default()
        };
        let xml = header_xml(&header);
        self.core.send_raw(xml.clone(), xml);
        self.core.step = Step::Dialback;
        self.state = State::AwaitHeader;
    }

    fn send_verify(&mut self) {
        let verify =
            dialback::element("verify", &self.request.receiving, &self.request.originating)
                .with_attr("id", &self.request.stream_id)
                .with_text(&self.request.key);
        self.core.send(&verify);
        self.state = State::AwaitElement;
    }

    /// Takes STARTTLS when the authority offers it (and TLS is not up yet), otherwise asks.
    fn on_features(&mut self, features: &Element) {
        if !self.tls && features.child("starttls", NS_TLS).is_some() {
            self.core.send(&Element::new("starttls", NS_TLS));
            self.state = State::AwaitProceed;
        } else {
            self.send_verify();
        }
    }

    fn on_starttls_answer(&mut self, element: &Element) {
        if !element.is("proceed", NS_TLS) {
            let detail = format!(
                "the authoritative server answered <starttls/> with <{}/>",
                element.name
            );
            self.finish_with("starttls-failure", Side::Peer, detail);
            return;
        }
        self.state = if self
            .core
            .switch_to_tls("the authoritative server", "<proceed/>")
        {
            State::AwaitTls
        } else {
            State::Done
        };
    }

    fn finish_with(&mut self, condition: &str, by: Side, detail: String) {
        self.core.reject(condition, by, detail);
        self.core.close();
        self.state = State::Done;
    }

    fn handle(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Header(header) => {
                self.core
                    .received_text(format!("<stream:stream {}>", describe_header(&header)));
                if header.default_ns != NS_SERVER {
                    let detail = format!(
                        "the authoritative server's stream has default namespace {:?}",
                        header.default_ns
                    );
                    self.finish_with("invalid-namespace", Side::Local, detail);
                    return;
                }
                // A pre-1.0 authority sends no features (RFC 6120 §4.7.5): ask right away.
                if header.version.as_deref() == Some("1.0") {
                    self.state = State::AwaitFeatures;
                } else {
                    self.send_verify();
                }
            }
            StreamEvent::Closed => {
                self.core.received_text(xml::STREAM_CLOSE.to_owned());
                self.finish_with(
                    "remote-server-not-found",
                    Side::Peer,
                    "the authoritative server closed the stream without answering <db:verify/>"
                        .into(),
                );
            }
            StreamEvent::Element(element) => {
                self.core.received(&element);
                if element.is("error", NS_STREAM) {
                    self.core.peer_stream_error(&element);
                    self.state = State::Done;
                } else if self.state == State::AwaitFeatures && element.is("features", NS_STREAM) {
                    self.on_features(&element);
                } else if self.state == State::AwaitProceed {
                    self.on_starttls_answer(&element);
                } else if element.is("verify", NS_DIALBACK) {
                    self.on_verify(&element);
                }
            }
        }
    }

    fn on_verify(&mut self, verify: &Element) {
        if verify.attr("id") != Some(self.request.stream_id.as_str()) {
            let detail = format!(
                "the answer is for stream id {:?}, the question was about {:?}",
                verify.attr("id"),
                self.request.stream_id
            );
            self.finish_with("invalid-id", Side::Local, detail);
            return;
        }
        let domain = self.request.originating.clone();
        match verify.attr("type") {
            Some("valid") => {
                self.core.decide(SessionEnd::S2sAuthenticated {
                    method: S2sAuth::Dialback,
                    domain,
                });
                self.core.close();
                self.state = State::Done;
            }
            Some("invalid") => {
                let detail =
                    format!("the authoritative server of {domain} says the key is invalid");
                self.finish_with("invalid", Side::Peer, detail);
            }
            Some("error") => {
                let condition = dialback::error_condition(verify);
                let detail = format!("the authoritative server answered with <{condition}/>");
                self.finish_with(&condition, Side::Peer, detail);
            }
            other => {
                let detail = format!("<db:verify/> answered with type {other:?}");
                self.finish_with("undefined-condition", Side::Local, detail);
            }
        }
    }
}

/// What the authoritative server of a domain knows and does.
#[derive(Debug, Clone)]
pub struct AuthorityConfig {
    /// The domain it is authoritative for.
    pub domain: String,
    /// The secret its originating server makes keys with.
    pub secret: DialbackSecret,
    /// Answer `invalid` whatever the key (a scenario's deliberately unhelpful authority).
    pub always_invalid: bool,
    /// Offer STARTTLS (the hosting server has a certificate for `domain`).
    pub offer_starttls: bool,
    /// Parser limits.
    pub limits: Limits,
}

/// The authoritative server answering `<db:verify/>` on one connection.
pub struct AuthoritySession {
    config: AuthorityConfig,
    core: Core,
    state: State,
    tls: bool,
}

impl AuthoritySession {
    /// Waits for the verifier's stream header.
    pub fn new(config: AuthorityConfig) -> AuthoritySession {
        let mut core = Core::new(config.limits, NS_SERVER);
        core.step = Step::Dialback;
        AuthoritySession {
            config,
            core,
            state: State::AwaitHeader,
            tls: false,
        }
    }

    fn refuse_stream(&mut self, condition: &str, detail: &str) {
        self.core.reject(condition, Side::Local, detail);
        self.core.stream_error(condition, detail);
        self.state = State::Done;
    }

    fn handle(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Header(header) => {
                self.core
                    .received_text(format!("<stream:stream {}>", describe_header(&header)));
                let id: u64 = rand::thread_rng().r#gen();
                let ours = StreamHeader {
                    default_ns: NS_SERVER.to_owned(),
                    from: Some(self.config.domain.clone()),
                    to: header.from.clone(),
                    id: Some(format!("{id:016x}")),
                    version: Some("1.0".to_owned()),
                    ..StreamHeader::default()
                };
                let xml = header_xml(&ours);
                self.core.send_raw(xml.clone(), xml);
                if header.default_ns != NS_SERVER {
                    self.refuse_stream("invalid-namespace", "not a jabber:server stream");
                    return;
                }
                if !header
                    .to
                    .as_deref()
                    .is_some_and(|to| to.eq_ignore_ascii_case(&self.config.domain))
                {
                    let detail = format!(
                        "the stream is addressed to {:?}; this server is authoritative for {}",
                        header.to, self.config.domain
                    );
                    self.refuse_stream("host-unknown", &detail);
                    return;
                }
                let mut features = Element::new("features", NS_STREAM)
                    .with_child(Element::new("dialback", NS_DIALBACK_FEATURE));
                if self.config.offer_starttls && !self.tls {
                    features = features.with_child(Element::new("starttls", NS_TLS));
                }
                self.core.send(&features);
                self.state = State::AwaitElement;
            }
            StreamEvent::Closed => {
                self.core.received_text(xml::STREAM_CLOSE.to_owned());
                self.core.reject(
                    "closed",
                    Side::Peer,
                    "the verifying server closed the stream without asking",
                );
                self.core.close();
                self.state = State::Done;
            }
            StreamEvent::Element(element) => {
                self.core.received(&element);
                if element.is("error", NS_STREAM) {
                    self.core.peer_stream_error(&element);
                    self.state = State::Done;
                } else if element.is("verify", NS_DIALBACK) {
                    self.on_verify(&element);
                } else if element.is("starttls", NS_TLS) && self.config.offer_starttls && !self.tls
                {
                    self.on_starttls();
                } else {
                    let detail = format!(
                        "<{} xmlns='{}'> on a dialback verification stream",
                        element.name, element.ns
                    );
                    self.refuse_stream("unsupported-stanza-type", &detail);
                }
            }
        }
    }

    fn on_starttls(&mut self) {
        self.core.send(&Element::new("proceed", NS_TLS));
        self.state = if self
            .core
            .switch_to_tls("the verifying server", "<starttls/>")
        {
            State::AwaitTls
        } else {
            State::Done
        };
    }

    fn on_verify(&mut self, verify: &Element) {
        let (reply, decision) = answer_verify(&self.config, verify);
        self.core.send(&reply);
        match decision {
            Ok(domain) => self.core.decide(SessionEnd::S2sAuthenticated {
                method: S2sAuth::Dialback,
                domain,
            }),
            Err((condition, detail)) => self.core.reject(condition, Side::Local, detail),
        }
    }
}

/// The authoritative server's answer to one `<db:verify/>` (XEP-0220 §2.1.2): the reply to
/// send, and `Ok(domain)` when it confirmed the key or the condition and why it did not.
pub(crate) fn answer_verify(
    config: &AuthorityConfig,
    verify: &Element,
) -> (Element, Result<String, (&'static str, String)>) {
    let receiving = verify.attr("from").unwrap_or_default().to_owned();
    let originating = verify.attr("to").unwrap_or_default().to_owned();
    let id = verify.attr("id").unwrap_or_default().to_owned();
    let domain = config.domain.clone();
    if !originating.eq_ignore_ascii_case(&domain) {
        let reply = dialback::result_error(&domain, &receiving, "cancel", "item-not-found")
            .with_attr("id", &id);
        let detail = format!("asked about {originating:?}; authoritative only for {domain}");
        return (reply, Err(("item-not-found", detail)));
    }
    let reply = dialback::element("verify", &domain, &receiving).with_attr("id", &id);
    let expected = config.secret.key(&receiving, &domain, &id);
    if !config.always_invalid && verify.text().trim() == expected {
        return (reply.with_attr("type", "valid"), Ok(domain));
    }
    let detail = if config.always_invalid {
        "answered invalid, as this authoritative server is told to".to_owned()
    } else {
        format!("the key is not the XEP-0185 key of stream {id:?} from {domain} to {receiving}")
    };
    (reply.with_attr("type", "invalid"), Err(("invalid", detail)))
}

/// The [`Session`] plumbing both ends share.
macro_rules! plain_session {
    ($type:ty, $after_tls:expr, $waiting:expr) => {
        impl Session for $type {
            fn receive(&mut self, bytes: &[u8]) {
                feed_and_handle!(self, bytes, while !matches!(self.state, State::Done | State::AwaitTls));
            }
            fn tls_established(&mut self, _channel: TlsChannel) {
                self.tls = true;
                $after_tls(self);
            }
            fn peer_closed(&mut self) {
                if self.state != State::Done {
                    let detail = format!(
                        "the connection closed while this side waited for {}",
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
                let waiting: fn(State) -> &'static str = $waiting;
                waiting(self.state)
            }
        }
    };
}

plain_session!(
    VerifySession,
    VerifySession::open_stream,
    |state| match state {
        State::AwaitHeader => "the authoritative server's stream header",
        State::AwaitFeatures => "the authoritative server's stream features",
        State::AwaitProceed => "<proceed/> after <starttls/>",
        State::AwaitTls => "the TLS handshake",
        State::AwaitElement => "the authoritative server's <db:verify/> answer",
        State::Done => "the end of the stream",
    }
);

plain_session!(
    AuthoritySession,
    |session: &mut AuthoritySession| {
        session.state = State::AwaitHeader;
        session.core.step = Step::Dialback;
    },
    |state| match state {
        State::AwaitHeader => "the verifying server's stream header",
        State::AwaitFeatures | State::AwaitProceed =>
            "nothing (the authority never waits for this)",
        State::AwaitTls => "the TLS handshake",
        State::AwaitElement => "<db:verify/> or the end of the stream",
        State::Done => "the end of the stream",
    }
);
