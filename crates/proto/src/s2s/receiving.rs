//! The receiving side of a server-to-server stream (RFC 6120 §4–§6, XEP-0220 §2.1, XEP-0178),
//! sans-IO.
//!
//! A [`ReceivingSession`] requires TLS, then decides how the originating server may
//! authenticate the domain it claims in `from`: SASL EXTERNAL when its certificate chain
//! verified and names that domain as a server ([`super::certificate_authenticates`]), dialback
//! otherwise if the [`S2sPolicy`] allows it, and a `policy-violation` stream error when
//! neither applies. A `<db:result/>` becomes an [`Action::VerifyDialback`]; the authoritative
//! server's answer decides the `<db:result type=.../>` sent back.

use rand::Rng as _;

use super::authority::{AuthorityConfig, answer_verify};
use super::dialback;
use super::{
    DialbackAnswer, DialbackRequest, NS_DIALBACK, NS_DIALBACK_FEATURE, NS_SERVER, PeerCertificate,
    S2sPolicy, certificate_authenticates, header_xml,
};
use crate::client::describe_header;
use crate::session::{Core, check_incoming_header, decode_sasl, delegate_to_core, feed_and_handle};
use crate::xml::{self, Element, Limits, NS_STREAM, StreamEvent, StreamHeader};
use crate::{Action, NS_SASL, NS_TLS, Session, SessionEnd, Side, TlsChannel};
use crate::{Mechanism, S2sAuth, Step};

/// What the receiving server offers and demands.
#[derive(Debug, Clone)]
pub struct ReceivingConfig {
    /// This server's domain; streams must be addressed to it.
    pub local_domain: String,
    /// Whether `<starttls/>` is offered (false on direct TLS).
    pub starttls_available: bool,
    /// When dialback is acceptable.
    pub policy: S2sPolicy,
    /// Also be the authoritative server of `local_domain` on this stream: answer
    /// `<db:verify/>` and stay open once the peer is authenticated. A real server asks its
    /// verification questions on its own outgoing stream, after authenticating it.
    pub authority: Option<AuthorityConfig>,
    /// Parser limits for what the originating server sends.
    pub limits: Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitHeader,
    Negotiating,
    AwaitTls,
    AwaitVerification,
    /// Authenticated, staying open to answer `<db:verify/>` (with an authority only).
    Serving,
    Done,
}

/// How the peer may authenticate on this stream, decided after TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offer {
    External,
    Dialback,
}

/// One server-to-server stream, from the receiving server's side.
pub struct ReceivingSession {
    config: ReceivingConfig,
    core: Core,
    state: State,
    tls: bool,
    peer_certificate: Option<PeerCertificate>,
    peer_domain: Option<String>,
    stream_id: String,
    offers: Vec<Offer>,
    external_succeeded: bool,
}

impl ReceivingSession {
    /// Starts a session; `tls_up` is true on direct TLS, with the certificate the peer
    /// presented in that handshake.
    pub fn new(
        config: ReceivingConfig,
        tls_up: bool,
        peer_certificate: Option<PeerCertificate>,
    ) -> ReceivingSession {
        let core = Core::new(config.limits, NS_SERVER);
        ReceivingSession {
            config,
            core,
            state: State::AwaitHeader,
            tls: tls_up,
            peer_certificate,
            peer_domain: None,
            stream_id: String::new(),
            offers: Vec::new(),
            external_succeeded: false,
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
                self.on_header(&header);
            }
            StreamEvent::Closed => {
                self.core.received_text(xml::STREAM_CLOSE.to_owned());
                if self.state != State::Serving {
                    let detail = format!(
                        "the originating server closed the stream while this side waited for {}",
                        self.waiting_for()
                    );
                    self.core.reject("closed", Side::Peer, detail);
                }
                self.core.close();
                self.state = State::Done;
            }
            StreamEvent::Element(element) => {
                self.core.received(&element);
                if element.is("error", NS_STREAM) {
                    self.core.peer_stream_error(&element);
                    self.state = State::Done;
                } else if let Some(authority) = self.config.authority.as_ref().filter(|_| self.tls)
                    && element.is("verify", NS_DIALBACK)
                {
                    let (reply, decision) = answer_verify(authority, &element);
                    self.core.send(&reply);
                    self.core.note(match decision {
                        Ok(domain) => {
                            format!("as authoritative server: the key of {domain} is valid")
                        }
                        Err((condition, detail)) => {
                            format!("as authoritative server: answered {condition}: {detail}")
                        }
                    });
                } else if self.state == State::Serving {
                    self.core.note(format!(
                        "<{}/> on the authenticated stream is not part of the test; ignored",
                        element.name
                    ));
                } else if element.is("starttls", NS_TLS) {
                    self.on_starttls();
                } else if element.is("auth", NS_SASL) {
                    self.on_auth(&element);
                } else if element.is("result", NS_DIALBACK) {
                    self.on_dialback_result(&element);
                } else {
                    let detail = format!(
                        "the originating server sent <{} xmlns='{}'> before authenticating",
                        element.name, element.ns
                    );
                    self.refuse_stream("not-authorized", &detail);
                }
            }
        }
    }

    fn on_header(&mut self, header: &StreamHeader) {
        let id: u64 = rand::thread_rng().r#gen();
        self.stream_id = format!("{id:016x}");
        let ours = StreamHeader {
            default_ns: NS_SERVER.to_owned(),
            from: Some(self.config.local_domain.clone()),
            to: header.from.clone(),
            id: Some(self.stream_id.clone()),
            version: Some("1.0".to_owned()),
            ..StreamHeader::default()
        };
        let xml = header_xml(&ours);
        self.core.send_raw(xml.clone(), xml);
        if self.state != State::AwaitHeader {
            self.refuse_stream("invalid-xml", "a second stream header without a restart");
            return;
        }
        if let Err((condition, detail)) =
            check_incoming_header(header, NS_SERVER, &self.config.local_domain)
        {
            self.refuse_stream(condition, &detail);
            return;
        }
        let Some(from) = header.from.clone() else {
            self.refuse_stream(
                "invalid-from",
                "the stream header names no originating domain (RFC 6120 §4.7.1)",
            );
            return;
        };
        if header.version.as_deref() != Some("1.0") {
            let detail = format!(
                "the stream header has version {:?}; RFC 6120 §4.7.5 needs 1.0",
                header.version
            );
            self.refuse_stream("unsupported-version", &detail);
            return;
        }
        if self.external_succeeded {
            // Authenticated: nothing on this stream is tested beyond this point, and closing
            // bounds what a peer can make this side do afterwards (unless it is to be asked).
            self.core.send(&Element::new("features", NS_STREAM));
            self.after_authentication();
            return;
        }
        self.peer_domain = Some(from);
        self.state = State::Negotiating;
        self.send_features();
    }

    fn send_features(&mut self) {
        self.core.step = Step::Features;
        let mut features = Element::new("features", NS_STREAM);
        if !self.tls {
            if self.config.starttls_available {
                features = features.with_child(
                    Element::new("starttls", NS_TLS).with_child(Element::new("required", NS_TLS)),
                );
                self.core.send(&features);
            } else {
                self.refuse_stream(
                    "policy-violation",
                    "this server accepts server-to-server streams only over TLS",
                );
            }
            return;
        }
        let domain = self.peer_domain.clone().unwrap_or_default();
        self.offers = match certificate_authenticates(self.peer_certificate.as_ref(), &domain) {
            Ok(()) => {
                self.core.note(format!(
                    "the originating server's certificate authenticates {domain} \
                     (RFC 6120 §13.7.1.2): EXTERNAL offered"
                ));
                match self.config.policy {
                    S2sPolicy::AllowDialback => vec![Offer::External, Offer::Dialback],
                    S2sPolicy::RequireCertificate => vec![Offer::External],
                }
            }
            Err(why) => {
                self.core.note(format!("no EXTERNAL for {domain}: {why}"));
                if self.config.policy == S2sPolicy::RequireCertificate {
                    let detail = format!(
                        "this server requires a certificate that authenticates {domain}, and {why}"
                    );
                    self.refuse_stream("policy-violation", &detail);
                    return;
                }
                vec![Offer::Dialback]
            }
        };
        if self.offers.contains(&Offer::External) {
            features = features.with_child(Element::new("mechanisms", NS_SASL).with_child(
                Element::new("mechanism", NS_SASL).with_text(Mechanism::External.name()),
            ));
        }
        if self.offers.contains(&Offer::Dialback) {
            features = features.with_child(
                Element::new("dialback", NS_DIALBACK_FEATURE)
                    .with_child(Element::new("errors", NS_DIALBACK_FEATURE)),
            );
        }
        self.core.send(&features);
    }

    fn on_starttls(&mut self) {
        if self.tls || !self.config.starttls_available || self.state != State::Negotiating {
            self.core.send(&Element::new("failure", NS_TLS));
            self.core.reject(
                "starttls-failure",
                Side::Local,
                "the originating server sent <starttls/> where it was not offered",
            );
            self.core.close();
            self.state = State::Done;
            return;
        }
        self.core.step = Step::Starttls;
        self.core.send(&Element::new("proceed", NS_TLS));
        self.state = if self
            .core
            .switch_to_tls("the originating server", "<starttls/>")
        {
            State::AwaitTls
        } else {
            State::Done
        };
    }

    fn sasl_failure(&mut self, condition: &str, detail: String) {
        self.core
            .send(&Element::new("failure", NS_SASL).with_child(Element::new(condition, NS_SASL)));
        self.core.reject(condition, Side::Local, detail);
        self.core.close();
        self.state = State::Done;
    }

    /// EXTERNAL for servers (XEP-0178 §4, RFC 6120 §6.4.5): the identity is the `from`
    /// domain the certificate authenticated; an authzid, if any, must be that domain.
    /// Closes an authenticated stream, or keeps serving it when this side is also the
    /// authoritative server of its domain.
    fn after_authentication(&mut self) {
        if self.config.authority.is_some() {
            self.state = State::Serving;
        } else {
            self.core.close();
            self.state = State::Done;
        }
    }

    fn on_auth(&mut self, auth: &Element) {
        self.core.step = Step::Sasl;
        let domain = self.peer_domain.clone().unwrap_or_default();
        let mechanism = auth.attr("mechanism").unwrap_or_default().to_owned();
        if mechanism != Mechanism::External.name() || !self.offers.contains(&Offer::External) {
            let detail = format!("{mechanism:?} is not offered to {domain} on this stream");
            self.sasl_failure("invalid-mechanism", detail);
            return;
        }
        let authzid = match decode_sasl(&auth.text()) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                self.sasl_failure("incorrect-encoding", e);
                return;
            }
        };
        if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(&domain) {
            let detail =
                format!("the authzid {authzid:?} is not the stream's originating domain {domain}");
            self.sasl_failure("invalid-authzid", detail);
            return;
        }
        self.core.send(&Element::new("success", NS_SASL));
        self.core.decide(SessionEnd::S2sAuthenticated {
            method: S2sAuth::External,
            domain,
        });
        self.external_succeeded = true;
        self.core.restart_stream();
        self.state = State::AwaitHeader;
    }

    fn on_dialback_result(&mut self, result: &Element) {
        self.core.step = Step::Dialback;
        let domain = self.peer_domain.clone().unwrap_or_default();
        let local = self.config.local_domain.clone();
        let from = result.attr("from").unwrap_or_default().to_owned();
        let to = result.attr("to").unwrap_or_default().to_owned();
        if !self.offers.contains(&Offer::Dialback) || self.state != State::Negotiating {
            self.refuse_stream(
                "not-authorized",
                "the originating server sent <db:result/> where dialback was not offered",
            );
            return;
        }
        if !to.eq_ignore_ascii_case(&local) {
            self.core.send(&dialback::result_error(
                &local,
                &from,
                "cancel",
                "item-not-found",
            ));
            let detail = format!("<db:result/> is addressed to {to:?}; this server is {local}");
            self.core.reject("item-not-found", Side::Local, detail);
            return;
        }
        if !from.eq_ignore_ascii_case(&domain) {
            let detail = format!("<db:result/> is from {from:?}, but the stream is from {domain}");
            self.refuse_stream("invalid-from", &detail);
            return;
        }
        let request = DialbackRequest {
            receiving: local,
            originating: domain,
            stream_id: self.stream_id.clone(),
            key: result.text().trim().to_owned(),
        };
        self.core.note(format!(
            "asking the authoritative server of {} to verify the key",
            request.originating
        ));
        self.core.push_action(Action::VerifyDialback(request));
        self.state = State::AwaitVerification;
    }
}

impl Session for ReceivingSession {
    fn receive(&mut self, bytes: &[u8]) {
        let answers_verify = self.config.authority.is_some();
        feed_and_handle!(self, bytes, while matches!(self.state, State::AwaitHeader | State::Negotiating | State::Serving)
            || (answers_verify && self.state == State::AwaitVerification));
    }
    fn tls_established(&mut self, _channel: TlsChannel) {
        self.tls = true;
        self.state = State::AwaitHeader;
        self.core.step = Step::Stream;
    }
    fn peer_certificate(&mut self, certificate: Option<PeerCertificate>) {
        self.peer_certificate = certificate;
    }
    fn dialback_answer(&mut self, answer: DialbackAnswer) {
        if self.state != State::AwaitVerification {
            return;
        }
        let local = self.config.local_domain.clone();
        let domain = self.peer_domain.clone().unwrap_or_default();
        let reply = dialback::element("result", &local, &domain);
        match answer {
            DialbackAnswer::Valid => {
                self.core.send(&reply.with_attr("type", "valid"));
                self.core.decide(SessionEnd::S2sAuthenticated {
                    method: S2sAuth::Dialback,
                    domain,
                });
                self.after_authentication();
            }
            DialbackAnswer::Invalid => {
                self.core.send(&reply.with_attr("type", "invalid"));
                self.core.reject(
                    "invalid",
                    Side::Local,
                    format!("the authoritative server of {domain} did not confirm the key"),
                );
                self.core.close();
                self.state = State::Done;
            }
            DialbackAnswer::Failed { condition, detail } => {
                self.core.send(&dialback::result_error(
                    &local, &domain, "cancel", &condition,
                ));
                self.core.reject(&condition, Side::Local, detail);
                self.core.close();
                self.state = State::Done;
            }
        }
    }
    fn peer_closed(&mut self) {
        if self.state == State::Serving {
            self.state = State::Done;
        } else if self.state != State::Done {
            let detail = format!(
                "the originating server closed the connection while this side waited for {}",
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
            State::AwaitHeader => "the originating server's stream header",
            State::Negotiating => "<starttls/>, <auth/> or <db:result/>",
            State::AwaitTls => "the TLS handshake",
            State::AwaitVerification => "the authoritative server's answer",
            State::Serving => "<db:verify/> or the end of the stream",
            State::Done => "the end of the stream",
        }
    }
}
