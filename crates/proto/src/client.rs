//! The initiating side of a client-to-server stream (RFC 6120 §4–§7), sans-IO.
//!
//! A [`ClientSession`] opens the stream, negotiates STARTTLS when the transport asks for it,
//! authenticates with one SASL mechanism and binds a resource. It checks what a careful client
//! must check: that STARTTLS is offered when required, that PLAIN is never used in the clear,
//! that the SCRAM server proves itself, and that nothing is smuggled in after `<proceed/>`.
//!
//! With an [`Errand`] the session stays logged in after binding: it announces itself, makes
//! sure the server has processed that, and then sends a chat message or waits for one, to show
//! whether stanzas cross from one server to another.

use super::sasl::{
    self, ChannelBinding, ChannelBindingType, ChannelBindings, ClientCredentials, ClientMechanism,
    ClientMisbehaviour, ClientOptions,
};
use super::session::{Core, decode_sasl, delegate_to_core, feed_and_handle};
use super::xml::{self, Element, Limits, NS_CLIENT, NS_STREAM, StreamEvent, StreamHeader};
use super::{
    NS_BIND, NS_SASL, NS_SASL_CB, NS_STANZAS, NS_TLS, Session, SessionEnd, Side, TlsChannel,
};
use crate::{Mechanism, NOT_APPLICABLE, SASL2_UNSUPPORTED, SaslProfile, Step, Transport};

/// XEP-0388: the Extensible SASL Profile (SASL2).
pub const NS_SASL2: &str = "urn:xmpp:sasl:2";

/// The `id` of the `<user-agent/>` this client sends with SASL2 (XEP-0388 §2.2.1 wants a
/// stable UUID per installation).
const USER_AGENT_ID: &str = "d4565fa7-4d72-4749-b3d3-740edbf87770";

/// The resource every client session asks to bind.
pub const RESOURCE: &str = "xmpp-interop";

/// XEP-0199: XMPP ping.
pub const NS_PING: &str = "urn:xmpp:ping";

/// What a client does after binding a resource, instead of closing the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Errand {
    /// Nothing: the session ends as soon as a resource is bound
    /// ([`SessionEnd::Authenticated`]).
    None,
    /// Send a chat message with `body` to the JID `to` (which makes the server open a
    /// server-to-server connection when `to` is remote), then wait for a bounce (RFC 6120
    /// §8.3), which ends the session as rejected at [`Step::Message`]. Without a bounce the
    /// session never ends by itself.
    SendMessage {
        /// The recipient's JID.
        to: String,
        /// The text of `<body/>`.
        body: String,
    },
    /// Wait for a message whose `<body/>` is exactly `body`; it ends the session with
    /// [`SessionEnd::MessageReceived`].
    AwaitMessage {
        /// The expected text of `<body/>`.
        body: String,
    },
}

/// What the client does and insists on.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server's XMPP domain (`to` of the stream header).
    pub domain: String,
    /// How the connection is secured. `DirectTls` means TLS is already up when the session
    /// starts.
    pub transport: Transport,
    /// The mechanisms this client will use, most preferred first; it picks the first one the
    /// server offers.
    pub mechanisms: Vec<Mechanism>,
    /// Username and password.
    pub username: String,
    /// The password (never written to the transcript).
    pub password: String,
    /// The channel binding type to use with `-PLUS` mechanisms; `None` picks one the server
    /// advertises (XEP-0440) and this connection has.
    pub channel_binding: Option<ChannelBindingType>,
    /// An authorization identity to ask for, if any (RFC 6120 §6.4.6).
    pub authzid: Option<String>,
    /// SCRAM limits.
    pub sasl_options: ClientOptions,
    /// Refuse to authenticate on an unencrypted stream at all (a conforming client). When
    /// false the client still refuses to send PLAIN in the clear (RFC 6120 §13.8).
    pub require_tls: bool,
    /// Parser limits for what the server sends.
    pub limits: Limits,
    /// The SASL profile to use: `None` uses SASL2 (XEP-0388) when the server offers it and
    /// RFC 6120 SASL otherwise; `Some` insists on one (a server without SASL2 then makes the
    /// case not applicable).
    pub sasl_profile: Option<SaslProfile>,
    /// What to do after binding. Anything but [`Errand::None`] keeps the session open: after
    /// binding it sends `<presence/>` and a ping (XEP-0199) and is ready (see
    /// [`Session::is_ready`]) once the ping is answered; run it with
    /// `drive::messaging::start_errand`, since `drive::initiate` keeps applying its per-read
    /// time limit while the errand waits.
    pub errand: Errand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitHeader,
    AwaitFeatures,
    AwaitProceed,
    AwaitTls,
    AwaitSaslResult,
    AwaitBindResult,
    /// Bound, on an errand: `<presence/>` and the readiness ping are sent.
    AwaitReady,
    /// Ready: the errand's message is sent, or its awaited message has not come yet.
    OnErrand,
    Done,
}

/// One client-to-server stream, from the client's side.
pub struct ClientSession {
    config: ClientConfig,
    core: Core,
    state: State,
    tls: bool,
    bindings: ChannelBindings,
    authenticated: bool,
    mechanism: Option<Box<dyn ClientMechanism>>,
    chosen: Option<Mechanism>,
    profile: SaslProfile,
    replay: Replay,
    ready: bool,
}

/// Where a `ReplayClientFinal` session is in its abort-and-replay sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Replay {
    /// Not replaying, or not yet at server-first.
    Off,
    /// Will abort at the first server-first and keep the client-final computed for it.
    Armed,
    /// Sent `<abort/>`; waiting for the server's `<failure/>` to retry.
    Aborted(Vec<u8>),
    /// Sent the same client-first again; the next challenge gets the old client-final.
    Resent(Vec<u8>),
    /// Sent the old client-final.
    Replayed,
}

const BIND_ID: &str = "bind-1";
/// The `id` of the ping whose answer makes an errand session ready.
const READY_ID: &str = "errand-ready";
/// The `id` of the message [`Errand::SendMessage`] sends (and of its bounce).
const MESSAGE_ID: &str = "errand-message";

impl ClientSession {
    /// Starts a session; the stream header is queued right away. `tls` holds the channel
    /// bindings of a TLS connection set up before the session started (direct TLS).
    pub fn new(config: ClientConfig, tls: Option<ChannelBindings>) -> ClientSession {
        let core = Core::new(config.limits, NS_CLIENT);
        let mut session = ClientSession {
            config,
            core,
            state: State::AwaitHeader,
            tls: tls.is_some(),
            bindings: tls.unwrap_or_default(),
            authenticated: false,
            mechanism: None,
            chosen: None,
            profile: SaslProfile::Sasl1,
            replay: Replay::Off,
            ready: false,
        };
        session.open_stream();
        session
    }

    /// The stream header; once TLS protects the stream it names the account in `from`, as RFC
    /// 6120 §4.7.1 says a client that knows its identity SHOULD (ejabberd 24 offers SASL2
    /// only to a client that does).
    fn open_stream(&mut self) {
        let from = (self.tls && !self.config.username.is_empty())
            .then(|| format!("{}@{}", self.config.username, self.config.domain));
        let header = StreamHeader {
            default_ns: NS_CLIENT.to_owned(),
            to: Some(self.config.domain.clone()),
            from,
            version: Some("1.0".to_owned()),
            lang: Some("en".to_owned()),
            ..StreamHeader::default()
        };
        let xml = header.to_xml();
        self.core.send_raw(xml.clone(), xml);
        self.state = State::AwaitHeader;
        if !self.authenticated {
            self.core.step = Step::Stream;
        }
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
                self.on_header(&header);
            }
            StreamEvent::Closed => {
                self.core.received_text(xml::STREAM_CLOSE.to_owned());
                self.retry_refused("closed the stream");
                let waiting = self.waiting_for();
                self.core.reject(
                    "closed",
                    Side::Peer,
                    format!("the server closed the stream while the client waited for {waiting}"),
                );
                self.core.close();
                self.state = State::Done;
            }
            StreamEvent::Element(element) => {
                if element.is("error", NS_STREAM) {
                    self.core.received(&element);
                    self.retry_refused("sent a stream error");
                    self.core.peer_stream_error(&element);
                    self.state = State::Done;
                    return;
                }
                match self.state {
                    State::AwaitFeatures => self.on_features(&element),
                    State::AwaitProceed => self.on_starttls_answer(&element),
                    State::AwaitSaslResult => self.on_sasl(&element),
                    State::AwaitBindResult => self.on_bind_result(&element),
                    State::AwaitReady | State::OnErrand => self.on_errand_stanza(&element),
                    State::AwaitHeader | State::AwaitTls | State::Done => {
                        self.core.received(&element);
                        self.unexpected(&element);
                    }
                }
            }
        }
    }

    fn on_header(&mut self, header: &StreamHeader) {
        if self.state != State::AwaitHeader {
            self.finish_with(
                "unexpected-element",
                Side::Local,
                "the server sent a second stream header".into(),
            );
            return;
        }
        if header.version.as_deref() != Some("1.0") {
            let detail = format!(
                "the server's stream header has version {:?}; RFC 6120 §4.7.5 needs 1.0",
                header.version
            );
            self.core
                .reject("unsupported-version", Side::Local, detail.clone());
            self.core.stream_error("unsupported-version", &detail);
            self.state = State::Done;
            return;
        }
        self.state = State::AwaitFeatures;
        if !self.authenticated {
            self.core.step = Step::Features;
        }
    }

    fn on_features(&mut self, features: &Element) {
        self.core.received(features);
        if !features.is("features", NS_STREAM) {
            self.unexpected(features);
            return;
        }
        if self.authenticated {
            self.request_bind(features);
            return;
        }
        if !self.tls && self.config.transport == Transport::Starttls {
            if features.child("starttls", NS_TLS).is_some() {
                self.core.step = Step::Starttls;
                self.core.send(&Element::new("starttls", NS_TLS));
                self.state = State::AwaitProceed;
            } else {
                self.finish_with(
                    "starttls-not-offered",
                    Side::Local,
                    "the server offered no <starttls/>, and this client requires TLS (RFC 6120 §5.3.1)"
                        .into(),
                );
            }
            return;
        }
        self.start_sasl(features);
    }

    fn start_sasl(&mut self, features: &Element) {
        let sasl2 = features.child("authentication", NS_SASL2);
        self.profile = match (self.config.sasl_profile, sasl2) {
            (Some(SaslProfile::Sasl2), None) => {
                self.finish_with(
                    SASL2_UNSUPPORTED,
                    Side::Peer,
                    "target does not offer SASL2 (XEP-0388): no <authentication \
                     xmlns='urn:xmpp:sasl:2'/> among the stream features"
                        .into(),
                );
                return;
            }
            (Some(SaslProfile::Sasl1), _) | (None, None) => SaslProfile::Sasl1,
            (Some(SaslProfile::Sasl2) | None, Some(_)) => SaslProfile::Sasl2,
        };
        let (container, namespace) = match self.profile {
            SaslProfile::Sasl1 => (features.child("mechanisms", NS_SASL), NS_SASL),
            SaslProfile::Sasl2 => (sasl2, NS_SASL2),
        };
        let offered: Vec<String> = container
            .map(|m| {
                m.child_elements()
                    .filter(|c| c.is("mechanism", namespace))
                    .map(|c| c.text().trim().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let encrypted = if self.tls { "encrypted" } else { "unencrypted" };
        let profile_name = match self.profile {
            SaslProfile::Sasl1 => "SASL",
            SaslProfile::Sasl2 => "SASL2 (XEP-0388)",
        };
        self.core.note(format!(
            "server offers {profile_name} mechanisms [{}] on the {encrypted} stream",
            offered.join(", ")
        ));
        if !self.tls && self.config.require_tls {
            self.finish_with(
                "starttls-not-offered",
                Side::Local,
                "the stream is not encrypted, and this client authenticates only over TLS".into(),
            );
            return;
        }
        let advertised_bindings: Vec<ChannelBindingType> = features
            .child("sasl-channel-binding", NS_SASL_CB)
            .map(|cb| {
                cb.child_elements()
                    .filter(|c| c.is("channel-binding", NS_SASL_CB))
                    .filter_map(|c| c.attr("type").and_then(ChannelBindingType::from_name))
                    .collect()
            })
            .unwrap_or_default();
        let advertised = sasl::Advertised {
            mechanisms: offered.clone(),
            channel_bindings: features
                .child("sasl-channel-binding", NS_SASL_CB)
                .map(|cb| {
                    cb.child_elements()
                        .filter(|c| c.is("channel-binding", NS_SASL_CB))
                        .filter_map(|c| c.attr("type").map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let binding_kind = self.binding_kind(&advertised_bindings);
        let chosen = self
            .config
            .mechanisms
            .iter()
            .copied()
            .filter(|m| !m.is_plus() || binding_kind.is_some())
            .find(|m| offered.iter().any(|o| o == m.name()));
        let Some(wanted) = chosen else {
            let usable: Vec<&str> = self.config.mechanisms.iter().map(|m| m.name()).collect();
            let plus_wanted_and_offered = self
                .config
                .mechanisms
                .iter()
                .any(|m| m.is_plus() && offered.iter().any(|o| o == m.name()));
            if plus_wanted_and_offered && self.tls {
                let types: Vec<&str> = self.bindings.types().iter().map(|t| t.name()).collect();
                let wanted = self
                    .config
                    .channel_binding
                    .map_or_else(|| "any".to_owned(), |k| k.to_string());
                self.finish_with(
                    "channel-binding-unavailable",
                    Side::Local,
                    format!(
                        "the server offers [{}]; this client wants channel binding type {wanted} \
                         but the connection has only [{}]",
                        offered.join(", "),
                        types.join(", ")
                    ),
                );
                return;
            }
            self.finish_with(
                "mechanism-not-offered",
                Side::Peer,
                format!(
                    "the server offers [{}] on the {encrypted} stream; this client uses [{}]",
                    offered.join(", "),
                    usable.join(", ")
                ),
            );
            return;
        };
        if wanted == Mechanism::Plain && !self.tls {
            self.finish_with(
                "plain-offered-in-clear",
                Side::Local,
                "the server offered PLAIN on an unencrypted stream (RFC 6120 §13.8); the client \
                 did not send the password"
                    .into(),
            );
            return;
        }
        self.core.step = Step::Sasl;
        let credentials = ClientCredentials {
            username: self.config.username.clone(),
            password: self.config.password.clone(),
            authzid: self.config.authzid.clone(),
        };
        let plus_offered = offered.iter().any(|o| o.ends_with("-PLUS"));
        if self.config.sasl_options.misbehaviour == ClientMisbehaviour::DowngradeFlag
            && !plus_offered
        {
            // Without a -PLUS offer, GS2 flag y is the truth rather than a downgrade: a server
            // that accepts it is right, so there is nothing to test.
            self.finish_with(
                NOT_APPLICABLE,
                Side::Local,
                format!(
                    "the server offers no -PLUS mechanism ({}), so the GS2 flag y is no downgrade",
                    offered.join(", ")
                ),
            );
            return;
        }
        let misbehaviour = self.config.sasl_options.misbehaviour;
        let binding = match binding_kind {
            Some(kind) if wanted.is_plus() => {
                self.core.note(format!(
                    "binding the exchange to the TLS channel with {kind}"
                ));
                ChannelBinding::Bound {
                    kind,
                    data: self
                        .bindings
                        .get(kind)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default(),
                }
            }
            Some(_) if !plus_offered => ChannelBinding::NotOffered,
            Some(_)
                if self.config.sasl_options.misbehaviour == ClientMisbehaviour::DowngradeFlag =>
            {
                ChannelBinding::NotOffered
            }
            _ => ChannelBinding::None,
        };
        let binding = match binding {
            ChannelBinding::Bound { data, .. }
                if misbehaviour == ClientMisbehaviour::UndefinedBindingType =>
            {
                self.core.note(
                    "claiming tls-unique, which TLS 1.3 does not define, with the tls-exporter data",
                );
                ChannelBinding::Bound {
                    kind: ChannelBindingType::TlsUnique,
                    data,
                }
            }
            other => other,
        };
        let mut options = ClientOptions {
            advertised: (!self.config.sasl_options.ignore_downgrade_protection)
                .then_some(advertised),
            ..self.config.sasl_options.clone()
        };
        if misbehaviour == ClientMisbehaviour::ReplayClientFinal {
            // The retry must send the very same client-first, nonce included.
            options.nonce = Some(replay_nonce());
            self.replay = Replay::Armed;
        }
        let mut mechanism =
            sasl::client_mechanism_with_channel_binding(wanted, credentials, options, binding);
        match mechanism.initial_response() {
            Ok(payload) => {
                let shown = sasl::redact(wanted, true, &payload);
                match self.profile {
                    SaslProfile::Sasl1 => {
                        let auth =
                            Element::new("auth", NS_SASL).with_attr("mechanism", wanted.name());
                        self.core.send_sasl(auth, &payload, shown);
                    }
                    SaslProfile::Sasl2 => self.send_authenticate(wanted, &payload, &shown),
                }
                self.mechanism = Some(mechanism);
                self.chosen = Some(wanted);
                self.state = State::AwaitSaslResult;
            }
            Err(e) => self.finish_with(e.code(), Side::Local, e.to_string()),
        }
    }

    /// Sends SASL2's `<authenticate/>` (XEP-0388 §2.2) with the initial response.
    fn send_authenticate(&mut self, mechanism: Mechanism, payload: &[u8], shown: &str) {
        let bare = Element::new("authenticate", NS_SASL2).with_attr("mechanism", mechanism.name());
        let user_agent = Element::new("user-agent", NS_SASL2)
            .with_attr("id", USER_AGENT_ID)
            .with_child(Element::new("software", NS_SASL2).with_text("xmpp-interop"));
        let full = bare
            .clone()
            .with_child(
                Element::new("initial-response", NS_SASL2)
                    .with_text(&super::session::encode_sasl(payload)),
            )
            .with_child(user_agent);
        let shown = format!(
            "{}><initial-response>[{shown}]</initial-response><user-agent id='{USER_AGENT_ID}'/></authenticate>",
            bare.to_xml(NS_CLIENT).trim_end_matches("/>")
        );
        self.core.send_raw(full.to_xml(NS_CLIENT), shown);
    }

    /// The channel binding type to use: the configured one if this connection has it, else
    /// the first this connection has that the server advertised (XEP-0440), else the first
    /// this connection has. `None` without TLS.
    fn binding_kind(&self, advertised: &[ChannelBindingType]) -> Option<ChannelBindingType> {
        let available = self.bindings.types();
        match self.config.channel_binding {
            Some(wanted) => available.into_iter().find(|k| *k == wanted),
            None => available
                .iter()
                .copied()
                .find(|k| advertised.contains(k))
                .or_else(|| available.first().copied()),
        }
    }

    fn on_starttls_answer(&mut self, element: &Element) {
        self.core.received(element);
        if element.is("proceed", NS_TLS) {
            self.state = if self.core.switch_to_tls("the server", "<proceed/>") {
                State::AwaitTls
            } else {
                State::Done
            };
        } else if element.is("failure", NS_TLS) {
            self.finish_with(
                "starttls-failure",
                Side::Peer,
                "the server answered <starttls/> with <failure/>".into(),
            );
        } else {
            self.unexpected(element);
        }
    }

    fn on_sasl(&mut self, element: &Element) {
        let Some(wanted) = self.chosen else {
            self.core.received(element);
            self.unexpected(element);
            return;
        };
        let namespace = match self.profile {
            SaslProfile::Sasl1 => NS_SASL,
            SaslProfile::Sasl2 => NS_SASL2,
        };
        if self.replay == Replay::Replayed
            && (element.is("success", NS_SASL) || element.is("success", NS_SASL2))
        {
            self.core.received(element);
            self.finish_with(
                "accepted-replayed-client-final",
                Side::Local,
                "the server accepted a client-final message replayed from an earlier exchange \
                 (same client-first, the earlier proof) instead of refusing it with \
                 <not-authorized/> (RFC 5802 §5.1, §9)"
                    .into(),
            );
            return;
        }
        if let Replay::Aborted(client_final) = &self.replay
            && element.is("failure", namespace)
        {
            let client_final = client_final.clone();
            self.core.received(element);
            self.retry_with_same_client_first(wanted, client_final);
            return;
        }
        if self.profile == SaslProfile::Sasl2 && element.is("success", NS_SASL2) {
            self.on_sasl2_success(wanted, element);
            return;
        }
        if element.is("failure", namespace) {
            self.core.received(element);
            self.retry_refused("answered the retry with <failure/>");
            self.on_failure(wanted, element);
            return;
        }
        let payload = match decode_sasl(&element.text()) {
            Ok(payload) => payload,
            Err(e) => {
                self.core.received(element);
                self.core.send(&Element::new("abort", namespace));
                self.finish_with(
                    "malformed-challenge",
                    Side::Local,
                    format!("<{}/>: {e}", element.name),
                );
                return;
            }
        };
        self.core
            .received_sasl(element, sasl::redact(wanted, false, &payload));
        let Some(mechanism) = self.mechanism.as_mut() else {
            self.unexpected(element);
            return;
        };
        if element.is("challenge", namespace) {
            if let Replay::Resent(client_final) = &self.replay {
                let client_final = client_final.clone();
                self.core
                    .note("replaying the client-final message of the aborted exchange");
                let shown = sasl::redact(wanted, true, &client_final);
                self.core
                    .send_sasl(Element::new("response", namespace), &client_final, shown);
                self.replay = Replay::Replayed;
                return;
            }
            match mechanism.respond(&payload) {
                Ok(response) if self.replay == Replay::Armed => {
                    self.core.note(
                        "aborting after server-first and keeping the client-final for a replay",
                    );
                    self.core.send(&Element::new("abort", namespace));
                    self.replay = Replay::Aborted(response);
                }
                Ok(response) => {
                    let shown = sasl::redact(wanted, true, &response);
                    self.core
                        .send_sasl(Element::new("response", namespace), &response, shown);
                }
                Err(e) => {
                    self.core.send(&Element::new("abort", namespace));
                    self.finish_with(e.code(), Side::Local, e.to_string());
                }
            }
        } else if element.is("success", NS_SASL) {
            match mechanism.finish(&payload) {
                Ok(()) => {
                    self.authenticated = true;
                    self.core.step = Step::Bind;
                    let discarded = self.core.restart_stream();
                    if discarded > 0 {
                        self.core.note(format!(
                            "discarded {discarded} bytes the server sent after <success/> before the stream restart"
                        ));
                    }
                    self.open_stream();
                }
                Err(e) => self.finish_with(e.code(), Side::Local, e.to_string()),
            }
        } else {
            self.unexpected(element);
        }
    }

    /// Starts the exchange over with the same client-first, to replay `client_final` next.
    fn retry_with_same_client_first(&mut self, wanted: Mechanism, client_final: Vec<u8>) {
        let Some(mechanism) = self.mechanism.as_mut() else {
            return;
        };
        match mechanism.initial_response() {
            Ok(payload) => {
                let shown = sasl::redact(wanted, true, &payload);
                match self.profile {
                    SaslProfile::Sasl1 => {
                        let auth =
                            Element::new("auth", NS_SASL).with_attr("mechanism", wanted.name());
                        self.core.send_sasl(auth, &payload, shown);
                    }
                    SaslProfile::Sasl2 => self.send_authenticate(wanted, &payload, &shown),
                }
                self.replay = Replay::Resent(client_final);
            }
            Err(e) => self.finish_with(e.code(), Side::Local, e.to_string()),
        }
    }

    /// The server ended the stream between the abort and the replay: a server may refuse
    /// retries (RFC 6120 §6.4.5 only says SHOULD allow them), so the replay could not be tried.
    fn retry_refused(&mut self, what: &str) {
        if matches!(self.replay, Replay::Aborted(_) | Replay::Resent(_)) {
            self.core.reject(
                NOT_APPLICABLE,
                Side::Peer,
                format!(
                    "the server {what} after <abort/> instead of allowing a retry (RFC 6120 \
                     §6.4.5), so the replayed client-final could not be tried"
                ),
            );
        }
    }

    /// `<failure/>` of either profile: the condition is an RFC 6120 §6.5 element in the
    /// xmpp-sasl namespace (XEP-0388 §2.6.3 reuses them).
    fn on_failure(&mut self, wanted: Mechanism, element: &Element) {
        let condition = element
            .child_elements()
            .find(|c| c.ns == NS_SASL && c.name != "text")
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "failure-without-condition".to_owned());
        let text = element
            .child_elements()
            .find(|c| c.name == "text")
            .map(|t| format!(": {}", t.text()))
            .unwrap_or_default();
        self.finish_with(
            &condition,
            Side::Peer,
            format!("the server answered {wanted} with <failure><{condition}/></failure>{text}"),
        );
    }

    /// SASL2's `<success/>` (XEP-0388 §2.6.1): the SCRAM server-final in `<additional-data/>`,
    /// the account in `<authorization-identifier/>`, and no stream restart: resource binding
    /// follows on the same stream.
    fn on_sasl2_success(&mut self, wanted: Mechanism, element: &Element) {
        let additional = element
            .child("additional-data", NS_SASL2)
            .map(|d| d.text())
            .unwrap_or_default();
        let payload = match decode_sasl(&additional) {
            Ok(payload) => payload,
            Err(e) => {
                self.core.received(element);
                self.finish_with(
                    "malformed-challenge",
                    Side::Local,
                    format!("<additional-data/> of <success/>: {e}"),
                );
                return;
            }
        };
        let mut shown = element.clone();
        shown.children.retain(|c| match c {
            xml::Node::Element(child) => child.name != "additional-data",
            xml::Node::Text(_) => false,
        });
        self.core.received_text(format!(
            "{} (additional data: [{}])",
            shown.to_xml(NS_CLIENT),
            sasl::redact(wanted, false, &payload)
        ));
        let Some(mechanism) = self.mechanism.as_mut() else {
            self.unexpected(element);
            return;
        };
        if let Err(e) = mechanism.finish(&payload) {
            self.finish_with(e.code(), Side::Local, e.to_string());
            return;
        }
        let identifier = element
            .child("authorization-identifier", NS_SASL2)
            .map(|a| a.text().trim().to_owned())
            .unwrap_or_default();
        let expected_bare = format!("{}@{}", self.config.username, self.config.domain);
        let bare = identifier.split('/').next().unwrap_or_default();
        if !bare.eq_ignore_ascii_case(&expected_bare) {
            let named = if identifier.is_empty() {
                "no <authorization-identifier/>, so".to_owned()
            } else {
                format!("{identifier:?} in <authorization-identifier/>,")
            };
            self.finish_with(
                "authorization-identifier-mismatch",
                Side::Local,
                format!(
                    "SASL2 <success/> names {named} not the authenticated account \
                     {expected_bare} (XEP-0388 §2.6.1)"
                ),
            );
            return;
        }
        self.authenticated = true;
        self.core.step = Step::Bind;
        self.core.note(format!(
            "SASL2 authenticated as {identifier}; binding a resource on the same stream (no restart)"
        ));
        self.send_bind();
    }

    fn request_bind(&mut self, features: &Element) {
        if features.child("bind", NS_BIND).is_none() {
            self.finish_with(
                "bind-not-offered",
                Side::Peer,
                "the server offered no <bind/> after authentication (RFC 6120 §7.2)".into(),
            );
            return;
        }
        self.send_bind();
    }

    fn send_bind(&mut self) {
        let iq = Element::new("iq", NS_CLIENT)
            .with_attr("type", "set")
            .with_attr("id", BIND_ID)
            .with_child(
                Element::new("bind", NS_BIND)
                    .with_child(Element::new("resource", NS_BIND).with_text(RESOURCE)),
            );
        self.core.send(&iq);
        self.state = State::AwaitBindResult;
    }

    fn on_bind_result(&mut self, element: &Element) {
        self.core.received(element);
        if self.profile == SaslProfile::Sasl2 && element.is("features", NS_STREAM) {
            // XEP-0388 needs no stream restart, but a server may still announce what the now
            // authenticated stream offers; the bind request is already on its way.
            self.core
                .note("stream features after SASL2 <success/>: waiting for the bind result");
            return;
        }
        if !element.is("iq", NS_CLIENT) || element.attr("id") != Some(BIND_ID) {
            self.unexpected(element);
            return;
        }
        match element.attr("type") {
            Some("result") => {
                let jid = element
                    .child("bind", NS_BIND)
                    .and_then(|b| b.child("jid", NS_BIND))
                    .map(|j| j.text().trim().to_owned())
                    .unwrap_or_default();
                let expected_bare = format!("{}@{}", self.config.username, self.config.domain);
                let bare = jid.split('/').next().unwrap_or_default();
                if !bare.eq_ignore_ascii_case(&expected_bare) {
                    self.finish_with(
                        "bind-failed",
                        Side::Peer,
                        format!("the server bound {jid:?}, not a resource of {expected_bare}"),
                    );
                } else if self.config.errand == Errand::None {
                    self.core.decide(SessionEnd::Authenticated { jid });
                    self.core.close();
                    self.state = State::Done;
                } else {
                    self.start_errand(&jid);
                }
            }
            Some("error") => {
                let condition = element
                    .child_elements()
                    .find(|c| c.name == "error")
                    .and_then(|e| e.child_elements().next())
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| "undefined-condition".to_owned());
                self.finish_with(
                    &condition,
                    Side::Peer,
                    format!("the server refused resource binding with <{condition}/>"),
                );
            }
            other => {
                let detail = format!("the bind result has type {other:?}");
                self.finish_with("bind-failed", Side::Peer, detail);
            }
        }
    }

    /// Bound as `jid` with an errand: announce the session (RFC 6120 §8.2.1 initial presence)
    /// and ping the server; its answer comes after it processed the presence.
    fn start_errand(&mut self, jid: &str) {
        self.core.step = Step::Message;
        self.core.note(format!(
            "bound as {jid}; staying logged in for the errand, ready once the server answers a ping"
        ));
        self.core.send(&Element::new("presence", NS_CLIENT));
        self.core.send(
            &Element::new("iq", NS_CLIENT)
                .with_attr("type", "get")
                .with_attr("id", READY_ID)
                .with_child(Element::new("ping", NS_PING)),
        );
        self.state = State::AwaitReady;
    }

    /// A stanza (or anything else) on the bound stream of an errand session.
    fn on_errand_stanza(&mut self, element: &Element) {
        self.core.received(element);
        let kind = element.attr("type");
        if element.is("iq", NS_CLIENT) {
            match kind {
                Some("result" | "error")
                    if self.state == State::AwaitReady && element.attr("id") == Some(READY_ID) =>
                {
                    self.on_ready(kind == Some("error"));
                }
                Some("get" | "set") => self.answer_iq(element),
                _ => self
                    .core
                    .note("ignored: not a request, and not the readiness ping's answer"),
            }
            return;
        }
        if !element.is("message", NS_CLIENT) {
            self.core.note("ignored: not part of the errand");
            return;
        }
        match &self.config.errand {
            Errand::SendMessage { to, .. }
                if kind == Some("error") && element.attr("id") == Some(MESSAGE_ID) =>
            {
                let (condition, text) = stanza_error(element);
                let text = text.map(|t| format!(" ({t})")).unwrap_or_default();
                let detail = format!(
                    "the message to {to} bounced with <{condition}/>{text} (RFC 6120 §8.3): {}",
                    element.to_xml(NS_CLIENT)
                );
                self.finish_with(&condition, Side::Peer, detail);
            }
            Errand::AwaitMessage { body }
                if kind != Some("error")
                    && element
                        .child("body", NS_CLIENT)
                        .is_some_and(|b| b.text() == *body) =>
            {
                let from = element.attr("from").unwrap_or_default().to_owned();
                self.core.decide(SessionEnd::MessageReceived { from });
                self.core.close();
                self.state = State::Done;
            }
            _ => self
                .core
                .note("ignored: not the message the errand is about"),
        }
    }

    /// The readiness ping came back (`refused`: as an error, from a server without XEP-0199;
    /// either way the server processed the presence before it): do the errand.
    fn on_ready(&mut self, refused: bool) {
        self.ready = true;
        self.state = State::OnErrand;
        if refused {
            self.core
                .note("the server refused the ping, which still shows it is ready");
        }
        match &self.config.errand {
            Errand::SendMessage { to, body } => {
                let message = Element::new("message", NS_CLIENT)
                    .with_attr("to", to)
                    .with_attr("id", MESSAGE_ID)
                    .with_attr("type", "chat")
                    .with_child(Element::new("body", NS_CLIENT).with_text(body));
                self.core.send(&message);
                self.core
                    .note("the message is sent; waiting for a bounce until stopped");
            }
            Errand::AwaitMessage { body } => {
                let body = body.clone();
                self.core
                    .note(format!("ready; waiting for a message with body {body:?}"));
            }
            Errand::None => {}
        }
    }

    /// Answers a request from the server: a ping (XEP-0199 §4.2) with a result, anything else
    /// with `<service-unavailable/>` (RFC 6120 §8.4), so that the server is not left waiting.
    fn answer_iq(&mut self, request: &Element) {
        let is_ping = request.attr("type") == Some("get")
            && request.child_elements().any(|c| c.is("ping", NS_PING));
        let mut answer = Element::new("iq", NS_CLIENT);
        if let Some(from) = request.attr("from") {
            answer = answer.with_attr("to", from);
        }
        if let Some(id) = request.attr("id") {
            answer = answer.with_attr("id", id);
        }
        let answer = if is_ping {
            answer.with_attr("type", "result")
        } else {
            answer.with_attr("type", "error").with_child(
                Element::new("error", NS_CLIENT)
                    .with_attr("type", "cancel")
                    .with_child(Element::new("service-unavailable", NS_STANZAS)),
            )
        };
        self.core.send(&answer);
    }

    fn unexpected(&mut self, element: &Element) {
        let waiting = self.waiting_for();
        let detail = format!(
            "expected {waiting}, got <{} xmlns='{}'>",
            element.name, element.ns
        );
        self.core
            .reject("unexpected-element", Side::Local, detail.clone());
        self.core.stream_error("unsupported-stanza-type", &detail);
        self.state = State::Done;
    }
}

/// The defined condition of a stanza error (RFC 6120 §8.3.2) and its `<text/>`, if any.
fn stanza_error(stanza: &Element) -> (String, Option<String>) {
    let error = stanza.child("error", NS_CLIENT);
    let condition = error
        .and_then(|e| {
            e.child_elements()
                .find(|c| c.ns == NS_STANZAS && c.name != "text")
        })
        .map_or_else(|| "undefined-condition".to_owned(), |c| c.name.clone());
    let text = error
        .and_then(|e| e.child("text", NS_STANZAS))
        .map(|t| t.text());
    (condition, text)
}

/// A fresh client nonce that an exchange and its retry share.
fn replay_nonce() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 18];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `to='…' from='…' …` for the transcript.
pub(crate) fn describe_header(header: &StreamHeader) -> String {
    let mut parts = vec![format!("xmlns='{}'", header.default_ns)];
    for (name, value) in [
        ("from", &header.from),
        ("to", &header.to),
        ("id", &header.id),
        ("version", &header.version),
        ("xml:lang", &header.lang),
    ] {
        if let Some(value) = value {
            parts.push(format!("{name}='{value}'"));
        }
    }
    parts.join(" ")
}

impl Session for ClientSession {
    fn receive(&mut self, bytes: &[u8]) {
        feed_and_handle!(self, bytes, while self.state != State::Done && self.state != State::AwaitTls);
    }
    fn tls_established(&mut self, channel: TlsChannel) {
        self.tls = true;
        self.bindings = channel.bindings;
        self.open_stream();
    }
    fn peer_closed(&mut self) {
        if self.state != State::Done {
            self.retry_refused("closed the connection");
            let waiting = self.waiting_for();
            self.core.reject(
                "closed",
                Side::Peer,
                format!("the server closed the connection while the client waited for {waiting}"),
            );
            self.state = State::Done;
        }
    }
    delegate_to_core!();
    fn is_finished(&self) -> bool {
        self.state == State::Done
    }
    fn is_ready(&self) -> bool {
        self.ready
    }
    fn waiting_for(&self) -> &'static str {
        match self.state {
            State::AwaitHeader => "the server's stream header",
            State::AwaitFeatures => "<stream:features/>",
            State::AwaitProceed => "<proceed/> after <starttls/>",
            State::AwaitTls => "the TLS handshake",
            State::AwaitSaslResult => "a SASL <challenge/>, <success/> or <failure/>",
            State::AwaitBindResult => "the resource binding result",
            State::AwaitReady => "the server's answer to the readiness ping",
            State::OnErrand => match self.config.errand {
                Errand::SendMessage { .. } => "a bounce of the message (or nothing: no end)",
                Errand::AwaitMessage { .. } => "the awaited message",
                Errand::None => "nothing: no errand",
            },
            State::Done => "the end of the stream",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::session::decode_sasl;
    use super::*;
    use crate::Action;

    const SERVER_HEADER: &str = "<stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' from='interop.test' id='s1' version='1.0'>";

    /// A direct-TLS PLAIN client for alice with `profile`, after the server's header and
    /// `features`; returns the session and what it sent in answer to the features.
    fn client_after(features: &str, profile: Option<SaslProfile>) -> (ClientSession, String) {
        scram_client_after(
            features,
            profile,
            Mechanism::Plain,
            ClientMisbehaviour::None,
        )
    }

    /// Like [`client_after`] for `mechanism` with `misbehaviour`, on a connection that has
    /// tls-exporter data.
    fn scram_client_after(
        features: &str,
        profile: Option<SaslProfile>,
        mechanism: Mechanism,
        misbehaviour: ClientMisbehaviour,
    ) -> (ClientSession, String) {
        started(alice_config(profile, mechanism, misbehaviour), features)
    }

    /// A direct-TLS client for alice using `mechanism` with `misbehaviour`, without an errand.
    fn alice_config(
        profile: Option<SaslProfile>,
        mechanism: Mechanism,
        misbehaviour: ClientMisbehaviour,
    ) -> ClientConfig {
        ClientConfig {
            domain: "interop.test".into(),
            transport: Transport::DirectTls,
            mechanisms: vec![mechanism],
            username: "alice".into(),
            password: "pencil".into(),
            channel_binding: None,
            authzid: None,
            sasl_options: ClientOptions {
                misbehaviour,
                ..ClientOptions::default()
            },
            require_tls: true,
            limits: Limits::default(),
            sasl_profile: profile,
            errand: Errand::None,
        }
    }

    /// A session for `config` on a connection that has tls-exporter data, after the server's
    /// header and `features`; returns it and what it sent in answer to the features.
    fn started(config: ClientConfig, features: &str) -> (ClientSession, String) {
        let bindings = ChannelBindings {
            available: vec![(ChannelBindingType::TlsExporter, vec![7; 32])],
            tls_unique_defined: false,
        };
        let mut session = ClientSession::new(config, Some(bindings));
        sent(&mut session);
        session.receive(SERVER_HEADER.as_bytes());
        session.receive(features.as_bytes());
        let answer = sent(&mut session);
        (session, answer)
    }

    fn sent(session: &mut ClientSession) -> String {
        let mut sent = Vec::new();
        while let Some(action) = session.poll_action() {
            if let Action::Send(bytes) = action {
                sent.extend(bytes);
            }
        }
        String::from_utf8_lossy(&sent).into_owned()
    }

    const BOTH_PROFILES: &str = "<stream:features>\
        <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>\
        <authentication xmlns='urn:xmpp:sasl:2'><mechanism>PLAIN</mechanism></authentication>\
        </stream:features>";

    #[test]
    fn sasl2_authenticate_carries_initial_response_and_user_agent_xep0388_2_2() {
        let (_, answer) = client_after(BOTH_PROFILES, None);
        assert_eq!(
            answer,
            format!(
                "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>\
                 <initial-response>AGFsaWNlAHBlbmNpbA==</initial-response>\
                 <user-agent id='{USER_AGENT_ID}'><software>xmpp-interop</software></user-agent>\
                 </authenticate>"
            )
        );
        let (_, answer) = client_after(BOTH_PROFILES, Some(SaslProfile::Sasl1));
        assert!(
            answer.starts_with("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'"),
            "{answer}"
        );
    }

    #[test]
    fn after_sasl2_success_the_client_binds_on_the_same_stream_xep0388_2_6_1() {
        let (mut session, _) = client_after(BOTH_PROFILES, None);
        session.receive(
            b"<success xmlns='urn:xmpp:sasl:2'>\
              <authorization-identifier>alice@interop.test</authorization-identifier></success>",
        );
        let answer = sent(&mut session);
        assert!(
            answer.starts_with("<iq type='set' id='bind-1'>"),
            "{answer}"
        );
        assert!(!answer.contains("<stream:stream"), "{answer}");
        // Features after success are tolerated: the bind request is already sent.
        session.receive(
            b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
        );
        assert_eq!(session.end(), None);
        assert_eq!(sent(&mut session), "");
        session.receive(
            b"<iq type='result' id='bind-1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
              <jid>alice@interop.test/xmpp-interop</jid></bind></iq>",
        );
        assert_eq!(
            session.end(),
            Some(&SessionEnd::Authenticated {
                jid: "alice@interop.test/xmpp-interop".into()
            })
        );
    }

    #[test]
    fn an_authorization_identifier_of_another_account_ends_the_session_xep0388_2_6_1() {
        let (mut session, _) = client_after(BOTH_PROFILES, None);
        session.receive(
            b"<success xmlns='urn:xmpp:sasl:2'>\
              <authorization-identifier>mallory@interop.test/x</authorization-identifier></success>",
        );
        let Some(SessionEnd::Rejected {
            condition, step, ..
        }) = session.end()
        else {
            panic!("not rejected: {:?}", session.end());
        };
        assert_eq!(
            (condition.as_str(), *step),
            ("authorization-identifier-mismatch", Step::Sasl)
        );
        assert!(!sent(&mut session).contains("<iq"));
    }

    #[test]
    fn a_server_without_sasl2_makes_a_sasl2_case_unsupported_xep0388_2_1() {
        let only_sasl1 = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
            <mechanism>PLAIN</mechanism></mechanisms></stream:features>";
        let (session, answer) = client_after(only_sasl1, Some(SaslProfile::Sasl2));
        assert!(!answer.contains("<auth"), "{answer}");
        let Some(SessionEnd::Rejected {
            condition, detail, ..
        }) = session.end()
        else {
            panic!("not rejected: {:?}", session.end());
        };
        assert_eq!(condition, SASL2_UNSUPPORTED);
        assert!(
            detail.starts_with("target does not offer SASL2 (XEP-0388)"),
            "{detail}"
        );
    }

    /// The SASL payload of the first `<tag …>payload</tag>` in `xml`, decoded.
    fn payload_of(xml: &str, tag: &str) -> String {
        let start = xml.find(&format!("<{tag} ")).unwrap();
        let open_end = start + xml[start..].find('>').unwrap() + 1;
        let close = open_end + xml[open_end..].find('<').unwrap();
        String::from_utf8(decode_sasl(&xml[open_end..close]).unwrap()).unwrap()
    }

    const SCRAM_SHA_1: &str = "<stream:features>\
        <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>\
        </mechanisms></stream:features>";

    fn sasl1(element: &str, payload: &str) -> Vec<u8> {
        format!(
            "<{element} xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</{element}>",
            super::super::session::encode_sasl(payload.as_bytes())
        )
        .into_bytes()
    }

    #[test]
    fn the_replay_resends_client_first_and_names_a_server_that_accepts_the_old_proof_rfc5802_9() {
        let (mut session, auth) = scram_client_after(
            SCRAM_SHA_1,
            None,
            Mechanism::ScramSha1,
            ClientMisbehaviour::ReplayClientFinal,
        );
        let client_first = payload_of(&auth, "auth");
        let nonce = client_first.rsplit("r=").next().unwrap().to_owned();
        let server_first = format!("r={nonce}srv,s=QSXCR+Q6sek8bf92,i=4096");
        session.receive(&sasl1("challenge", &server_first));
        assert_eq!(
            sent(&mut session),
            "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
        );
        session.receive(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><aborted/></failure>");
        let retry = sent(&mut session);
        assert_eq!(payload_of(&retry, "auth"), client_first);
        // A careless server that hands out the same nonce again.
        session.receive(&sasl1("challenge", &server_first));
        let replayed = payload_of(&sent(&mut session), "response");
        // GS2 flag y: the connection could bind, the server offers no -PLUS.
        assert!(
            replayed.starts_with(&format!("c=eSws,r={nonce}srv,p=")),
            "{replayed}"
        );
        session.receive(&sasl1("success", "v=irrelevant"));
        let Some(SessionEnd::Rejected { condition, by, .. }) = session.end() else {
            panic!("not rejected: {:?}", session.end());
        };
        assert_eq!(
            (condition.as_str(), *by),
            ("accepted-replayed-client-final", Side::Local)
        );
    }

    #[test]
    fn a_server_that_closes_after_abort_makes_the_replay_not_applicable_rfc6120_6_4_5() {
        let (mut session, auth) = scram_client_after(
            SCRAM_SHA_1,
            None,
            Mechanism::ScramSha1,
            ClientMisbehaviour::ReplayClientFinal,
        );
        let nonce = payload_of(&auth, "auth")
            .rsplit("r=")
            .next()
            .unwrap()
            .to_owned();
        session.receive(&sasl1(
            "challenge",
            &format!("r={nonce}srv,s=QSXCR+Q6sek8bf92,i=4096"),
        ));
        session.receive(b"</stream:stream>");
        let Some(SessionEnd::Rejected { condition, .. }) = session.end() else {
            panic!("not rejected: {:?}", session.end());
        };
        assert_eq!(condition, NOT_APPLICABLE);
    }

    #[test]
    fn the_undefined_binding_type_claims_tls_unique_with_the_exporter_data_rfc9266_3() {
        let features = "<stream:features>\
            <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
            <mechanism>SCRAM-SHA-256-PLUS</mechanism></mechanisms></stream:features>";
        let (_, auth) = scram_client_after(
            features,
            None,
            Mechanism::ScramSha256Plus,
            ClientMisbehaviour::UndefinedBindingType,
        );
        assert!(
            payload_of(&auth, "auth").starts_with("p=tls-unique,,n=alice,r="),
            "{auth}"
        );
    }

    const SASL2_SUCCESS: &[u8] = b"<success xmlns='urn:xmpp:sasl:2'>\
        <authorization-identifier>alice@interop.test</authorization-identifier></success>";
    const BIND_RESULT: &[u8] = b"<iq type='result' id='bind-1'>\
        <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@interop.test/xmpp-interop</jid>\
        </bind></iq>";
    const READY_AND_PING: &str =
        "<presence/><iq type='get' id='errand-ready'><ping xmlns='urn:xmpp:ping'/></iq>";
    const PING_RESULT: &[u8] = b"<iq type='result' id='errand-ready' from='interop.test'/>";
    const MESSAGE: &str = "<message to='bob@remote.test' id='errand-message' type='chat'>\
        <body>hello</body></message>";

    /// A direct-TLS PLAIN client for alice with `errand`, authenticated with SASL2 (no stream
    /// restart); returns it and what it sent in answer to the bind result.
    fn bound_with(errand: Errand) -> (ClientSession, String) {
        let config = ClientConfig {
            errand,
            ..alice_config(None, Mechanism::Plain, ClientMisbehaviour::None)
        };
        let (mut session, _) = started(config, BOTH_PROFILES);
        session.receive(SASL2_SUCCESS);
        let before_bind = sent(&mut session);
        assert!(before_bind.ends_with("</iq>"), "{before_bind}");
        session.receive(BIND_RESULT);
        let answer = sent(&mut session);
        (session, answer)
    }

    fn send_to_bob() -> Errand {
        Errand::SendMessage {
            to: "bob@remote.test".into(),
            body: "hello".into(),
        }
    }

    #[test]
    fn without_an_errand_the_session_ends_authenticated_and_closes_once_bound() {
        let (session, answer) = bound_with(Errand::None);
        assert_eq!(answer, "</stream:stream>");
        assert_eq!(
            session.end(),
            Some(&SessionEnd::Authenticated {
                jid: "alice@interop.test/xmpp-interop".into()
            })
        );
        assert!(session.is_finished());
        assert!(!session.is_ready());
    }

    #[test]
    fn an_errand_sends_initial_presence_then_a_ping_after_binding_rfc6120_8_2_xep0199() {
        let (session, answer) = bound_with(send_to_bob());
        assert_eq!(answer, READY_AND_PING);
        assert_eq!(session.end(), None);
        assert!(!session.is_finished());
        assert!(!session.is_ready());
        assert_eq!(session.step(), Step::Message);
        assert_eq!(
            session.waiting_for(),
            "the server's answer to the readiness ping"
        );
    }

    #[test]
    fn the_message_is_sent_only_once_the_ping_is_answered() {
        let (mut session, _) = bound_with(send_to_bob());
        session.receive(b"<presence from='alice@interop.test/other'/>");
        session.receive(b"<iq type='result' id='something-else'/>");
        assert_eq!(sent(&mut session), "");
        assert!(!session.is_ready());
        session.receive(PING_RESULT);
        assert_eq!(sent(&mut session), MESSAGE);
        assert!(session.is_ready());
        assert_eq!(session.end(), None);
        assert!(!session.is_finished());
        // A second answer with the same id does not send the message again.
        session.receive(PING_RESULT);
        assert_eq!(sent(&mut session), "");
    }

    #[test]
    fn a_ping_refused_by_a_server_without_xep0199_still_makes_the_session_ready() {
        let (mut session, _) = bound_with(send_to_bob());
        session.receive(
            b"<iq type='error' id='errand-ready'><error type='cancel'>\
              <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        );
        assert!(session.is_ready());
        assert_eq!(sent(&mut session), MESSAGE);
        assert_eq!(session.end(), None);
    }

    #[test]
    fn a_bounce_ends_the_errand_rejected_at_message_with_its_condition_rfc6120_8_3() {
        let (mut session, _) = bound_with(send_to_bob());
        session.receive(PING_RESULT);
        sent(&mut session);
        // An error for another message is not the bounce.
        session.receive(
            b"<message type='error' id='other'><error type='cancel'>\
              <item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
        );
        assert_eq!(session.end(), None);
        session.receive(
            b"<message type='error' id='errand-message' from='bob@remote.test'>\
              <error type='cancel'>\
              <remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
              <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no route to remote.test</text>\
              </error></message>",
        );
        let Some(SessionEnd::Rejected {
            step,
            condition,
            by,
            detail,
        }) = session.end()
        else {
            panic!("not rejected: {:?}", session.end());
        };
        assert_eq!(
            (*step, condition.as_str(), *by),
            (Step::Message, "remote-server-not-found", Side::Peer)
        );
        assert!(detail.contains("no route to remote.test"), "{detail}");
        assert!(detail.contains("bob@remote.test"), "{detail}");
        assert!(session.is_finished());
        assert_eq!(sent(&mut session), "</stream:stream>");
    }

    #[test]
    fn an_awaited_message_ends_the_session_only_with_the_right_body() {
        let (mut session, answer) = bound_with(Errand::AwaitMessage {
            body: "token-42".into(),
        });
        assert_eq!(answer, READY_AND_PING);
        session.receive(PING_RESULT);
        assert_eq!(sent(&mut session), "");
        assert!(session.is_ready());
        assert_eq!(session.waiting_for(), "the awaited message");
        session.receive(
            b"<message from='bob@remote.test/x' type='chat'><body>token-4</body></message>",
        );
        session.receive(b"<presence from='bob@remote.test/x'/>");
        session.receive(
            b"<message from='bob@remote.test/x' type='error'><body>token-42</body></message>",
        );
        assert_eq!(session.end(), None);
        assert_eq!(sent(&mut session), "");
        session.receive(
            b"<message from='bob@remote.test/x' type='chat'><body>token-42</body></message>",
        );
        assert_eq!(
            session.end(),
            Some(&SessionEnd::MessageReceived {
                from: "bob@remote.test/x".into()
            })
        );
        assert_eq!(sent(&mut session), "</stream:stream>");
    }

    #[test]
    fn server_requests_get_service_unavailable_rfc6120_8_4_and_pings_a_result_xep0199_4_2() {
        let (mut session, _) = bound_with(Errand::AwaitMessage {
            body: "token".into(),
        });
        session.receive(
            b"<iq type='get' id='s2c1' from='interop.test'><ping xmlns='urn:xmpp:ping'/></iq>",
        );
        assert_eq!(
            sent(&mut session),
            "<iq to='interop.test' id='s2c1' type='result'/>"
        );
        session.receive(
            b"<iq type='set' id='push1'><query xmlns='jabber:iq:roster'><item jid='bob@remote.test'/>\
              </query></iq>",
        );
        assert_eq!(
            sent(&mut session),
            "<iq id='push1' type='error'><error type='cancel'>\
             <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
        );
        assert_eq!(session.end(), None);
        assert!(!session.is_ready());
    }
}
