//! The receiving side of a client-to-server stream (RFC 6120 §4–§7), sans-IO.
//!
//! A [`ServerSession`] answers the client's stream header with features, performs STARTTLS,
//! runs one SASL exchange at a time and binds a resource. A conforming configuration offers no
//! SASL mechanism before TLS; [`ServerMisbehaviour`] switches on the deliberate violations the
//! harness uses to test clients.

use std::sync::Arc;

use rand::Rng as _;

use super::client::{NS_SASL2, describe_header};
use super::sasl::{
    self, ChannelBindings, CredentialStore, FailureCondition, ServerMechanism, ServerOptions,
    ServerStep, VerifiedClientCertificate,
};
use super::session::{Core, check_incoming_header, decode_sasl, delegate_to_core, feed_and_handle};
use super::xml::{self, Element, Limits, NS_CLIENT, NS_STREAM, StreamEvent, StreamHeader};
use super::{
    NS_BIND, NS_IQ_AUTH, NS_SASL, NS_SASL_CB, NS_STANZAS, NS_TLS, Session, SessionEnd, Side,
    TlsChannel,
};
use crate::{
    DOWNGRADE_PROTECTION_UNSUPPORTED, Mechanism, NOT_APPLICABLE, SASL2_UNSUPPORTED, SaslProfile,
    Step,
};

/// The account a `sasl2-wrong-authorization-identifier` server names instead of the real one.
const OTHER_ACCOUNT: &str = "mallory";

/// What a `sasl-malformed-base64` server sends as its first challenge.
const NOT_BASE64: &str = "*** this is not base64 ***";

/// Failed SASL attempts allowed before the server closes the stream.
const MAX_SASL_ATTEMPTS: u32 = 3;

/// The iteration count a `scram-low-iteration-count` server announces: below RFC 7677 §4's 4096.
pub const LOW_ITERATION_COUNT: u32 = 1024;
/// The iteration count a `scram-excessive-iteration-count` server announces.
pub const EXCESSIVE_ITERATION_COUNT: u32 = 1_000_000_000;

/// Deliberate violations of the server side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerMisbehaviour {
    /// Offer no `<starttls/>` and offer the mechanisms on the unencrypted stream.
    pub strip_starttls: bool,
    /// What the SASL exchange itself does wrong.
    pub sasl: sasl::ServerMisbehaviour,
    /// Send the first SASL challenge as text that is not base64.
    pub malformed_base64: bool,
    /// Name another account in SASL2's `<authorization-identifier/>`.
    pub wrong_authorization_identifier: bool,
    /// Leave the `-PLUS` mechanisms out of the stream features while the XEP-0474 hash still
    /// covers them.
    pub strip_plus_from_features: bool,
    /// Offer the non-PLUS counterparts of the `-PLUS` mechanisms too, and check channel
    /// binding against data of another connection (every bit flipped).
    pub mismatched_binding: bool,
}

/// What the server offers and how it behaves.
#[derive(Clone)]
pub struct ServerConfig {
    /// The XMPP domain this server is.
    pub domain: String,
    /// Whether TLS can be negotiated with `<starttls/>` (false for direct TLS, where it is
    /// already up, and for a server without a certificate).
    pub starttls_available: bool,
    /// The mechanisms offered once the stream is encrypted.
    pub mechanisms: Vec<Mechanism>,
    /// The mechanism a conforming client must choose among `mechanisms` (the strongest it
    /// can use); a client choosing another is refused with `chose-weaker-mechanism`. `None`
    /// accepts any offered mechanism.
    pub preferred_mechanism: Option<Mechanism>,
    /// The accounts.
    pub accounts: Arc<CredentialStore>,
    /// Deliberate violations.
    pub misbehaviour: ServerMisbehaviour,
    /// Parser limits for what the client sends.
    pub limits: Limits,
    /// Whether SASL2 (XEP-0388) is offered next to RFC 6120 SASL.
    pub offer_sasl2: bool,
    /// Whether the case is about SASL2: a client that answers the offer with RFC 6120 `<auth/>`
    /// makes it not applicable (SASL2 is optional) instead of authenticating.
    pub expect_sasl2: bool,
    /// Whether SCRAM server-first messages carry the XEP-0474 downgrade protection hash.
    pub downgrade_protection: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitHeader,
    Negotiating,
    AwaitTls,
    Done,
}

/// One client-to-server stream, from the server's side.
pub struct ServerSession {
    config: ServerConfig,
    core: Core,
    state: State,
    tls: bool,
    bindings: ChannelBindings,
    client_certificate: Option<VerifiedClientCertificate>,
    sasl: Option<Box<dyn ServerMechanism>>,
    sasl_mechanism: Option<Mechanism>,
    failed_attempts: u32,
    challenges_sent: u32,
    authenticated_user: Option<String>,
    bound: bool,
    profile: SaslProfile,
    binding_failed: bool,
    /// TLS is up and the client has sent nothing over it yet.
    silent_since_tls: bool,
    /// TLS is up and the client has not opened a stream over it yet.
    unopened_since_tls: bool,
}

impl ServerSession {
    /// Starts a session. `tls` is what a TLS connection set up before the session started
    /// (direct TLS) gave.
    pub fn new(config: ServerConfig, tls: Option<TlsChannel>) -> ServerSession {
        let core = Core::new(config.limits, NS_CLIENT);
        let tls_up = tls.is_some();
        let channel = tls.unwrap_or_default();
        ServerSession {
            config,
            core,
            state: State::AwaitHeader,
            tls: tls_up,
            bindings: channel.bindings,
            client_certificate: channel.client_certificate,
            sasl: None,
            sasl_mechanism: None,
            failed_attempts: 0,
            challenges_sent: 0,
            authenticated_user: None,
            bound: false,
            profile: SaslProfile::Sasl1,
            binding_failed: false,
            silent_since_tls: tls_up,
            unopened_since_tls: tls_up,
        }
    }

    fn where_we_are(&self) -> String {
        if self.sasl_mechanism.is_some() && self.authenticated_user.is_some() && !self.bound {
            if self.state == State::AwaitHeader {
                "after <success/> instead of restarting the stream".to_owned()
            } else {
                "before binding a resource".to_owned()
            }
        } else {
            format!("while the server waited for {}", self.waiting_for())
        }
    }

    fn handle(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Header(header) => {
                self.unopened_since_tls = false;
                self.core
                    .received_text(format!("<stream:stream {}>", describe_header(&header)));
                self.on_header(&header);
            }
            StreamEvent::Closed if self.unopened_since_tls => {
                // Closing the old stream instead of opening one over TLS: the same refusal as
                // closing the connection there (see `peer_closed`).
                self.core.received_text(xml::STREAM_CLOSE.to_owned());
                self.core.step = Step::Tls;
                self.core.reject(
                    "closed",
                    Side::Peer,
                    "the client closed the stream right after the TLS handshake, instead of \
                     opening one over TLS",
                );
                self.core.close();
                self.state = State::Done;
            }
            StreamEvent::Closed => {
                self.core.received_text(xml::STREAM_CLOSE.to_owned());
                let detail = format!("the client closed the stream {}", self.where_we_are());
                self.core.reject("closed", Side::Peer, detail);
                self.core.close();
                self.state = State::Done;
            }
            StreamEvent::Element(element) => {
                if element.is("error", NS_STREAM) {
                    self.core.received(&element);
                    self.core.peer_stream_error(&element);
                    self.state = State::Done;
                } else if element.ns == NS_SASL || element.ns == NS_SASL2 {
                    self.on_sasl(&element);
                } else {
                    self.core.received(&element);
                    self.on_element(&element);
                }
            }
        }
    }

    fn on_header(&mut self, header: &StreamHeader) {
        let id: u64 = rand::thread_rng().r#gen();
        let ours = StreamHeader {
            default_ns: NS_CLIENT.to_owned(),
            from: Some(self.config.domain.clone()),
            id: Some(format!("{id:016x}")),
            version: Some("1.0".to_owned()),
            lang: Some("en".to_owned()),
            ..StreamHeader::default()
        };
        let xml = ours.to_xml();
        self.core.send_raw(xml.clone(), xml);
        if self.state != State::AwaitHeader {
            self.refuse_stream(
                "unsupported-stanza-type",
                "a second stream header without a restart",
            );
            return;
        }
        if let Err((condition, detail)) =
            check_incoming_header(header, NS_CLIENT, &self.config.domain)
        {
            self.refuse_stream(condition, &detail);
            return;
        }
        if header.version.as_deref() != Some("1.0") {
            let detail = format!(
                "the stream header has version {:?}; RFC 6120 §4.7.5 needs 1.0",
                header.version
            );
            self.refuse_stream("unsupported-version", &detail);
            return;
        }
        self.send_features();
        self.state = State::Negotiating;
    }

    fn refuse_stream(&mut self, condition: &str, detail: &str) {
        self.core.reject(condition, Side::Local, detail);
        self.core.stream_error(condition, detail);
        self.state = State::Done;
    }

    fn send_features(&mut self) {
        let mut features = Element::new("features", NS_STREAM);
        if self.authenticated_user.is_some() {
            self.core.step = Step::Bind;
            features = features.with_child(Element::new("bind", NS_BIND));
        } else {
            self.core.step = Step::Features;
            let offer_starttls = !self.tls
                && self.config.starttls_available
                && !self.config.misbehaviour.strip_starttls;
            if offer_starttls {
                features = features.with_child(
                    Element::new("starttls", NS_TLS).with_child(Element::new("required", NS_TLS)),
                );
            }
            if self.tls || self.config.misbehaviour.strip_starttls {
                let offered = self.advertised_mechanisms();
                let mut mechanisms = Element::new("mechanisms", NS_SASL);
                let mut authentication = Element::new("authentication", NS_SASL2);
                for mechanism in &offered {
                    mechanisms = mechanisms
                        .with_child(Element::new("mechanism", NS_SASL).with_text(mechanism.name()));
                    authentication = authentication.with_child(
                        Element::new("mechanism", NS_SASL2).with_text(mechanism.name()),
                    );
                }
                features = features.with_child(mechanisms);
                if self.config.offer_sasl2 {
                    features = features.with_child(authentication);
                }
                if offered.iter().any(|m| m.is_plus()) {
                    let mut types = Element::new("sasl-channel-binding", NS_SASL_CB);
                    for kind in self.bindings.types() {
                        types = types.with_child(
                            Element::new("channel-binding", NS_SASL_CB)
                                .with_attr("type", kind.name()),
                        );
                    }
                    features = features.with_child(types);
                }
            }
        }
        self.core.send(&features);
    }

    /// The configured mechanisms this connection can run: `-PLUS` ones only when the
    /// connection has channel binding data, EXTERNAL only when the client presented a
    /// certificate that verified (XEP-0178 §3).
    fn offered_mechanisms(&self) -> Vec<Mechanism> {
        let can_bind = !self.bindings.available.is_empty();
        let has_certificate = self.client_certificate.is_some();
        let fallbacks = self
            .config
            .mechanisms
            .iter()
            .filter(|_| self.config.misbehaviour.mismatched_binding)
            .filter_map(|m| m.without_channel_binding())
            .filter(|m| !self.config.mechanisms.contains(m));
        self.config
            .mechanisms
            .iter()
            .copied()
            .chain(fallbacks)
            .filter(|m| can_bind || !m.is_plus())
            .filter(|m| has_certificate || *m != Mechanism::External)
            .collect()
    }

    /// The mechanisms the stream features show: what this connection can run, less the
    /// `-PLUS` ones when the features are deliberately stripped.
    fn advertised_mechanisms(&self) -> Vec<Mechanism> {
        let strip = self.config.misbehaviour.strip_plus_from_features;
        self.offered_mechanisms()
            .into_iter()
            .filter(|m| !strip || !m.is_plus())
            .collect()
    }

    /// What the XEP-0474 hash covers: what the features show, or, when they are deliberately
    /// stripped, what they would have shown (the `-PLUS` counterparts and the binding types).
    fn protected_list(&self) -> sasl::Advertised {
        let mut mechanisms = self.advertised_mechanisms();
        let can_bind = !self.bindings.available.is_empty();
        if self.config.misbehaviour.strip_plus_from_features && can_bind {
            let counterparts: Vec<Mechanism> = mechanisms
                .iter()
                .filter_map(|m| m.with_channel_binding())
                .collect();
            mechanisms.extend(counterparts);
        }
        let channel_bindings = if mechanisms.iter().any(|m| m.is_plus()) {
            self.bindings
                .types()
                .iter()
                .map(|t| t.name().to_owned())
                .collect()
        } else {
            Vec::new()
        };
        sasl::Advertised {
            mechanisms: mechanisms.iter().map(|m| m.name().to_owned()).collect(),
            channel_bindings,
        }
    }

    fn on_element(&mut self, element: &Element) {
        if element.is("starttls", NS_TLS) {
            self.on_starttls();
        } else if element.is("iq", NS_CLIENT) && self.authenticated_user.is_some() {
            self.on_iq(element);
        } else if element.is("iq", NS_CLIENT) && element.child("query", NS_IQ_AUTH).is_some() {
            self.refuse_legacy_authentication(element);
        } else if self.authenticated_user.is_none() {
            let detail = format!(
                "the client sent <{} xmlns='{}'> before authenticating",
                element.name, element.ns
            );
            self.refuse_stream("not-authorized", &detail);
        } else if !(element.is("presence", NS_CLIENT) || element.is("message", NS_CLIENT)) {
            let detail = format!("unexpected <{} xmlns='{}'>", element.name, element.ns);
            self.refuse_stream("unsupported-stanza-type", &detail);
        }
    }

    /// A client that has none of the offered mechanisms may turn to the obsolete non-SASL
    /// authentication of XEP-0078, which the harness does not implement: XEP-0078 §3 has such a
    /// server answer `<service-unavailable/>`. The case ends there, as the client's missing
    /// mechanism.
    fn refuse_legacy_authentication(&mut self, iq: &Element) {
        let detail = "the client turned to non-SASL authentication (jabber:iq:auth, XEP-0078) \
                      instead of an offered SASL mechanism";
        if self.failed_attempts > 0 {
            // XEP-0078 §3: after a failed SASL attempt, a <policy-violation/> stream error.
            self.core
                .reject("legacy-authentication", Side::Peer, detail);
            self.core.stream_error("policy-violation", detail);
            self.state = State::Done;
            return;
        }
        let error = Element::new("iq", NS_CLIENT)
            .with_attr("type", "error")
            .with_attr("id", iq.attr("id").unwrap_or_default())
            .with_child(
                Element::new("error", NS_CLIENT)
                    .with_attr("type", "cancel")
                    .with_child(Element::new("service-unavailable", NS_STANZAS)),
            );
        self.core.send(&error);
        self.core
            .reject("legacy-authentication", Side::Peer, detail);
        self.core.close();
        self.state = State::Done;
    }

    fn on_starttls(&mut self) {
        let offered =
            !self.tls && self.config.starttls_available && !self.config.misbehaviour.strip_starttls;
        if !offered {
            self.core.send(&Element::new("failure", NS_TLS));
            self.core.reject(
                "starttls-failure",
                Side::Local,
                "the client sent <starttls/> where it was not offered",
            );
            self.core.close();
            self.state = State::Done;
            return;
        }
        self.core.step = Step::Starttls;
        self.core.send(&Element::new("proceed", NS_TLS));
        self.state = if self.core.switch_to_tls("the client", "<starttls/>") {
            State::AwaitTls
        } else {
            State::Done
        };
    }

    fn on_sasl(&mut self, element: &Element) {
        let shown_mechanism = self.sasl_mechanism.unwrap_or(Mechanism::Plain);
        if element.is("authenticate", NS_SASL2) && self.config.offer_sasl2 {
            self.profile = SaslProfile::Sasl2;
        } else if element.is("auth", NS_SASL) {
            self.profile = SaslProfile::Sasl1;
        }
        if element.is("auth", NS_SASL) && self.config.expect_sasl2 {
            self.core.received(element);
            self.core.reject(
                SASL2_UNSUPPORTED,
                Side::Peer,
                "the client answered the SASL2 (XEP-0388) offer with RFC 6120 <auth/>: it does \
                 not use SASL2, an optional extension",
            );
            self.core.close();
            self.state = State::Done;
            return;
        }
        let namespace = self.sasl_namespace();
        if element.ns != namespace {
            self.core.received(element);
            let detail = format!(
                "<{} xmlns='{}'> during an exchange in {namespace}",
                element.name, element.ns
            );
            self.refuse_stream("unsupported-stanza-type", &detail);
            return;
        }
        if self.authenticated_user.is_some() {
            self.core.received(element);
            self.refuse_stream(
                "unsupported-stanza-type",
                "SASL after successful authentication",
            );
            return;
        }
        if element.is("abort", namespace) {
            self.core.received(element);
            self.sasl = None;
            // The client ended the exchange: that, not our <failure/> reply, is the outcome.
            self.core
                .reject("aborted", Side::Peer, "the client sent <abort/>");
            self.send_failure(FailureCondition::Aborted, "the client aborted the exchange");
            return;
        }
        let text = if element.is("authenticate", NS_SASL2) {
            element
                .child("initial-response", NS_SASL2)
                .map(|r| r.text())
                .unwrap_or_default()
        } else {
            element.text()
        };
        let payload = match decode_sasl(&text) {
            Ok(payload) => payload,
            Err(e) => {
                self.core.received(element);
                self.sasl = None;
                self.send_failure(FailureCondition::IncorrectEncoding, &e);
                return;
            }
        };
        if element.is("auth", NS_SASL) || element.is("authenticate", NS_SASL2) {
            let requested = element.attr("mechanism").unwrap_or_default().to_owned();
            let mechanism = Mechanism::from_name(&requested);
            self.core.received_sasl(
                element,
                sasl::redact(mechanism.unwrap_or(shown_mechanism), true, &payload),
            );
            self.core.step = Step::Sasl;
            self.on_auth(&requested, mechanism, &payload);
        } else if element.is("response", namespace) {
            self.core
                .received_sasl(element, sasl::redact(shown_mechanism, true, &payload));
            if self.config.misbehaviour.strip_plus_from_features
                && self.config.downgrade_protection
                && self.challenges_sent > 0
            {
                // XEP-0474 is optional: a client that answers either does not implement it or
                // ignores the hash, and the wire cannot tell which.
                self.sasl = None;
                self.core.reject(
                    DOWNGRADE_PROTECTION_UNSUPPORTED,
                    Side::Peer,
                    "the client answered a server-first message whose XEP-0474 hash covers \
                     -PLUS mechanisms the features did not show: it does not implement SCRAM \
                     downgrade protection (an optional extension) or ignores it",
                );
                self.core.close();
                self.state = State::Done;
                return;
            }
            if let Some((condition, detail)) = self.accepted_bad_challenge() {
                self.sasl = None;
                self.core.reject(condition, Side::Local, detail.clone());
                self.send_failure(FailureCondition::NotAuthorized, &detail);
                self.core.close();
                self.state = State::Done;
                return;
            }
            self.advance_sasl(&payload);
        } else {
            self.core.received(element);
            let detail = format!("unexpected <{} xmlns='{}'>", element.name, element.ns);
            self.refuse_stream("unsupported-stanza-type", &detail);
        }
    }

    fn on_auth(&mut self, requested: &str, mechanism: Option<Mechanism>, payload: &[u8]) {
        let offered = self.tls || self.config.misbehaviour.strip_starttls;
        let mechanisms = self.advertised_mechanisms();
        let Some(mechanism) = mechanism.filter(|m| offered && mechanisms.contains(m)) else {
            if !self.tls && !self.config.misbehaviour.strip_starttls {
                self.send_failure(
                    FailureCondition::EncryptionRequired,
                    "authentication needs TLS first (RFC 6120 §5.3.1)",
                );
            } else {
                self.send_failure(
                    FailureCondition::InvalidMechanism,
                    &format!("{requested:?} is not offered"),
                );
            }
            return;
        };
        if self.binding_failed && !mechanism.is_plus() && payload.starts_with(b"y,") {
            self.core.note(format!(
                "after its channel binding failed the client retried with {mechanism} and GS2 \
                 flag y; a server that offered -PLUS refuses that as a downgrade (RFC 5802 §6), \
                 as this one does, so the fallback cannot go unnoticed"
            ));
        } else if self.binding_failed && !mechanism.is_plus() {
            let detail = format!(
                "after its channel binding failed, the client retried with {mechanism} without \
                 channel binding and without GS2 flag y, so no server can notice: the downgrade \
                 a man in the middle wants (RFC 5802 §6)"
            );
            self.core.overrule(SessionEnd::Rejected {
                step: Step::Sasl,
                condition: "fell-back-without-channel-binding".to_owned(),
                by: Side::Local,
                detail: detail.clone(),
            });
            self.send_failure(FailureCondition::NotAuthorized, &detail);
            self.core.close();
            self.state = State::Done;
            return;
        }
        if !self.tls {
            // Decided first, so the verdict names what the client did rather than the
            // <failure/> the server answers with.
            self.core.reject(
                "credentials-sent-in-clear",
                Side::Local,
                format!(
                    "the client sent {mechanism} credentials on an unencrypted stream after the server \
                     offered no <starttls/> (RFC 6120 §5.3.1, §13.8); a careful client refuses"
                ),
            );
            self.send_failure(
                FailureCondition::EncryptionRequired,
                "credentials on an unencrypted stream",
            );
            self.core.close();
            self.state = State::Done;
            return;
        }
        if let Some(preferred) = self.config.preferred_mechanism
            && preferred != mechanism
        {
            self.core.reject(
                "chose-weaker-mechanism",
                Side::Local,
                format!(
                    "the client chose {mechanism} although the server also offered {preferred}, \
                     which it should prefer (RFC 6120 §6.3.3, RFC 7677 §1)"
                ),
            );
            self.send_failure(
                FailureCondition::InvalidMechanism,
                &format!("{mechanism} chosen although {preferred} was offered"),
            );
            self.core.close();
            self.state = State::Done;
            return;
        }
        let mut channel_bindings = self.bindings.clone();
        if self.config.misbehaviour.mismatched_binding {
            for (_, data) in &mut channel_bindings.available {
                data.iter_mut().for_each(|b| *b = !*b);
            }
        }
        let options = ServerOptions {
            misbehaviour: self.config.misbehaviour.sasl,
            channel_bindings,
            plus_offered: mechanisms.iter().any(|m| m.is_plus()),
            client_certificate: self.client_certificate.clone(),
            domain: self.config.domain.clone(),
            downgrade_protection: self
                .config
                .downgrade_protection
                .then(|| self.protected_list()),
            ..ServerOptions::default()
        };
        self.sasl = Some(sasl::server_mechanism(mechanism, options));
        self.sasl_mechanism = Some(mechanism);
        self.challenges_sent = 0;
        self.advance_sasl(payload);
    }

    fn advance_sasl(&mut self, payload: &[u8]) {
        let (Some(sasl), Some(mechanism)) = (self.sasl.as_mut(), self.sasl_mechanism) else {
            self.send_failure(
                FailureCondition::MalformedRequest,
                "<response/> without <auth/>",
            );
            return;
        };
        match sasl.step(payload, &self.config.accounts) {
            Ok(ServerStep::Challenge(challenge)) => {
                let element = Element::new("challenge", self.sasl_namespace());
                // An empty challenge only asks for a missing initial response; count the rest.
                if challenge.is_empty() {
                    self.core
                        .send_sasl(element, &challenge, "(empty)".to_owned());
                    return;
                }
                if self.config.misbehaviour.malformed_base64 && self.challenges_sent == 0 {
                    self.core.send(&element.with_text(NOT_BASE64));
                } else {
                    let shown = sasl::redact(mechanism, false, &challenge);
                    self.core.send_sasl(element, &challenge, shown);
                }
                self.challenges_sent += 1;
            }
            Ok(ServerStep::Success {
                authcid,
                authzid: Some(authzid),
                ..
            }) if !self.may_act_as(&authcid, &authzid) => {
                self.sasl = None;
                let detail = format!(
                    "{authcid:?} authenticated but asked to act as {authzid:?}, which it may not \
                     (RFC 6120 §6.4.6)"
                );
                self.send_failure(FailureCondition::InvalidAuthzid, &detail);
            }
            Ok(ServerStep::Success {
                authcid,
                additional_data,
                ..
            }) if self.profile == SaslProfile::Sasl2 => {
                self.sasl2_success(mechanism, authcid, &additional_data);
            }
            Ok(ServerStep::Success {
                authcid,
                additional_data,
                ..
            }) => {
                let shown = sasl::redact(mechanism, false, &additional_data);
                let success = Element::new("success", NS_SASL);
                if additional_data.is_empty() {
                    self.core.send(&success);
                } else {
                    self.core.send_sasl(success, &additional_data, shown);
                }
                self.sasl = None;
                self.authenticated_user = Some(authcid);
                let discarded = self.core.restart_stream();
                if discarded > 0 {
                    self.core.note(format!(
                        "discarded {discarded} bytes the client sent before <success/> arrived"
                    ));
                }
                self.state = State::AwaitHeader;
            }
            Err(failure) => {
                self.sasl = None;
                if mechanism.is_plus() && self.config.misbehaviour.mismatched_binding {
                    self.binding_failed = true;
                }
                if failure.beyond_the_harness {
                    self.send_failure_beyond_the_harness(failure.condition, &failure.detail);
                } else {
                    self.send_failure(failure.condition, &failure.detail);
                }
            }
        }
    }

    /// SASL2's `<success/>` (XEP-0388 §2.6.1): the SCRAM server-final in `<additional-data/>`,
    /// the account in `<authorization-identifier/>`, and no stream restart: the new stream
    /// features (resource binding) follow on the same stream, as Prosody's mod_sasl2 sends them
    /// and as clients such as xmpp.js wait for them.
    fn sasl2_success(&mut self, mechanism: Mechanism, authcid: String, additional_data: &[u8]) {
        let named = if self.config.misbehaviour.wrong_authorization_identifier {
            OTHER_ACCOUNT
        } else {
            authcid.as_str()
        };
        let identifier = format!("{named}@{}", self.config.domain);
        let mut success = Element::new("success", NS_SASL2);
        if !additional_data.is_empty() {
            success = success.with_child(
                Element::new("additional-data", NS_SASL2)
                    .with_text(&super::session::encode_sasl(additional_data)),
            );
        }
        let success = success
            .with_child(Element::new("authorization-identifier", NS_SASL2).with_text(&identifier));
        let shown = format!(
            "{} (additional data: [{}])",
            Element::new("success", NS_SASL2)
                .with_child(
                    Element::new("authorization-identifier", NS_SASL2).with_text(&identifier)
                )
                .to_xml(NS_CLIENT),
            sasl::redact(mechanism, false, additional_data)
        );
        self.core.send_raw(success.to_xml(NS_CLIENT), shown);
        self.sasl = None;
        self.authenticated_user = Some(authcid);
        // Sent as they are, without moving to the bind step: a client that refuses the
        // <success/> (a wrong authorization identifier) refuses at the SASL step.
        self.core
            .send(&Element::new("features", NS_STREAM).with_child(Element::new("bind", NS_BIND)));
    }

    fn sasl_namespace(&self) -> &'static str {
        match self.profile {
            SaslProfile::Sasl1 => NS_SASL,
            SaslProfile::Sasl2 => NS_SASL2,
        }
    }

    /// An account may act only as its own bare JID.
    fn may_act_as(&self, authcid: &str, authzid: &str) -> bool {
        authzid.eq_ignore_ascii_case(&format!("{authcid}@{}", self.config.domain))
    }

    /// When the client answered a challenge it should have refused: the condition and detail.
    fn accepted_bad_challenge(&self) -> Option<(&'static str, String)> {
        if self.challenges_sent == 0 {
            return None;
        }
        if self.config.misbehaviour.malformed_base64 {
            return Some((
                "accepted-malformed-challenge",
                format!(
                    "the client answered a challenge that was not base64 ({NOT_BASE64:?}) instead \
                     of aborting (RFC 6120 §6.4.2)"
                ),
            ));
        }
        match self.config.misbehaviour.sasl {
            sasl::ServerMisbehaviour::AlteredNonce => Some((
                "accepted-altered-nonce",
                "the client answered a server-first message whose nonce does not start with its \
                 own (RFC 5802 §5.1)"
                    .to_owned(),
            )),
            sasl::ServerMisbehaviour::AnnouncedIterations(count) if count < 4096 => Some((
                "accepted-low-iteration-count",
                format!(
                    "the client accepted an iteration count of {count}, below the 4096 of RFC 7677 §4"
                ),
            )),
            sasl::ServerMisbehaviour::AnnouncedIterations(count) => Some((
                "accepted-excessive-iteration-count",
                format!(
                    "the client computed {count} iterations instead of refusing the count as absurd"
                ),
            )),
            _ => None,
        }
    }

    fn send_failure(&mut self, condition: FailureCondition, detail: &str) {
        self.send_failure_recorded_as(
            condition,
            condition.as_str(),
            &format!("the server answered with <{condition}/>: {detail}"),
        );
    }

    /// The `<failure/>` the protocol asks for where the harness lacks what the client used:
    /// recorded as a case the harness cannot judge (`skip`), not as the client's fault.
    fn send_failure_beyond_the_harness(&mut self, condition: FailureCondition, detail: &str) {
        self.send_failure_recorded_as(
            condition,
            NOT_APPLICABLE,
            &format!("the server answered with <{condition}/>: {detail}"),
        );
    }

    fn send_failure_recorded_as(
        &mut self,
        condition: FailureCondition,
        recorded: &str,
        detail: &str,
    ) {
        self.failed_attempts += 1;
        let failure = Element::new("failure", self.sasl_namespace())
            .with_child(Element::new(condition.as_str(), NS_SASL));
        self.core.send(&failure);
        self.core.reject(recorded, Side::Local, detail);
        if self.failed_attempts >= MAX_SASL_ATTEMPTS {
            self.core.stream_error(
                "policy-violation",
                "too many failed authentication attempts",
            );
            self.state = State::Done;
        }
    }

    fn on_iq(&mut self, iq: &Element) {
        self.core.step = Step::Bind;
        if self.config.misbehaviour.wrong_authorization_identifier && !self.bound {
            let detail = format!(
                "the client went on to bind a resource after SASL2 <success/> named \
                 {OTHER_ACCOUNT}@{} as its authorization identifier (XEP-0388 §2.6.1)",
                self.config.domain
            );
            self.core.reject(
                "accepted-wrong-authorization-identifier",
                Side::Local,
                detail.clone(),
            );
            self.core.stream_error("policy-violation", &detail);
            self.state = State::Done;
            return;
        }
        let id = iq.attr("id").unwrap_or_default().to_owned();
        let bind = iq.child("bind", NS_BIND);
        match (iq.attr("type"), bind) {
            (Some("set"), Some(bind)) if !self.bound => {
                let resource = bind
                    .child("resource", NS_BIND)
                    .map(|r| r.text().trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| format!("{:08x}", rand::thread_rng().r#gen::<u32>()));
                let user = self.authenticated_user.clone().unwrap_or_default();
                let jid = format!("{user}@{}/{resource}", self.config.domain);
                let result = Element::new("iq", NS_CLIENT)
                    .with_attr("type", "result")
                    .with_attr("id", &id)
                    .with_child(
                        Element::new("bind", NS_BIND)
                            .with_child(Element::new("jid", NS_BIND).with_text(&jid)),
                    );
                self.core.send(&result);
                self.bound = true;
                self.core.decide(SessionEnd::Authenticated { jid });
            }
            (Some("get" | "set"), _) => {
                let error = Element::new("iq", NS_CLIENT)
                    .with_attr("type", "error")
                    .with_attr("id", &id)
                    .with_child(
                        Element::new("error", NS_CLIENT)
                            .with_attr("type", "cancel")
                            .with_child(Element::new("service-unavailable", NS_STANZAS)),
                    );
                self.core.send(&error);
            }
            _ => {}
        }
    }
}

impl Session for ServerSession {
    fn receive(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.silent_since_tls = false;
        }
        feed_and_handle!(self, bytes, while self.state != State::Done && self.state != State::AwaitTls);
    }
    fn tls_established(&mut self, channel: TlsChannel) {
        self.tls = true;
        self.bindings = channel.bindings;
        self.client_certificate = channel.client_certificate;
        self.state = State::AwaitHeader;
        self.core.step = Step::Stream;
        self.silent_since_tls = true;
        self.unopened_since_tls = true;
    }
    fn peer_closed(&mut self) {
        if self.state != State::Done && self.silent_since_tls {
            // A client that validates the certificate only after the handshake (RFC 6120
            // §13.7.2 asks only that it terminate) ends the TLS session before using it.
            self.core.step = Step::Tls;
            self.core.reject(
                "closed",
                Side::Peer,
                "the client closed the connection right after the TLS handshake, before sending \
                 anything over TLS",
            );
            self.state = State::Done;
        } else if self.state != State::Done {
            let detail = format!("the client closed the connection {}", self.where_we_are());
            self.core.reject("closed", Side::Peer, detail);
            self.state = State::Done;
        }
    }
    delegate_to_core!();
    fn is_finished(&self) -> bool {
        self.state == State::Done
    }
    fn waiting_for(&self) -> &'static str {
        match (self.state, self.core.step) {
            (State::AwaitHeader, _) => "the client's stream header",
            (State::AwaitTls, _) => "the TLS handshake",
            (State::Negotiating, Step::Features) => "<starttls/> or <auth/>",
            (State::Negotiating, Step::Sasl) => "the client's SASL response",
            (State::Negotiating, Step::Bind) => "the resource binding request",
            (State::Negotiating, _) => "the client's next element",
            (State::Done, _) => "the end of the stream",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' to='interop.test' version='1.0'>";

    /// The features a direct-TLS session offers to a client with or without a certificate.
    fn features_offered(client_certificate: Option<VerifiedClientCertificate>) -> String {
        let mut accounts = CredentialStore::new();
        accounts.add_user("alice", "pencil", 4096);
        let config = ServerConfig {
            domain: "interop.test".into(),
            starttls_available: false,
            mechanisms: vec![Mechanism::External, Mechanism::ScramSha256],
            preferred_mechanism: None,
            accounts: Arc::new(accounts),
            misbehaviour: ServerMisbehaviour::default(),
            limits: Limits::default(),
            offer_sasl2: false,
            expect_sasl2: false,
            downgrade_protection: false,
        };
        let channel = TlsChannel {
            bindings: ChannelBindings::default(),
            client_certificate,
        };
        let mut session = ServerSession::new(config, Some(channel));
        session.receive(HEADER.as_bytes());
        let mut sent = Vec::new();
        while let Some(action) = session.poll_action() {
            if let Action::Send(bytes) = action {
                sent.extend(bytes);
            }
        }
        String::from_utf8_lossy(&sent).into_owned()
    }

    /// A direct-TLS session offering PLAIN over SASL2, after the client's stream header.
    fn sasl2_session() -> ServerSession {
        let mut accounts = CredentialStore::new();
        accounts.add_user("alice", "pencil", 4096);
        let config = ServerConfig {
            domain: "interop.test".into(),
            starttls_available: false,
            mechanisms: vec![Mechanism::Plain],
            preferred_mechanism: None,
            accounts: Arc::new(accounts),
            misbehaviour: ServerMisbehaviour::default(),
            limits: Limits::default(),
            offer_sasl2: true,
            expect_sasl2: false,
            downgrade_protection: false,
        };
        let mut session = ServerSession::new(config, Some(TlsChannel::default()));
        session.receive(HEADER.as_bytes());
        session
    }

    fn sent(session: &mut ServerSession) -> String {
        let mut sent = Vec::new();
        while let Some(action) = session.poll_action() {
            if let Action::Send(bytes) = action {
                sent.extend(bytes);
            }
        }
        String::from_utf8_lossy(&sent).into_owned()
    }

    #[test]
    fn sasl2_success_names_the_account_and_binding_follows_without_restart_xep0388_2_6_1() {
        let mut session = sasl2_session();
        let features = sent(&mut session);
        assert!(
            features.contains(
                "<authentication xmlns='urn:xmpp:sasl:2'><mechanism>PLAIN</mechanism></authentication>"
            ),
            "{features}"
        );
        // base64 of "\0alice\0pencil"
        session.receive(
            b"<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>\
              <initial-response>AGFsaWNlAHBlbmNpbA==</initial-response>\
              <user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'/></authenticate>",
        );
        let success = sent(&mut session);
        assert_eq!(
            success,
            "<success xmlns='urn:xmpp:sasl:2'><authorization-identifier>alice@interop.test\
             </authorization-identifier></success>\
             <stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
        );
        assert!(session.end().is_none());
        // No new stream header: the bind request comes on the same stream.
        session.receive(
            b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
              <resource>r</resource></bind></iq>",
        );
        assert!(sent(&mut session).contains("<jid>alice@interop.test/r</jid>"));
        assert_eq!(
            session.end(),
            Some(&SessionEnd::Authenticated {
                jid: "alice@interop.test/r".into()
            })
        );
    }

    #[test]
    fn sasl2_failure_carries_the_rfc6120_condition_xep0388_2_6_3() {
        let mut session = sasl2_session();
        sent(&mut session);
        // base64 of "\0alice\0wrong"
        session.receive(
            b"<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>\
              <initial-response>AGFsaWNlAHdyb25n</initial-response></authenticate>",
        );
        assert_eq!(
            sent(&mut session),
            "<failure xmlns='urn:xmpp:sasl:2'><not-authorized \
             xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>"
        );
    }

    #[test]
    fn a_client_that_retries_with_flag_n_after_a_binding_failure_is_named_rfc5802_6() {
        use base64::Engine as _;
        let b64 = |text: &[u8]| base64::engine::general_purpose::STANDARD.encode(text);
        let mut accounts = CredentialStore::new();
        accounts.add_user("alice", "pencil", 4096);
        let config = ServerConfig {
            domain: "interop.test".into(),
            starttls_available: false,
            mechanisms: vec![Mechanism::ScramSha256Plus],
            preferred_mechanism: None,
            accounts: Arc::new(accounts),
            misbehaviour: ServerMisbehaviour {
                mismatched_binding: true,
                ..ServerMisbehaviour::default()
            },
            limits: Limits::default(),
            offer_sasl2: false,
            expect_sasl2: false,
            downgrade_protection: false,
        };
        let exporter = vec![7u8; 32];
        let channel = TlsChannel {
            bindings: ChannelBindings {
                available: vec![(sasl::ChannelBindingType::TlsExporter, exporter.clone())],
                tls_unique_defined: false,
            },
            client_certificate: None,
        };
        let mut session = ServerSession::new(config, Some(channel));
        session.receive(HEADER.as_bytes());
        let features = sent(&mut session);
        assert!(
            features.contains(
                "<mechanism>SCRAM-SHA-256-PLUS</mechanism><mechanism>SCRAM-SHA-256</mechanism>"
            ),
            "{features}"
        );
        let auth = |mechanism: &str, message: &str| {
            format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>{}</auth>",
                b64(message.as_bytes())
            )
        };
        session.receive(auth("SCRAM-SHA-256-PLUS", "p=tls-exporter,,n=alice,r=abc").as_bytes());
        let challenge = sent(&mut session);
        let open = challenge.find('>').unwrap() + 1;
        let close = challenge.rfind('<').unwrap();
        let server_first = base64::engine::general_purpose::STANDARD
            .decode(&challenge[open..close])
            .unwrap();
        let nonce = String::from_utf8(server_first).unwrap()[2..]
            .split(',')
            .next()
            .unwrap()
            .to_owned();
        // The client's own, correct binding data: the server checks them against another
        // connection's.
        let mut binding = b"p=tls-exporter,,".to_vec();
        binding.extend(&exporter);
        let client_final = format!("c={},r={nonce},p={}", b64(&binding), b64(&[0; 32]));
        session.receive(
            format!(
                "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>",
                b64(client_final.as_bytes())
            )
            .as_bytes(),
        );
        assert!(sent(&mut session).contains("<not-authorized/>"));
        let Some(SessionEnd::Rejected { condition, .. }) = session.end() else {
            panic!("{:?}", session.end());
        };
        assert_eq!(condition, "not-authorized");
        // With GS2 flag y the retry is refused as a downgrade: the first verdict stands.
        session.receive(auth("SCRAM-SHA-256", "y,,n=alice,r=abc").as_bytes());
        assert!(sent(&mut session).contains("<not-authorized/>"));
        assert!(
            matches!(session.end(), Some(SessionEnd::Rejected { condition, .. }) if condition == "not-authorized")
        );
        session.receive(auth("SCRAM-SHA-256", "n,,n=alice,r=abc").as_bytes());
        let Some(SessionEnd::Rejected { condition, by, .. }) = session.end() else {
            panic!("{:?}", session.end());
        };
        assert_eq!(
            (condition.as_str(), *by),
            ("fell-back-without-channel-binding", Side::Local)
        );
    }

    #[test]
    fn external_is_offered_only_after_a_client_certificate_verified_xep0178_3() {
        let without = features_offered(None);
        assert!(
            without.contains("<mechanism>SCRAM-SHA-256</mechanism>"),
            "{without}"
        );
        assert!(!without.contains("EXTERNAL"), "{without}");
        let certificate = VerifiedClientCertificate {
            xmpp_addrs: vec!["alice@interop.test".into()],
        };
        let with = features_offered(Some(certificate));
        assert!(with.contains("<mechanism>EXTERNAL</mechanism>"), "{with}");
    }

    /// A direct-TLS session offering `mechanisms` over a channel with `bindings`, after the
    /// client's stream header and the features it was sent.
    fn session_offering(mechanisms: Vec<Mechanism>, bindings: ChannelBindings) -> ServerSession {
        let mut accounts = CredentialStore::new();
        accounts.add_user("alice", "pencil", 4096);
        let config = ServerConfig {
            domain: "interop.test".into(),
            starttls_available: false,
            mechanisms,
            preferred_mechanism: None,
            accounts: Arc::new(accounts),
            misbehaviour: ServerMisbehaviour::default(),
            limits: Limits::default(),
            offer_sasl2: false,
            expect_sasl2: false,
            downgrade_protection: false,
        };
        let channel = TlsChannel {
            bindings,
            client_certificate: None,
        };
        let mut session = ServerSession::new(config, Some(channel));
        session.receive(HEADER.as_bytes());
        sent(&mut session);
        session
    }

    fn rejection(session: &ServerSession) -> (Step, String, Side) {
        match session.end() {
            Some(SessionEnd::Rejected {
                step,
                condition,
                by,
                ..
            }) => (*step, condition.clone(), *by),
            other => panic!("{other:?}"),
        }
    }

    /// "p=tls-unique,,n=alice,r=abc", the client-first message of a tls-unique binding.
    const TLS_UNIQUE_AUTH: &str = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' \
        mechanism='SCRAM-SHA-1-PLUS'>cD10bHMtdW5pcXVlLCxuPWFsaWNlLHI9YWJj</auth>";

    #[test]
    fn tls_unique_is_the_harness_gap_on_tls_1_2_and_the_client_fault_on_tls_1_3_rfc5802_6_1() {
        // TLS 1.2: tls-unique is defined but rustls cannot compute it; TLS 1.3: RFC 9266 §3
        // leaves it undefined, so binding with it is the client's fault.
        for (tls_unique_defined, other, recorded) in [
            (
                true,
                sasl::ChannelBindingType::TlsServerEndPoint,
                NOT_APPLICABLE,
            ),
            (
                false,
                sasl::ChannelBindingType::TlsExporter,
                "not-authorized",
            ),
        ] {
            let bindings = ChannelBindings {
                available: vec![(other, vec![7; 32])],
                tls_unique_defined,
            };
            let mut session = session_offering(vec![Mechanism::ScramSha1Plus], bindings);
            session.receive(TLS_UNIQUE_AUTH.as_bytes());
            // RFC 5802 §6.1: a server without the type fails the authentication either way.
            assert!(sent(&mut session).contains("<not-authorized/>"));
            assert_eq!(
                rejection(&session),
                (Step::Sasl, recorded.to_owned(), Side::Local)
            );
        }
    }

    #[test]
    fn non_sasl_authentication_gets_service_unavailable_and_ends_as_legacy_authentication_xep0078_3()
     {
        let mut session =
            session_offering(vec![Mechanism::ScramSha256], ChannelBindings::default());
        session.receive(
            b"<iq type='get' id='auth1'><query xmlns='jabber:iq:auth'><username>alice</username>\
              </query></iq>",
        );
        let answer = sent(&mut session);
        assert!(
            answer.starts_with(
                "<iq type='error' id='auth1'><error type='cancel'>\
                 <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
            ),
            "{answer}"
        );
        assert!(answer.ends_with("</stream:stream>"), "{answer}");
        assert_eq!(
            rejection(&session),
            (
                Step::Features,
                "legacy-authentication".to_owned(),
                Side::Peer
            )
        );
    }

    #[test]
    fn non_sasl_authentication_after_a_sasl_failure_is_a_policy_violation_xep0078_3() {
        let mut session = session_offering(vec![Mechanism::Plain], ChannelBindings::default());
        // base64 of "\0alice\0wrong"
        session.receive(
            b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHdyb25n</auth>",
        );
        assert!(sent(&mut session).contains("<not-authorized/>"));
        session.receive(b"<iq type='get' id='a'><query xmlns='jabber:iq:auth'/></iq>");
        let answer = sent(&mut session);
        assert!(answer.contains("<policy-violation"), "{answer}");
        // The SASL failure, the session's first end, stays its outcome.
        assert_eq!(
            rejection(&session),
            (Step::Sasl, "not-authorized".to_owned(), Side::Local)
        );
    }

    #[test]
    fn a_close_right_after_the_tls_handshake_is_a_refusal_at_tls_rfc6120_13_7_2() {
        let mut session = ServerSession::new(
            ServerConfig {
                domain: "interop.test".into(),
                starttls_available: false,
                mechanisms: vec![Mechanism::Plain],
                preferred_mechanism: None,
                accounts: Arc::new(CredentialStore::new()),
                misbehaviour: ServerMisbehaviour::default(),
                limits: Limits::default(),
                offer_sasl2: false,
                expect_sasl2: false,
                downgrade_protection: false,
            },
            Some(TlsChannel::default()),
        );
        session.peer_closed();
        assert_eq!(
            rejection(&session),
            (Step::Tls, "closed".to_owned(), Side::Peer)
        );
    }

    #[test]
    fn a_close_after_part_of_a_stream_header_stays_at_the_stream_step() {
        let mut session = session_offering(vec![Mechanism::Plain], ChannelBindings::default());
        let mut fresh = ServerSession::new(session.config.clone(), Some(TlsChannel::default()));
        fresh.receive(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'");
        fresh.peer_closed();
        assert_eq!(
            rejection(&fresh),
            (Step::Stream, "closed".to_owned(), Side::Peer)
        );
        session.peer_closed();
        assert_eq!(rejection(&session).0, Step::Features);
    }

    #[test]
    fn a_stream_close_right_after_starttls_is_a_refusal_at_tls_rfc6120_13_7_2() {
        let mut config = session_offering(vec![Mechanism::Plain], ChannelBindings::default())
            .config
            .clone();
        config.starttls_available = true;
        let mut session = ServerSession::new(config, None);
        session.receive(HEADER.as_bytes());
        session.receive(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        assert!(sent(&mut session).contains("<proceed"));
        session.tls_established(TlsChannel::default());
        session.receive(b"</stream:stream>");
        assert_eq!(
            rejection(&session),
            (Step::Tls, "closed".to_owned(), Side::Peer)
        );
    }
}
