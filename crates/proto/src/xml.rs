//! The restricted-XML stream layer of RFC 6120 (§4, §11), sans-IO.
//!
//! [`StreamParser`] turns received bytes, split at any boundary, into [`StreamEvent`]s: the
//! stream header, each complete first-level element, and the stream close. It enforces the
//! XMPP restrictions on XML (§11.1: no DTD, comments, processing instructions or custom
//! entities), resolves namespaces itself, and bounds how much a peer can make us buffer
//! ([`Limits`]). [`Element`] and [`StreamHeader`] serialize what we send.

use std::borrow::Cow;
use std::fmt;

use quick_xml::escape::{EscapeError, unescape};
use quick_xml::events::attributes::Attributes;

/// The stream namespace (RFC 6120 §4.8.1), bound to the `stream` prefix in every header we send.
pub const NS_STREAM: &str = "http://etherx.jabber.org/streams";
/// The client content namespace (RFC 6120 §4.8.2).
pub const NS_CLIENT: &str = "jabber:client";
/// The namespace of stream error conditions and their text (RFC 6120 §4.9.2).
pub const NS_XMPP_STREAMS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// The namespace permanently bound to the `xml` prefix (Namespaces in XML §3).
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Closes a stream we opened (RFC 6120 §4.4).
pub const STREAM_CLOSE: &str = "</stream:stream>";

/// How many offending bytes an error keeps for the transcript.
const MAX_OFFENDING_BYTES: usize = 64;

/// An XML element with resolved namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// The local name (without prefix).
    pub name: String,
    /// The resolved namespace URI, `""` if the element is in no namespace.
    pub ns: String,
    /// Attributes with unescaped values, in document order. Unprefixed names are kept as-is,
    /// prefixed ones (such as `xml:lang`) as written; namespace declarations are not included.
    pub attrs: Vec<(String, String)>,
    /// Child elements and unescaped text, in document order.
    pub children: Vec<Node>,
}

/// A child of an [`Element`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Unescaped character data (text and CDATA sections merged).
    Text(String),
}

impl Element {
    /// An element without attributes or children.
    pub fn new(name: &str, ns: &str) -> Element {
        Element {
            name: name.to_owned(),
            ns: ns.to_owned(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Adds an attribute (builder style).
    pub fn with_attr(mut self, name: &str, value: &str) -> Element {
        self.attrs.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a child element (builder style).
    pub fn with_child(mut self, child: Element) -> Element {
        self.children.push(Node::Element(child));
        self
    }

    /// Adds a text child (builder style).
    pub fn with_text(mut self, text: &str) -> Element {
        self.children.push(Node::Text(text.to_owned()));
        self
    }

    /// The value of the attribute named exactly `name` (e.g. `"type"`, `"xml:lang"`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(attr_name, _)| attr_name == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether this element has local name `name` in namespace `ns`.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name == name && self.ns == ns
    }

    /// The first child element with local name `name` in namespace `ns`.
    pub fn child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.child_elements().find(|child| child.is(name, ns))
    }

    /// The child elements, skipping text.
    pub fn child_elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The concatenation of the direct text children.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|node| match node {
                Node::Text(text) => Some(text.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// Serializes with proper escaping; emits `xmlns='...'` on an element only when its ns differs from `parent_ns`.
    /// Elements in NS_STREAM serialize with the `stream:` prefix (e.g. `<stream:features>`, `<stream:error>`), relying on the stream header's xmlns:stream declaration.
    pub fn to_xml(&self, parent_ns: &str) -> String {
        let mut out = String::new();
        self.write_xml(parent_ns, &mut out);
        out
    }

    fn write_xml(&self, parent_ns: &str, out: &mut String) {
        let prefix = if self.ns == NS_STREAM {
            Some("stream")
        } else if self.ns == NS_DIALBACK_PREFIXED {
            Some("db")
        } else {
            None
        };
        let (tag, children_default_ns) = match prefix {
            Some(prefix) => (format!("{prefix}:{}", self.name), parent_ns),
            None => (self.name.clone(), self.ns.as_str()),
        };
        out.push('<');
        out.push_str(&tag);
        if prefix.is_none() && self.ns != parent_ns {
            push_attribute(out, "xmlns", &self.ns);
        }
        for (name, value) in &self.attrs {
            push_attribute(out, name, value);
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for child in &self.children {
            match child {
                Node::Element(element) => element.write_xml(children_default_ns, out),
                Node::Text(text) => push_escaped(out, text, false),
            }
        }
        out.push_str("</");
        out.push_str(&tag);
        out.push('>');
    }
}

/// Server dialback (XEP-0220): written as `db:` elements, with the prefix every
/// server-to-server stream header declares. In XML terms `<result xmlns='jabber:server:dialback'/>`
/// is the same element, but ejabberd 23.01 recognises only the prefixed form and ignores the
/// other silently, as the XEP's examples and every deployed server write it.
const NS_DIALBACK_PREFIXED: &str = "jabber:server:dialback";

/// Appends ` name='value'` with the value escaped.
fn push_attribute(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("='");
    push_escaped(out, value, true);
    out.push('\'');
}

/// Appends `text` escaped for character data or (if `in_attribute`) a quoted attribute value.
/// Carriage returns are always escaped, and tabs and newlines in attribute values, so that a
/// receiver's line-end and attribute-value normalization gives back exactly `text`.
fn push_escaped(out: &mut String, text: &str, in_attribute: bool) {
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\'' if in_attribute => out.push_str("&apos;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            other => out.push(other),
        }
    }
}

/// The attributes of an opening `<stream:stream>` tag (RFC 6120 §4.7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamHeader {
    /// The content namespace declared as default namespace, e.g. `jabber:client` (§4.8.2).
    pub default_ns: String,
    /// The `to` attribute (§4.7.2).
    pub to: Option<String>,
    /// The `from` attribute (§4.7.1).
    pub from: Option<String>,
    /// The stream `id` (§4.7.3).
    pub id: Option<String>,
    /// The `version` attribute, `1.0` for RFC 6120 streams (§4.7.5).
    pub version: Option<String>,
    /// The `xml:lang` attribute (§4.7.4).
    pub lang: Option<String>,
}

impl StreamHeader {
    /// `<?xml version='1.0'?><stream:stream xmlns='..' xmlns:stream='http://etherx.jabber.org/streams' to=.. from=.. id=.. version=.. xml:lang=..>` (only attributes that are Some; values escaped).
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version='1.0'?><stream:stream");
        push_attribute(&mut out, "xmlns", &self.default_ns);
        push_attribute(&mut out, "xmlns:stream", NS_STREAM);
        let optional = [
            ("to", &self.to),
            ("from", &self.from),
            ("id", &self.id),
            ("version", &self.version),
            ("xml:lang", &self.lang),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                push_attribute(&mut out, name, value);
            }
        }
        out.push('>');
        out
    }
}

/// What the peer's stream produced next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The opening `<stream:stream>` tag.
    Header(StreamHeader),
    /// A complete first-level child of the stream (stanza, features, nonza).
    Element(Element),
    /// The stream was closed with `</stream:stream>`.
    Closed,
}

/// How much a peer may make the parser buffer or nest.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most bytes one first-level element may take, from its `<` to its closing `>`.
    pub max_stanza_bytes: usize,
    /// The deepest nesting below the stream element; a first-level element is at depth 1.
    pub max_depth: usize,
    /// The most bytes from the start of the stream to the end of the `<stream:stream>` tag,
    /// XML declaration and whitespace included.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stanza_bytes: 65536,
            max_depth: 32,
            max_header_bytes: 4096,
        }
    }
}

/// A construct RFC 6120 §11.1 forbids in XMPP streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestrictedConstruct {
    /// A comment (`<!--`).
    Comment,
    /// A processing instruction other than the XML declaration at the very start (`<?`).
    ProcessingInstruction,
    /// A document type or other markup declaration (`<!DOCTYPE`, `<!ENTITY`, ...).
    MarkupDeclaration,
    /// A reference to an entity other than the five predefined ones (`&name;`).
    EntityReference,
}

impl fmt::Display for RestrictedConstruct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RestrictedConstruct::Comment => "comment",
            RestrictedConstruct::ProcessingInstruction => "processing instruction",
            RestrictedConstruct::MarkupDeclaration => "DTD or markup declaration",
            RestrictedConstruct::EntityReference => "reference to an undeclared entity",
        })
    }
}

/// What the peer did wrong on its XML stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The peer sent bytes that are not well-formed XML or violate Namespaces in XML.
    #[error("peer sent XML that is not well-formed ({reason}): `{}`", .offending.escape_ascii())]
    NotWellFormed {
        /// Which rule the bytes break.
        reason: &'static str,
        /// The offending bytes, truncated.
        offending: Vec<u8>,
    },
    /// The peer used XML that RFC 6120 §11.1 forbids.
    #[error("peer sent a {construct}, which RFC 6120 §11.1 forbids: `{}`", .offending.escape_ascii())]
    RestrictedXml {
        /// The forbidden construct.
        construct: RestrictedConstruct,
        /// The offending bytes, truncated.
        offending: Vec<u8>,
    },
    /// The peer sent a first-level element larger than [`Limits::max_stanza_bytes`].
    #[error("peer sent a stanza of at least {seen} bytes, over the limit of {limit}")]
    StanzaTooLarge {
        /// The limit in bytes.
        limit: usize,
        /// How many bytes of the element had arrived when the limit was exceeded.
        seen: usize,
    },
    /// The peer nested elements deeper than [`Limits::max_depth`].
    #[error("peer nested elements deeper than the limit of {limit}")]
    TooDeep {
        /// The depth limit.
        limit: usize,
    },
    /// The peer's stream header was larger than [`Limits::max_header_bytes`].
    #[error("peer sent a stream header of at least {seen} bytes, over the limit of {limit}")]
    HeaderTooLarge {
        /// The limit in bytes.
        limit: usize,
        /// How many header bytes had arrived when the limit was exceeded.
        seen: usize,
    },
    /// The peer's `stream` root element is not in the stream namespace (RFC 6120 §4.8.1).
    #[error("peer opened a stream in namespace `{namespace}` instead of `{NS_STREAM}`")]
    InvalidStreamNamespace {
        /// The namespace the peer's root element resolved to.
        namespace: String,
    },
    /// The peer's first element is not `<stream:stream>` (RFC 6120 §4.2).
    #[error("peer's first element is not a stream header: `{}`", .offending.escape_ascii())]
    NotAStreamHeader {
        /// The offending tag, truncated.
        offending: Vec<u8>,
    },
    /// The peer used a namespace prefix it never declared.
    #[error("peer used the undeclared namespace prefix `{prefix}`: `{}`", .offending.escape_ascii())]
    UnboundPrefix {
        /// The undeclared prefix.
        prefix: String,
        /// The offending tag, truncated.
        offending: Vec<u8>,
    },
    /// The peer sent non-whitespace character data directly inside the stream element.
    #[error("peer sent text at stream level: `{}`", .offending.escape_ascii())]
    TextAtStreamLevel {
        /// The offending text, truncated.
        offending: Vec<u8>,
    },
    /// The peer sent bytes that are not valid UTF-8 (RFC 6120 §11.6).
    #[error("peer sent invalid UTF-8: `{}`", .offending.escape_ascii())]
    InvalidUtf8 {
        /// The token containing the invalid bytes, truncated.
        offending: Vec<u8>,
    },
    /// The peer's XML declaration names an encoding other than UTF-8 (RFC 6120 §11.6).
    #[error("peer declared the encoding `{declared}` instead of UTF-8")]
    UnsupportedEncoding {
        /// The encoding the XML declaration names.
        declared: String,
    },
}

impl XmlError {
    /// The RFC 6120 §4.9.3 stream error condition to send: not-well-formed, restricted-xml, policy-violation (stanza too large, too deep, header too large), invalid-namespace, bad-format, unsupported-encoding (invalid UTF-8), ...
    pub fn stream_error_condition(&self) -> &'static str {
        match self {
            XmlError::NotWellFormed { .. } | XmlError::UnboundPrefix { .. } => "not-well-formed",
            XmlError::RestrictedXml { .. } => "restricted-xml",
            XmlError::StanzaTooLarge { .. }
            | XmlError::TooDeep { .. }
            | XmlError::HeaderTooLarge { .. } => "policy-violation",
            XmlError::InvalidStreamNamespace { .. } => "invalid-namespace",
            XmlError::NotAStreamHeader { .. } | XmlError::TextAtStreamLevel { .. } => "bad-format",
            XmlError::InvalidUtf8 { .. } | XmlError::UnsupportedEncoding { .. } => {
                "unsupported-encoding"
            }
        }
    }

    /// The offending bytes the peer sent (for the transcript), if any.
    pub fn offending_bytes(&self) -> Option<&[u8]> {
        match self {
            XmlError::NotWellFormed { offending, .. }
            | XmlError::RestrictedXml { offending, .. }
            | XmlError::NotAStreamHeader { offending }
            | XmlError::UnboundPrefix { offending, .. }
            | XmlError::TextAtStreamLevel { offending }
            | XmlError::InvalidUtf8 { offending } => Some(offending),
            XmlError::StanzaTooLarge { .. }
            | XmlError::TooDeep { .. }
            | XmlError::HeaderTooLarge { .. }
            | XmlError::InvalidStreamNamespace { .. }
            | XmlError::UnsupportedEncoding { .. } => None,
        }
    }
}

/// The first [`MAX_OFFENDING_BYTES`] of `bytes`, for an error.
fn offending(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().take(MAX_OFFENDING_BYTES).copied().collect()
}

fn not_well_formed(reason: &'static str, bytes: &[u8]) -> XmlError {
    XmlError::NotWellFormed {
        reason,
        offending: offending(bytes),
    }
}

fn restricted(construct: RestrictedConstruct, bytes: &[u8]) -> XmlError {
    XmlError::RestrictedXml {
        construct,
        offending: offending(bytes),
    }
}

/// Builds `<stream:error><COND xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>TEXT</text></stream:error>` as an Element (ns NS_STREAM).
pub fn stream_error(condition: &str, text: Option<&str>) -> Element {
    let error =
        Element::new("error", NS_STREAM).with_child(Element::new(condition, NS_XMPP_STREAMS));
    match text {
        Some(text) => error.with_child(Element::new("text", NS_XMPP_STREAMS).with_text(text)),
        None => error,
    }
}

/// Reads a received <stream:error>: (condition, optional text).
///
/// The condition is the first child in [`NS_XMPP_STREAMS`] other than `<text/>`, or an empty
/// string if the peer sent none.
pub fn parse_stream_error(element: &Element) -> (String, Option<String>) {
    let condition = element
        .child_elements()
        .find(|child| child.ns == NS_XMPP_STREAMS && child.name != "text")
        .map(|child| child.name.clone())
        .unwrap_or_default();
    let text = element.child("text", NS_XMPP_STREAMS).map(Element::text);
    (condition, text)
}

/// Where the parser is in the peer's XML document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DocumentState {
    /// Before the `<stream:stream>` tag: XML declaration and whitespace allowed.
    BeforeHeader,
    /// Inside the stream element.
    InStream,
    /// After `</stream:stream>`: only whitespace allowed.
    Closed,
}

/// A complete markup or text token at the front of the unparsed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    /// `<?xml ...?>` at the very start of the document.
    XmlDeclaration,
    /// `<name ...>` or, if `self_closing`, `<name .../>`.
    StartTag { self_closing: bool },
    /// `</name>`.
    EndTag,
    /// `<![CDATA[...]]>`.
    CData,
    /// Character data up to the next `<`.
    Text,
}

/// An element whose end tag has not arrived yet.
struct OpenElement {
    element: Element,
    /// The tag name as written, which the end tag must repeat.
    qualified_name: String,
    /// Namespace declarations on this element: (prefix, URI), prefix `""` for the default.
    declarations: Vec<(String, String)>,
}

/// A start tag split into its parts, values unescaped, before namespace resolution.
struct ParsedStartTag {
    qualified_name: String,
    declarations: Vec<(String, String)>,
    attributes: Vec<(String, String)>,
}

/// What one parsing step achieved.
enum Step {
    Event(StreamEvent),
    Progress,
    NeedMoreBytes,
}

/// Turns received bytes into [`StreamEvent`]s; see the module documentation.
pub struct StreamParser {
    limits: Limits,
    /// Received bytes; those before `consumed` have been parsed.
    buffer: Vec<u8>,
    consumed: usize,
    /// How far past `consumed` the scan for the end of the current token has looked.
    scanned: usize,
    /// The quote character of the attribute value the scan is inside, if any.
    open_quote: Option<u8>,
    state: DocumentState,
    open_elements: Vec<OpenElement>,
    /// The stream header's namespace declarations, the root of every lookup.
    root_declarations: Vec<(String, String)>,
    /// The header's tag name as written, which the closing tag must repeat.
    stream_qualified_name: String,
    /// Bytes of the document before the end of the header tag that have been parsed.
    header_bytes: usize,
    /// Bytes of the current first-level element that have been parsed.
    stanza_bytes: usize,
    /// Bytes other than XML whitespace parsed since the last event was returned.
    undelivered_bytes: usize,
    /// A self-closing stream header also closes the stream.
    close_pending: bool,
    /// After a restart: the tag name of the replaced stream, whose closing tag the peer may
    /// still send instead of a new header (e.g. a client ending the session after `<success/>`).
    replaced_stream_name: Option<String>,
    failure: Option<XmlError>,
}

impl StreamParser {
    /// A parser expecting a stream header.
    pub fn new(limits: Limits) -> StreamParser {
        StreamParser {
            limits,
            buffer: Vec::new(),
            consumed: 0,
            scanned: 0,
            open_quote: None,
            state: DocumentState::BeforeHeader,
            open_elements: Vec::new(),
            root_declarations: Vec::new(),
            stream_qualified_name: String::new(),
            header_bytes: 0,
            stanza_bytes: 0,
            undelivered_bytes: 0,
            close_pending: false,
            replaced_stream_name: None,
            failure: None,
        }
    }

    /// Appends received bytes (any split: a single byte, half a UTF-8 char, half a tag).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.consumed == self.buffer.len() {
            self.buffer.clear();
            self.consumed = 0;
        } else if self.consumed > self.buffer.len() / 2 {
            self.buffer.drain(..self.consumed);
            self.consumed = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete event, Ok(None) if more bytes are needed. After an Err the parser stays failed (returns the same kind of error again or a "parser failed" error).
    pub fn next_event(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        loop {
            if self.close_pending {
                self.close_pending = false;
                return Ok(Some(self.deliver(StreamEvent::Closed)));
            }
            match self.step() {
                Ok(Step::Event(event)) => return Ok(Some(self.deliver(event))),
                Ok(Step::Progress) => {}
                Ok(Step::NeedMoreBytes) => return Ok(None),
                Err(error) => {
                    self.failure = Some(error.clone());
                    return Err(error);
                }
            }
        }
    }

    /// Stream restart (after STARTTLS or SASL success, RFC 6120 §5.4.3.3, §6.4.6): expect a new header. Returns the number of buffered unparsed bytes that were discarded (a nonzero count after `<proceed/>` is a STARTTLS command-injection attempt, which the caller reports).
    ///
    /// The count is every byte received after the last returned event except XML whitespace,
    /// which a peer may send between elements (a newline after `<starttls/>` is harmless, as
    /// are keepalives, RFC 6120 §4.6.1). Restarting also clears a failure: the new stream is a
    /// new XML document.
    pub fn restart(&mut self) -> usize {
        let pending = self
            .pending()
            .iter()
            .filter(|b| !is_xml_whitespace(**b))
            .count();
        let discarded = self.undelivered_bytes + pending;
        let replaced = std::mem::take(&mut self.stream_qualified_name);
        *self = StreamParser::new(self.limits);
        self.replaced_stream_name = Some(replaced).filter(|name| !name.is_empty());
        discarded
    }

    fn deliver(&mut self, event: StreamEvent) -> StreamEvent {
        self.undelivered_bytes = 0;
        event
    }

    fn pending(&self) -> &[u8] {
        self.buffer.get(self.consumed..).unwrap_or_default()
    }

    /// The pending bytes a token scan may look at: no more than one byte past what the header
    /// or stanza limit still allows. A token that does not end within them is too large
    /// whatever follows, so a malformation beyond the limit is never reported instead of the
    /// limit, and the verdict does not depend on how the bytes were split into reads.
    fn scan_window(&self) -> &[u8] {
        let pending = self.pending();
        let budget = match self.state {
            DocumentState::BeforeHeader => {
                self.limits.max_header_bytes.checked_sub(self.header_bytes)
            }
            DocumentState::InStream => self.limits.max_stanza_bytes.checked_sub(self.stanza_bytes),
            DocumentState::Closed => None,
        };
        match budget {
            Some(budget) => pending.get(..budget.saturating_add(1)).unwrap_or(pending),
            None if self.state == DocumentState::Closed => pending,
            None => pending.get(..1).unwrap_or(pending),
        }
    }

    /// Marks `length` bytes as parsed and starts scanning the next token.
    fn consume(&mut self, length: usize) {
        let parsed = self
            .buffer
            .get(self.consumed..self.consumed + length)
            .unwrap_or_default();
        self.undelivered_bytes += parsed.iter().filter(|b| !is_xml_whitespace(**b)).count();
        self.consumed += length;
        self.scanned = 0;
        self.open_quote = None;
    }

    fn step(&mut self) -> Result<Step, XmlError> {
        let at_element_content =
            self.state == DocumentState::InStream && !self.open_elements.is_empty();
        if !at_element_content && self.skip_whitespace()? {
            return Ok(Step::NeedMoreBytes);
        }
        let Some((kind, length)) = self.scan_token()? else {
            self.check_pending_within_limits()?;
            return Ok(Step::NeedMoreBytes);
        };
        self.check_token_within_limits(length)?;
        let token = self.pending().get(..length).unwrap_or_default().to_vec();
        self.consume(length);
        match self.state {
            DocumentState::BeforeHeader => {
                self.header_bytes += length;
                self.header_token(kind, &token)
            }
            DocumentState::InStream => {
                self.stanza_bytes += length;
                self.stream_token(kind, &token)
            }
            DocumentState::Closed => {
                Err(not_well_formed("data after the stream was closed", &token))
            }
        }
    }

    /// Consumes whitespace at document or stream level. Returns whether the buffer ran out;
    /// fails on anything but whitespace or `<`.
    fn skip_whitespace(&mut self) -> Result<bool, XmlError> {
        let pending = self.pending();
        let whitespace = pending
            .iter()
            .take_while(|byte| is_xml_whitespace(**byte))
            .count();
        let rest = pending.get(whitespace..).unwrap_or_default();
        let ran_out = rest.is_empty();
        let error = match (rest.first(), self.state) {
            (None, _) => None,
            (Some(_), DocumentState::Closed) => {
                Some(not_well_formed("data after the stream was closed", rest))
            }
            (Some(b'<'), _) => None,
            (Some(_), DocumentState::InStream) => Some(XmlError::TextAtStreamLevel {
                offending: offending(rest),
            }),
            (Some(_), DocumentState::BeforeHeader) => {
                Some(not_well_formed("data before the stream header", rest))
            }
        };
        if let Some(error) = error {
            return Err(error);
        }
        if whitespace > 0 {
            self.consume(whitespace);
            if self.state == DocumentState::BeforeHeader {
                self.header_bytes += whitespace;
            }
        }
        Ok(ran_out)
    }

    /// Finds the complete token at the front of the pending bytes, `None` if it is incomplete.
    /// Fails as soon as the token is recognisably forbidden or malformed.
    fn scan_token(&mut self) -> Result<Option<(TokenKind, usize)>, XmlError> {
        let pending = self.scan_window();
        let Some(&first) = pending.first() else {
            return Ok(None);
        };
        if first != b'<' {
            return Ok(self.scan_until(b"<", 0).map(|end| (TokenKind::Text, end)));
        }
        let Some(&second) = pending.get(1) else {
            return Ok(None);
        };
        match second {
            b'?' => self.scan_processing_instruction(),
            b'!' => self.scan_markup_declaration(),
            b'/' => Ok(self.scan_tag()?.map(|length| (TokenKind::EndTag, length))),
            _ => {
                let Some(length) = self.scan_tag()? else {
                    return Ok(None);
                };
                let self_closing = self.scan_window().get(length.saturating_sub(2)) == Some(&b'/');
                Ok(Some((TokenKind::StartTag { self_closing }, length)))
            }
        }
    }

    fn at_document_start(&self) -> bool {
        self.state == DocumentState::BeforeHeader && self.header_bytes == 0
    }

    /// `<?`: only the XML declaration at the very start of the document is allowed.
    fn scan_processing_instruction(&mut self) -> Result<Option<(TokenKind, usize)>, XmlError> {
        let pending = self.scan_window();
        if !self.at_document_start() {
            return Err(restricted(
                RestrictedConstruct::ProcessingInstruction,
                pending,
            ));
        }
        let Some(target) = pending.get(..6) else {
            return if b"<?xml".starts_with(pending) || pending.starts_with(b"<?xml") {
                Ok(None)
            } else {
                Err(restricted(
                    RestrictedConstruct::ProcessingInstruction,
                    pending,
                ))
            };
        };
        if target.starts_with(b"<?xml") && target.last().copied().is_some_and(is_xml_whitespace) {
            Ok(self
                .scan_until(b"?>", 6)
                .map(|end| (TokenKind::XmlDeclaration, end + 2)))
        } else {
            Err(restricted(
                RestrictedConstruct::ProcessingInstruction,
                pending,
            ))
        }
    }

    /// `<!`: a CDATA section is allowed; comments and declarations are restricted XML.
    fn scan_markup_declaration(&mut self) -> Result<Option<(TokenKind, usize)>, XmlError> {
        const CDATA_OPEN: &[u8] = b"<![CDATA[";
        let pending = self.scan_window();
        let Some(&third) = pending.get(2) else {
            return Ok(None);
        };
        match third {
            b'-' => Err(restricted(RestrictedConstruct::Comment, pending)),
            b'A'..=b'Z' => Err(restricted(RestrictedConstruct::MarkupDeclaration, pending)),
            b'[' if pending.len() < CDATA_OPEN.len() && CDATA_OPEN.starts_with(pending) => Ok(None),
            b'[' if pending.starts_with(CDATA_OPEN) => Ok(self
                .scan_until(b"]]>", CDATA_OPEN.len())
                .map(|end| (TokenKind::CData, end + 3))),
            _ => Err(not_well_formed(
                "`<!` that starts neither CDATA nor a declaration",
                pending,
            )),
        }
    }

    /// Finds the `>` closing a start or end tag, skipping quoted attribute values.
    /// Returns the tag's length.
    fn scan_tag(&mut self) -> Result<Option<usize>, XmlError> {
        let start = self.scanned.max(1);
        let mut open_quote = self.open_quote;
        let mut found = None;
        let pending = self.scan_window();
        for (offset, &byte) in pending.iter().enumerate().skip(start) {
            match (open_quote, byte) {
                (_, b'<') => return Err(not_well_formed("`<` inside a tag", pending)),
                (Some(quote), _) if byte == quote => open_quote = None,
                (Some(_), _) => {}
                (None, b'\'' | b'"') => open_quote = Some(byte),
                (None, b'>') => {
                    found = Some(offset + 1);
                    break;
                }
                (None, _) => {}
            }
        }
        self.scanned = pending.len();
        self.open_quote = open_quote;
        Ok(found)
    }

    /// Finds `terminator` at or after `from` in the pending bytes, resuming where the
    /// previous scan stopped. Returns the terminator's offset.
    fn scan_until(&mut self, terminator: &[u8], from: usize) -> Option<usize> {
        let pending = self.scan_window();
        let start = self.scanned.saturating_sub(terminator.len() - 1).max(from);
        let found = pending
            .get(start..)
            .and_then(|rest| {
                rest.windows(terminator.len())
                    .position(|window| window == terminator)
            })
            .map(|position| start + position);
        self.scanned = pending.len();
        found
    }

    /// Fails if the incomplete token already exceeds the limit that applies to it.
    fn check_pending_within_limits(&self) -> Result<(), XmlError> {
        self.check_token_within_limits(self.pending().len())
    }

    /// Fails if `length` more bytes would exceed the header or stanza limit.
    fn check_token_within_limits(&self, length: usize) -> Result<(), XmlError> {
        match self.state {
            DocumentState::BeforeHeader => {
                let seen = self.header_bytes + length;
                if seen > self.limits.max_header_bytes {
                    return Err(XmlError::HeaderTooLarge {
                        limit: self.limits.max_header_bytes,
                        seen,
                    });
                }
            }
            DocumentState::InStream => {
                let seen = self.stanza_bytes + length;
                if seen > self.limits.max_stanza_bytes {
                    return Err(XmlError::StanzaTooLarge {
                        limit: self.limits.max_stanza_bytes,
                        seen,
                    });
                }
            }
            DocumentState::Closed => {}
        }
        Ok(())
    }

    fn header_token(&mut self, kind: TokenKind, token: &[u8]) -> Result<Step, XmlError> {
        match kind {
            TokenKind::XmlDeclaration => {
                check_xml_declaration(token)?;
                Ok(Step::Progress)
            }
            TokenKind::StartTag { self_closing } => {
                let header = self.stream_header(token)?;
                self.state = DocumentState::InStream;
                self.close_pending = self_closing;
                Ok(Step::Event(StreamEvent::Header(header)))
            }
            TokenKind::EndTag if self.closes_replaced_stream(token) => {
                self.state = DocumentState::Closed;
                Ok(Step::Event(StreamEvent::Closed))
            }
            TokenKind::EndTag | TokenKind::CData | TokenKind::Text => {
                Err(not_well_formed("content before the stream header", token))
            }
        }
    }

    /// Whether `token` is the closing tag of the stream a restart replaced.
    fn closes_replaced_stream(&self, token: &[u8]) -> bool {
        match (&self.replaced_stream_name, parse_end_tag(token)) {
            (Some(replaced), Ok(name)) => name == *replaced,
            _ => false,
        }
    }

    fn stream_header(&mut self, token: &[u8]) -> Result<StreamHeader, XmlError> {
        let tag = parse_start_tag(token)?;
        let (prefix, local_name) = split_qualified_name(&tag.qualified_name);
        let namespace = resolve_prefix(prefix, [tag.declarations.as_slice()], token)?;
        if namespace != NS_STREAM {
            return Err(XmlError::InvalidStreamNamespace { namespace });
        }
        if local_name != "stream" {
            return Err(XmlError::NotAStreamHeader {
                offending: offending(token),
            });
        }
        for (attribute_name, _) in &tag.attributes {
            if let (Some(attribute_prefix), _) = split_qualified_name(attribute_name) {
                resolve_prefix(Some(attribute_prefix), [tag.declarations.as_slice()], token)?;
            }
        }
        let default_ns = tag
            .declarations
            .iter()
            .find(|(prefix, _)| prefix.is_empty())
            .map(|(_, uri)| uri.clone())
            .unwrap_or_default();
        let attribute = |name: &str| {
            tag.attributes
                .iter()
                .find(|(attribute_name, _)| attribute_name == name)
                .map(|(_, value)| value.clone())
        };
        let header = StreamHeader {
            default_ns,
            to: attribute("to"),
            from: attribute("from"),
            id: attribute("id"),
            version: attribute("version"),
            lang: attribute("xml:lang"),
        };
        self.stream_qualified_name = tag.qualified_name;
        self.root_declarations = tag.declarations;
        Ok(header)
    }

    fn stream_token(&mut self, kind: TokenKind, token: &[u8]) -> Result<Step, XmlError> {
        match kind {
            TokenKind::XmlDeclaration => Err(restricted(
                RestrictedConstruct::ProcessingInstruction,
                token,
            )),
            TokenKind::StartTag { self_closing } => self.start_tag(token, self_closing),
            TokenKind::EndTag => self.end_tag(token),
            TokenKind::CData => {
                let inner = token
                    .get(b"<![CDATA[".len()..token.len().saturating_sub(3))
                    .unwrap_or_default();
                let text = normalize_line_endings(utf8(inner, token)?);
                check_xml_chars(&text, token)?;
                self.add_text(&text, token)
            }
            TokenKind::Text => {
                let raw = utf8(token, token)?;
                if raw.contains("]]>") {
                    return Err(not_well_formed("`]]>` in text", token));
                }
                let text = unescape_checked(&normalize_line_endings(raw), token)?;
                self.add_text(&text, token)
            }
        }
    }

    fn add_text(&mut self, text: &str, token: &[u8]) -> Result<Step, XmlError> {
        let Some(parent) = self.open_elements.last_mut() else {
            if text.bytes().all(is_xml_whitespace) {
                self.stanza_bytes = 0;
                return Ok(Step::Progress);
            }
            return Err(XmlError::TextAtStreamLevel {
                offending: offending(token),
            });
        };
        match parent.element.children.last_mut() {
            Some(Node::Text(previous)) => previous.push_str(text),
            _ => parent.element.children.push(Node::Text(text.to_owned())),
        }
        Ok(Step::Progress)
    }

    fn start_tag(&mut self, token: &[u8], self_closing: bool) -> Result<Step, XmlError> {
        if self.open_elements.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let tag = parse_start_tag(token)?;
        let scopes = || {
            std::iter::once(tag.declarations.as_slice())
                .chain(
                    self.open_elements
                        .iter()
                        .rev()
                        .map(|open| open.declarations.as_slice()),
                )
                .chain(std::iter::once(self.root_declarations.as_slice()))
        };
        let (prefix, local_name) = split_qualified_name(&tag.qualified_name);
        let ns = resolve_prefix(prefix, scopes(), token)?;
        for (attribute_name, _) in &tag.attributes {
            if let (Some(attribute_prefix), _) = split_qualified_name(attribute_name) {
                resolve_prefix(Some(attribute_prefix), scopes(), token)?;
            }
        }
        let element = Element {
            name: local_name.to_owned(),
            ns,
            attrs: tag.attributes,
            children: Vec::new(),
        };
        if self_closing {
            return Ok(self.close_element(element));
        }
        self.open_elements.push(OpenElement {
            element,
            qualified_name: tag.qualified_name,
            declarations: tag.declarations,
        });
        Ok(Step::Progress)
    }

    fn end_tag(&mut self, token: &[u8]) -> Result<Step, XmlError> {
        let name = parse_end_tag(token)?;
        match self.open_elements.pop() {
            Some(open) if open.qualified_name == name => Ok(self.close_element(open.element)),
            None if name == self.stream_qualified_name => {
                self.state = DocumentState::Closed;
                self.stanza_bytes = 0;
                Ok(Step::Event(StreamEvent::Closed))
            }
            _ => Err(not_well_formed(
                "end tag does not match the open element",
                token,
            )),
        }
    }

    /// Attaches a completed element to its parent, or returns it if it is first-level.
    fn close_element(&mut self, element: Element) -> Step {
        match self.open_elements.last_mut() {
            Some(parent) => {
                parent.element.children.push(Node::Element(element));
                Step::Progress
            }
            None => {
                self.stanza_bytes = 0;
                Step::Event(StreamEvent::Element(element))
            }
        }
    }
}

/// XML `S`: space, tab, carriage return, line feed.
fn is_xml_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn utf8<'a>(bytes: &'a [u8], token: &[u8]) -> Result<&'a str, XmlError> {
    std::str::from_utf8(bytes).map_err(|_| XmlError::InvalidUtf8 {
        offending: offending(token),
    })
}

/// XML 1.0 §2.11: `\r\n` and lone `\r` become `\n`.
fn normalize_line_endings(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// XML 1.0 §2.2 `Char`: fails on control characters and U+FFFE/U+FFFF, raw or referenced.
fn check_xml_chars(text: &str, token: &[u8]) -> Result<(), XmlError> {
    let forbidden = |character: char| {
        (character < ' ' && !matches!(character, '\t' | '\n' | '\r'))
            || matches!(character, '\u{FFFE}' | '\u{FFFF}')
    };
    if text.chars().any(forbidden) {
        return Err(not_well_formed("character not allowed in XML", token));
    }
    Ok(())
}

/// Resolves the predefined entities and character references; any other entity is
/// restricted XML (RFC 6120 §11.1).
fn unescape_checked(raw: &str, token: &[u8]) -> Result<String, XmlError> {
    match unescape(raw) {
        Ok(text) => {
            check_xml_chars(&text, token)?;
            Ok(text.into_owned())
        }
        Err(EscapeError::UnrecognizedEntity(_, name)) if is_xml_name(&name) => {
            Err(restricted(RestrictedConstruct::EntityReference, token))
        }
        Err(_) => Err(not_well_formed(
            "malformed entity or character reference",
            token,
        )),
    }
}

/// XML 1.0 `Name`, restricted to what XMPP needs: ASCII letters, digits, `_`, `-`, `.`, `:`
/// and any non-ASCII character; not starting with a digit, `-` or `.`.
fn is_xml_name(name: &str) -> bool {
    let mut characters = name.chars();
    let Some(first) = characters.next() else {
        return false;
    };
    let is_name_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii();
    is_name_start(first)
        && characters.all(|c| is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

/// A name that is also a valid Namespaces in XML `QName`: at most one colon, not at either end.
fn is_qualified_name(name: &str) -> bool {
    is_xml_name(name)
        && match name.split_once(':') {
            None => true,
            Some((prefix, local)) => {
                !prefix.is_empty() && !local.is_empty() && !local.contains(':')
            }
        }
}

/// `prefix:local` into (Some(prefix), local); `local` into (None, local).
fn split_qualified_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name),
    }
}

/// The namespace `prefix` (None for the default namespace) is bound to in the innermost of
/// `scopes` declaring it. The default namespace is `""` if undeclared; `xml` is predeclared.
fn resolve_prefix<'a>(
    prefix: Option<&str>,
    scopes: impl IntoIterator<Item = &'a [(String, String)]>,
    token: &[u8],
) -> Result<String, XmlError> {
    let wanted = prefix.unwrap_or("");
    let declared = scopes
        .into_iter()
        .flat_map(|declarations| declarations.iter())
        .find(|(declared_prefix, _)| declared_prefix == wanted)
        .map(|(_, uri)| uri.clone());
    match (declared, prefix) {
        (Some(uri), _) => Ok(uri),
        (None, None) => Ok(String::new()),
        (None, Some("xml")) => Ok(NS_XML.to_owned()),
        (None, Some(prefix)) => Err(XmlError::UnboundPrefix {
            prefix: prefix.to_owned(),
            offending: offending(token),
        }),
    }
}

/// Splits a complete `<name attr='value' ...>` or `<name .../>` token.
fn parse_start_tag(token: &[u8]) -> Result<ParsedStartTag, XmlError> {
    let text = utf8(token, token)?;
    let inner = text
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .map(|rest| rest.strip_suffix('/').unwrap_or(rest))
        .unwrap_or_default();
    let name_length = inner
        .find(|c: char| c.is_ascii() && is_xml_whitespace(c as u8))
        .unwrap_or(inner.len());
    let qualified_name = inner.get(..name_length).unwrap_or_default();
    if !is_qualified_name(qualified_name) {
        return Err(not_well_formed("invalid element name", token));
    }
    let mut tag = ParsedStartTag {
        qualified_name: qualified_name.to_owned(),
        declarations: Vec::new(),
        attributes: Vec::new(),
    };
    for attribute in Attributes::new(inner, name_length) {
        let attribute = attribute.map_err(|_| not_well_formed("malformed attribute", token))?;
        let name = utf8(attribute.key.as_ref(), token)?;
        if !is_qualified_name(name) {
            return Err(not_well_formed("invalid attribute name", token));
        }
        let raw_value = utf8(&attribute.value, token)?;
        if raw_value.contains('<') {
            return Err(not_well_formed("`<` in an attribute value", token));
        }
        let value = unescape_checked(&normalize_attribute_whitespace(raw_value), token)?;
        match split_qualified_name(name) {
            (None, "xmlns") => tag.declarations.push((String::new(), value)),
            (Some("xmlns"), prefix) => {
                if value.is_empty() || prefix == "xmlns" || (prefix == "xml") != (value == NS_XML) {
                    return Err(not_well_formed("invalid namespace declaration", token));
                }
                tag.declarations.push((prefix.to_owned(), value));
            }
            _ => tag.attributes.push((name.to_owned(), value)),
        }
    }
    Ok(tag)
}

/// XML 1.0 §3.3.3: literal line ends, tabs and newlines in attribute values become spaces
/// (before references are resolved, so `&#10;` survives).
fn normalize_attribute_whitespace(raw: &str) -> String {
    normalize_line_endings(raw).replace(['\t', '\n'], " ")
}

/// The name in a complete `</name>` token.
fn parse_end_tag(token: &[u8]) -> Result<&str, XmlError> {
    let text = utf8(token, token)?;
    let name = text
        .strip_prefix("</")
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or_default()
        .trim_end_matches(|c: char| c.is_ascii() && is_xml_whitespace(c as u8));
    if !is_qualified_name(name) {
        return Err(not_well_formed("invalid end tag", token));
    }
    Ok(name)
}

/// Checks `<?xml version='1.0' encoding='...' standalone='...'?>` (RFC 6120 §11.5, §11.6).
fn check_xml_declaration(token: &[u8]) -> Result<(), XmlError> {
    let text = utf8(token, token)?;
    let inner = text
        .strip_prefix("<?")
        .and_then(|rest| rest.strip_suffix("?>"))
        .unwrap_or_default();
    let mut has_version = false;
    for attribute in Attributes::new(inner, "xml".len()) {
        let attribute =
            attribute.map_err(|_| not_well_formed("malformed XML declaration", token))?;
        let value = utf8(&attribute.value, token)?;
        match attribute.key.as_ref() {
            b"version" if value == "1.0" => has_version = true,
            b"encoding" if value.eq_ignore_ascii_case("UTF-8") => {}
            b"encoding" => {
                return Err(XmlError::UnsupportedEncoding {
                    declared: value.to_owned(),
                });
            }
            b"standalone" => {}
            _ => return Err(not_well_formed("invalid XML declaration", token)),
        }
    }
    if !has_version {
        return Err(not_well_formed(
            "XML declaration without version 1.0",
            token,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
    const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

    const SERVER_STREAM: &str = "<?xml version='1.0' encoding='UTF-8'?>\
        <stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
        id='s1&amp;2' from='example.com' version='1.0' xml:lang='en'>\n\
        <stream:features>\
        <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
        <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
        <mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>\
        </mechanisms></stream:features> \n\t\
        <proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

    /// Feeds `chunks` one at a time, draining events after each; stops at the first error.
    fn parse_chunks<'a>(
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Vec<StreamEvent>, Option<XmlError>) {
        let mut parser = StreamParser::new(Limits::default());
        let mut events = Vec::new();
        for chunk in chunks {
            parser.feed(chunk);
            loop {
                match parser.next_event() {
                    Ok(Some(event)) => events.push(event),
                    Ok(None) => break,
                    Err(error) => return (events, Some(error)),
                }
            }
        }
        (events, None)
    }

    fn parse_whole(input: &[u8]) -> (Vec<StreamEvent>, Option<XmlError>) {
        parse_chunks([input])
    }

    fn parse_error(input: &[u8]) -> XmlError {
        match parse_whole(input) {
            (_, Some(error)) => error,
            (events, None) => panic!("expected an error, got {events:?}"),
        }
    }

    /// Parses `xml` as the only first-level element of a client stream.
    fn parse_element(xml: &str) -> Element {
        let input = format!("{}{xml}", header_xml());
        match parse_whole(input.as_bytes()) {
            (events, None) => match events.as_slice() {
                [StreamEvent::Header(_), StreamEvent::Element(element)] => element.clone(),
                other => panic!("unexpected events {other:?}"),
            },
            (_, Some(error)) => panic!("unexpected error {error}"),
        }
    }

    fn header_xml() -> String {
        StreamHeader {
            default_ns: NS_CLIENT.to_owned(),
            to: Some("example.com".to_owned()),
            version: Some("1.0".to_owned()),
            ..StreamHeader::default()
        }
        .to_xml()
    }

    fn expected_server_events() -> Vec<StreamEvent> {
        let features = Element::new("features", NS_STREAM)
            .with_child(
                Element::new("starttls", NS_TLS).with_child(Element::new("required", NS_TLS)),
            )
            .with_child(
                Element::new("mechanisms", NS_SASL)
                    .with_child(Element::new("mechanism", NS_SASL).with_text("SCRAM-SHA-1"))
                    .with_child(Element::new("mechanism", NS_SASL).with_text("PLAIN")),
            );
        vec![
            StreamEvent::Header(StreamHeader {
                default_ns: NS_CLIENT.to_owned(),
                to: None,
                from: Some("example.com".to_owned()),
                id: Some("s1&2".to_owned()),
                version: Some("1.0".to_owned()),
                lang: Some("en".to_owned()),
            }),
            StreamEvent::Element(features),
            StreamEvent::Element(Element::new("proceed", NS_TLS)),
        ]
    }

    #[test]
    fn server_stream_with_features_and_proceed_parses_rfc6120_4_7_and_5_4() {
        assert_eq!(
            parse_whole(SERVER_STREAM.as_bytes()),
            (expected_server_events(), None)
        );
    }

    #[test]
    fn server_stream_parses_identically_fed_byte_by_byte() {
        let input = SERVER_STREAM.as_bytes();
        assert_eq!(
            parse_chunks(input.chunks(1)),
            (expected_server_events(), None)
        );
    }

    #[test]
    fn server_stream_parses_identically_split_at_every_point() {
        let input = SERVER_STREAM.as_bytes();
        for split in 0..=input.len() {
            let (first, second) = input.split_at(split);
            assert_eq!(
                parse_chunks([first, second]),
                (expected_server_events(), None),
                "split at {split}"
            );
        }
    }

    #[test]
    fn multibyte_utf8_split_mid_character_is_reassembled() {
        let stanza = "<message to='日本@example.com'><body>café 日本</body></message>";
        let input = format!("{}{stanza}", header_xml());
        let expected = parse_whole(input.as_bytes());
        assert!(expected.1.is_none());
        let body = match &expected.0[1] {
            StreamEvent::Element(message) => {
                assert_eq!(message.attr("to"), Some("日本@example.com"));
                message.child("body", NS_CLIENT).unwrap().text()
            }
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(body, "café 日本");
        for split in 0..=input.len() {
            let (first, second) = input.as_bytes().split_at(split);
            assert_eq!(parse_chunks([first, second]), expected, "split at {split}");
        }
        assert_eq!(parse_chunks(input.as_bytes().chunks(1)), expected);
    }

    #[test]
    fn attribute_values_may_contain_gt_and_the_other_quote() {
        let element = parse_element(r#"<x a='1>2' b="it's" c='say "hi"' d="a>b"/>"#);
        assert_eq!(element.attr("a"), Some("1>2"));
        assert_eq!(element.attr("b"), Some("it's"));
        assert_eq!(element.attr("c"), Some("say \"hi\""));
        assert_eq!(element.attr("d"), Some("a>b"));
    }

    #[test]
    fn attribute_with_gt_parses_at_every_split_point() {
        let input = format!("{}<x a='>' b=\"'>\"/>", header_xml());
        let expected = parse_whole(input.as_bytes());
        assert_eq!(expected.0.len(), 2);
        for split in 0..=input.len() {
            let (first, second) = input.as_bytes().split_at(split);
            assert_eq!(parse_chunks([first, second]), expected, "split at {split}");
        }
    }

    #[test]
    fn escaped_text_and_attributes_round_trip_through_to_xml() {
        let original = Element::new("message", NS_CLIENT)
            .with_attr("to", "a'b\"c<d>&e\tf\ng\rh")
            .with_child(Element::new("body", NS_CLIENT).with_text("<b>&amp; ]]> 'q' \"d\"\r\n x"));
        let xml = original.to_xml(NS_CLIENT);
        assert!(!xml.contains("xmlns"), "{xml}");
        assert_eq!(parse_element(&xml), original);
    }

    #[test]
    fn character_references_and_predefined_entities_are_resolved() {
        let element = parse_element(
            "<body a='&#x41;&#66;&lt;'>&amp;&lt;&gt;&quot;&apos;&#233;&#x65E5;</body>",
        );
        assert_eq!(element.attr("a"), Some("AB<"));
        assert_eq!(element.text(), "&<>\"'é日");
    }

    #[test]
    fn cdata_section_is_text() {
        let element = parse_element("<body>a<![CDATA[<not> &markup; ]] > ]]>b</body>");
        assert_eq!(
            element.children,
            vec![Node::Text("a<not> &markup; ]] > b".to_owned())]
        );
    }

    #[test]
    fn default_namespace_is_inherited_and_redeclared_per_namespaces_in_xml() {
        let element = parse_element(
            "<iq type='set' id='1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
             <resource>r</resource></bind><p:q xmlns:p='urn:p' p:attr='v'><inner/></p:q></iq>",
        );
        assert!(element.is("iq", NS_CLIENT));
        let bind = element
            .child("bind", "urn:ietf:params:xml:ns:xmpp-bind")
            .unwrap();
        assert!(
            bind.child("resource", "urn:ietf:params:xml:ns:xmpp-bind")
                .is_some()
        );
        let q = element.child("q", "urn:p").unwrap();
        assert_eq!(q.attr("p:attr"), Some("v"));
        assert!(q.child("inner", NS_CLIENT).is_some());
        assert!(
            element
                .attrs
                .iter()
                .all(|(name, _)| !name.starts_with("xmlns"))
        );
    }

    #[test]
    fn stream_prefix_resolves_to_stream_namespace_rfc6120_4_8() {
        let element = parse_element(
            "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
        );
        assert!(element.is("error", NS_STREAM));
        assert_eq!(
            parse_stream_error(&element),
            ("host-unknown".to_owned(), None)
        );
    }

    #[test]
    fn stream_header_with_other_prefix_for_stream_namespace_is_accepted() {
        let input = "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:server'>\
                     <s:features/></s:stream>";
        let (events, error) = parse_whole(input.as_bytes());
        assert_eq!(error, None);
        assert_eq!(events.len(), 3);
        assert_eq!(
            events[1],
            StreamEvent::Element(Element::new("features", NS_STREAM))
        );
        assert_eq!(events[2], StreamEvent::Closed);
    }

    #[test]
    fn stream_error_serializes_with_stream_prefix_and_parses_back_rfc6120_4_9() {
        let error = stream_error("policy-violation", Some("too <big> & 'long'"));
        let xml = error.to_xml(NS_CLIENT);
        assert!(
            xml.starts_with(
                "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            ),
            "{xml}"
        );
        assert!(xml.ends_with("</stream:error>"), "{xml}");
        let parsed = parse_element(&xml);
        assert_eq!(parsed, error);
        assert_eq!(
            parse_stream_error(&parsed),
            (
                "policy-violation".to_owned(),
                Some("too <big> & 'long'".to_owned())
            )
        );
    }

    #[test]
    fn stream_features_children_keep_content_namespace_when_serialized() {
        let features = Element::new("features", NS_STREAM).with_child(Element::new("x", NS_CLIENT));
        assert_eq!(
            features.to_xml(NS_CLIENT),
            "<stream:features><x/></stream:features>"
        );
    }

    #[test]
    fn to_xml_undeclares_default_namespace_for_element_without_namespace() {
        let element = Element::new("a", NS_CLIENT).with_child(Element::new("b", ""));
        assert_eq!(element.to_xml(NS_CLIENT), "<a><b xmlns=''/></a>");
    }

    #[test]
    fn stream_header_to_xml_escapes_and_parses_back_rfc6120_4_7() {
        let header = StreamHeader {
            default_ns: NS_CLIENT.to_owned(),
            to: Some("ex'ample.com".to_owned()),
            from: Some("a&b".to_owned()),
            id: Some("id<1>".to_owned()),
            version: Some("1.0".to_owned()),
            lang: Some("de".to_owned()),
        };
        let (events, error) = parse_whole(header.to_xml().as_bytes());
        assert_eq!(error, None);
        assert_eq!(events, vec![StreamEvent::Header(header)]);
    }

    #[test]
    fn whitespace_keepalives_between_stanzas_are_ignored_rfc6120_4_6_1() {
        let input = format!("{} \n <a/>\n\n\t <b/> ", header_xml());
        let (events, error) = parse_chunks(input.as_bytes().chunks(3));
        assert_eq!(error, None);
        assert_eq!(
            events[1..],
            [
                StreamEvent::Element(Element::new("a", NS_CLIENT)),
                StreamEvent::Element(Element::new("b", NS_CLIENT))
            ]
        );
    }

    #[test]
    fn stream_close_gives_closed_rfc6120_4_4() {
        let input = format!("{}<a/>{STREAM_CLOSE}\n", header_xml());
        let (events, error) = parse_whole(input.as_bytes());
        assert_eq!(error, None);
        assert_eq!(events.last(), Some(&StreamEvent::Closed));
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn data_after_stream_close_is_not_well_formed() {
        let input = format!("{}{STREAM_CLOSE}<a/>", header_xml());
        assert_eq!(
            parse_error(input.as_bytes()).stream_error_condition(),
            "not-well-formed"
        );
    }

    #[test]
    fn doctype_is_restricted_xml_rfc6120_11_1() {
        let error = parse_error(b"<!DOCTYPE stream:stream>");
        assert!(matches!(
            error,
            XmlError::RestrictedXml {
                construct: RestrictedConstruct::MarkupDeclaration,
                ..
            }
        ));
        assert_eq!(error.stream_error_condition(), "restricted-xml");
        assert_eq!(
            error.offending_bytes(),
            Some(&b"<!DOCTYPE stream:stream>"[..])
        );
    }

    #[test]
    fn entity_declaration_is_restricted_xml_rfc6120_11_1() {
        let input = format!("{}<!ENTITY x 'y'>", header_xml());
        assert_eq!(
            parse_error(input.as_bytes()).stream_error_condition(),
            "restricted-xml"
        );
    }

    #[test]
    fn custom_entity_reference_is_restricted_xml_rfc6120_11_1() {
        for stanza in ["<body>&xxe;</body>", "<body a='&xxe;'/>"] {
            let input = format!("{}{stanza}", header_xml());
            let error = parse_error(input.as_bytes());
            assert!(
                matches!(
                    error,
                    XmlError::RestrictedXml {
                        construct: RestrictedConstruct::EntityReference,
                        ..
                    }
                ),
                "{stanza}: {error:?}"
            );
        }
    }

    #[test]
    fn malformed_references_are_not_well_formed() {
        for stanza in [
            "<b>&amp</b>",
            "<b>&#xZZ;</b>",
            "<b>&;</b>",
            "<b>&#1;</b>",
            "<b>a & b</b>",
        ] {
            let input = format!("{}{stanza}", header_xml());
            assert_eq!(
                parse_error(input.as_bytes()).stream_error_condition(),
                "not-well-formed",
                "{stanza}"
            );
        }
    }

    #[test]
    fn processing_instruction_is_restricted_xml_rfc6120_11_1() {
        let input = format!("{}<?php evil()?>", header_xml());
        let error = parse_error(input.as_bytes());
        assert!(matches!(
            error,
            XmlError::RestrictedXml {
                construct: RestrictedConstruct::ProcessingInstruction,
                ..
            }
        ));
        assert_eq!(
            parse_error(b"<?xml-stylesheet href='x'?>").stream_error_condition(),
            "restricted-xml"
        );
    }

    #[test]
    fn xml_declaration_after_the_start_is_restricted_xml_rfc6120_11_1() {
        let input = format!("{}<?xml version='1.0'?>", header_xml());
        assert_eq!(
            parse_error(input.as_bytes()).stream_error_condition(),
            "restricted-xml"
        );
        assert_eq!(
            parse_error(b" <?xml version='1.0'?>").stream_error_condition(),
            "restricted-xml"
        );
    }

    #[test]
    fn comment_is_restricted_xml_as_soon_as_recognisable_rfc6120_11_1() {
        let input = format!("{}<message><!-", header_xml());
        let error = parse_error(input.as_bytes());
        assert!(matches!(
            error,
            XmlError::RestrictedXml {
                construct: RestrictedConstruct::Comment,
                ..
            }
        ));
    }

    #[test]
    fn garbage_before_header_is_not_well_formed_with_offending_bytes() {
        let error = parse_error(b"HTTP/1.1 400 Bad Request\r\n");
        assert_eq!(error.stream_error_condition(), "not-well-formed");
        assert_eq!(
            error.offending_bytes(),
            Some(&b"HTTP/1.1 400 Bad Request\r\n"[..])
        );
        assert!(
            error.to_string().contains("HTTP/1.1 400 Bad Request\\r\\n"),
            "{error}"
        );
    }

    #[test]
    fn offending_bytes_are_truncated_to_64() {
        let error = parse_error(&[b'x'; 1000]);
        assert_eq!(error.offending_bytes().map(<[u8]>::len), Some(64));
    }

    #[test]
    fn text_at_stream_level_is_bad_format() {
        let input = format!("{}<a/>hello<b/>", header_xml());
        let error = parse_error(input.as_bytes());
        assert_eq!(error.stream_error_condition(), "bad-format");
        assert_eq!(error.offending_bytes(), Some(&b"hello<b/>"[..]));
    }

    #[test]
    fn mismatched_end_tag_is_not_well_formed() {
        let input = format!("{}<message><body></message>", header_xml());
        let error = parse_error(input.as_bytes());
        assert_eq!(error.stream_error_condition(), "not-well-formed");
        assert_eq!(error.offending_bytes(), Some(&b"</message>"[..]));
    }

    #[test]
    fn end_tag_must_repeat_the_prefix_as_written() {
        let input = format!("{}<p:a xmlns:p='urn:p'></q:a>", header_xml());
        assert_eq!(
            parse_error(input.as_bytes()).stream_error_condition(),
            "not-well-formed"
        );
    }

    #[test]
    fn malformed_tags_are_not_well_formed() {
        for stanza in [
            "<a b='1' b='2'/>",
            "<a b=1/>",
            "<a b='<'/>",
            "<1a/>",
            "<a <b/>",
            "<a:b:c xmlns:a='x'/>",
            "< a/>",
            "<a xmlns:p=''/>",
        ] {
            let input = format!("{}{stanza}", header_xml());
            assert_eq!(
                parse_error(input.as_bytes()).stream_error_condition(),
                "not-well-formed",
                "{stanza}"
            );
        }
    }

    #[test]
    fn unbound_prefix_is_not_well_formed() {
        for stanza in ["<p:a/>", "<a p:b='1'/>"] {
            let input = format!("{}{stanza}", header_xml());
            let error = parse_error(input.as_bytes());
            assert!(
                matches!(&error, XmlError::UnboundPrefix { prefix, .. } if prefix == "p"),
                "{error:?}"
            );
            assert_eq!(error.stream_error_condition(), "not-well-formed");
        }
    }

    #[test]
    fn invalid_utf8_is_unsupported_encoding_rfc6120_11_6() {
        let mut input = header_xml().into_bytes();
        input.extend_from_slice(b"<body>\xff\xfe</body>");
        assert_eq!(
            parse_error(&input).stream_error_condition(),
            "unsupported-encoding"
        );
    }

    #[test]
    fn declared_non_utf8_encoding_is_unsupported_encoding_rfc6120_11_6() {
        let error = parse_error(b"<?xml version='1.0' encoding='ISO-8859-1'?>");
        assert_eq!(
            error,
            XmlError::UnsupportedEncoding {
                declared: "ISO-8859-1".to_owned()
            }
        );
    }

    #[test]
    fn stanza_over_limit_fails_before_it_is_all_buffered() {
        let limits = Limits {
            max_stanza_bytes: 1000,
            ..Limits::default()
        };
        let mut parser = StreamParser::new(limits);
        parser.feed(header_xml().as_bytes());
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Header(_)))
        ));
        parser.feed(b"<message><body>");
        let mut fed = 0;
        let error = loop {
            parser.feed(&[b'a'; 10]);
            fed += 10;
            match parser.next_event() {
                Ok(None) => assert!(fed < 10_000, "no error after {fed} bytes"),
                Ok(Some(event)) => panic!("unexpected {event:?}"),
                Err(error) => break error,
            }
        };
        assert!(fed <= 1000, "fed {fed} bytes");
        assert!(
            matches!(error, XmlError::StanzaTooLarge { limit: 1000, seen } if seen > 1000 && seen <= 1010)
        );
        assert_eq!(error.stream_error_condition(), "policy-violation");
    }

    #[test]
    fn huge_start_tag_fails_before_it_is_all_buffered() {
        let limits = Limits {
            max_stanza_bytes: 100,
            ..Limits::default()
        };
        let mut parser = StreamParser::new(limits);
        parser.feed(header_xml().as_bytes());
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Header(_)))
        ));
        parser.feed(b"<a b='");
        let mut fed = 0;
        while parser.next_event().is_ok() {
            parser.feed(b">>>>>>>>>>");
            fed += 10;
            assert!(fed < 1000);
        }
        assert!(matches!(
            parser.next_event(),
            Err(XmlError::StanzaTooLarge { limit: 100, .. })
        ));
    }

    #[test]
    fn stanza_limit_applies_per_stanza_and_allows_exactly_the_limit() {
        let limits = Limits {
            max_stanza_bytes: "<message>hi</message>".len(),
            ..Limits::default()
        };
        let mut parser = StreamParser::new(limits);
        parser.feed(header_xml().as_bytes());
        for _ in 0..50 {
            parser.feed(b"<message>hi</message>\n");
        }
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Header(_)))
        ));
        for _ in 0..50 {
            assert!(matches!(
                parser.next_event(),
                Ok(Some(StreamEvent::Element(_)))
            ));
        }
        assert_eq!(parser.next_event(), Ok(None));
    }

    #[test]
    fn header_over_limit_fails_before_it_is_all_buffered() {
        let limits = Limits {
            max_header_bytes: 200,
            ..Limits::default()
        };
        let mut parser = StreamParser::new(limits);
        parser.feed(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='");
        let mut fed = 0;
        let error = loop {
            parser.feed(&[b'x'; 10]);
            fed += 10;
            match parser.next_event() {
                Ok(None) => assert!(fed < 1000),
                other => break other,
            }
        };
        assert!(
            matches!(error, Err(XmlError::HeaderTooLarge { limit: 200, .. })),
            "{error:?}"
        );
    }

    /// The first error of feeding `input` in `chunks`, as a stream error condition.
    fn first_condition<'a>(
        limits: Limits,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Option<&'static str> {
        let mut parser = StreamParser::new(limits);
        for chunk in chunks {
            parser.feed(chunk);
            loop {
                match parser.next_event() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(error) => return Some(error.stream_error_condition()),
                }
            }
        }
        None
    }

    /// Found by the `xml_stream` fuzz target (fixtures/fuzz/xml_stream-228079cd.bin, byte 0
    /// selects the harness's small limits): a header over the limit with a `<` inside its tag
    /// past the limit was `not-well-formed` when it arrived at once and `policy-violation`
    /// when it trickled. The scan now stops one byte past the limit, so it is
    /// `policy-violation` both ways.
    #[test]
    fn fuzz_regression_oversized_header_is_policy_violation_however_it_arrives() {
        let limits = Limits {
            max_stanza_bytes: 200,
            max_depth: 4,
            max_header_bytes: 160,
        };
        let input = &include_bytes!("../../../fixtures/fuzz/xml_stream-228079cd.bin")[1..];
        assert_eq!(first_condition(limits, [input]), Some("policy-violation"));
        assert_eq!(
            first_condition(limits, input.chunks(1)),
            Some("policy-violation")
        );

        // The same for a first-level element, and for a header written by hand.
        let limits = Limits {
            max_stanza_bytes: 100,
            max_header_bytes: 100,
            ..Limits::default()
        };
        let element = format!("{}<message to='{}<'/>", header_xml(), "x".repeat(120));
        let header = format!(
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='{}' <x>",
            "y".repeat(100)
        );
        for input in [element.as_bytes(), header.as_bytes()] {
            assert_eq!(first_condition(limits, [input]), Some("policy-violation"));
            assert_eq!(
                first_condition(limits, input.chunks(1)),
                Some("policy-violation")
            );
            assert_eq!(
                first_condition(limits, input.chunks(7)),
                Some("policy-violation")
            );
        }
    }

    #[test]
    fn leading_whitespace_counts_towards_header_limit() {
        let limits = Limits {
            max_header_bytes: 100,
            ..Limits::default()
        };
        let mut parser = StreamParser::new(limits);
        parser.feed(&[b' '; 101]);
        parser.feed(b"<");
        assert!(matches!(
            parser.next_event(),
            Err(XmlError::HeaderTooLarge { .. })
        ));
    }

    #[test]
    fn nesting_over_depth_limit_is_policy_violation() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let allowed = format!("{}<a><b><c/></b></a>", header_xml());
        let mut parser = StreamParser::new(limits);
        parser.feed(allowed.as_bytes());
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Header(_)))
        ));
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Element(_)))
        ));
        parser.feed(b"<a><b><c><d>");
        let error = parser.next_event().unwrap_err();
        assert_eq!(error, XmlError::TooDeep { limit: 3 });
        assert_eq!(error.stream_error_condition(), "policy-violation");
    }

    #[test]
    fn parser_stays_failed_after_an_error() {
        let mut parser = StreamParser::new(Limits::default());
        parser.feed(b"garbage");
        let error = parser.next_event().unwrap_err();
        parser.feed(header_xml().as_bytes());
        assert_eq!(parser.next_event(), Err(error));
    }

    #[test]
    fn restart_reports_bytes_after_proceed_rfc6120_5_4_3_3() {
        let mut parser = StreamParser::new(Limits::default());
        parser.feed(SERVER_STREAM.as_bytes());
        parser.feed(b"<iq type='set'/><mess");
        let mut events = Vec::new();
        while let Some(event) = parser.next_event().unwrap() {
            let is_proceed = matches!(&event, StreamEvent::Element(e) if e.is("proceed", NS_TLS));
            events.push(event);
            if is_proceed {
                break;
            }
        }
        assert_eq!(events, expected_server_events());
        assert_eq!(parser.restart(), "<iqtype='set'/><mess".len());
        parser.feed(header_xml().as_bytes());
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Header(_)))
        ));
    }

    /// go-sendxmpp sends `<starttls/>` followed by a newline: whitespace between elements is
    /// allowed (RFC 6120 §4.6.1) and is no injected command.
    #[test]
    fn whitespace_after_starttls_is_not_counted_as_injected_rfc6120_5_4_3_3() {
        let mut parser = StreamParser::new(Limits::default());
        parser.feed(header_xml().as_bytes());
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Header(_)))
        ));
        parser.feed(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\n");
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Element(_)))
        ));
        assert_eq!(parser.next_event(), Ok(None));
        assert_eq!(parser.restart(), 0);
        parser.feed(b"\r\n \t");
        assert_eq!(parser.restart(), 0);
    }

    #[test]
    fn restart_after_clean_proceed_discards_nothing_and_accepts_new_declaration_rfc6120_4_3_3() {
        let mut parser = StreamParser::new(Limits::default());
        parser.feed(SERVER_STREAM.as_bytes());
        while parser.next_event().unwrap().is_some() {}
        assert_eq!(parser.restart(), 0);
        assert!(header_xml().starts_with("<?xml version='1.0'?>"));
        parser.feed(header_xml().as_bytes());
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Header(_)))
        ));
    }

    #[test]
    fn closing_the_replaced_stream_after_a_restart_is_a_close_rfc6120_4_4() {
        let mut parser = StreamParser::new(Limits::default());
        parser.feed(SERVER_HEADER_FOR_RESTART.as_bytes());
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Header(_)))
        ));
        assert_eq!(parser.restart(), 0);
        parser.feed(b"</stream:stream>");
        assert_eq!(parser.next_event(), Ok(Some(StreamEvent::Closed)));
    }

    #[test]
    fn a_fresh_parser_still_refuses_a_close_before_any_header() {
        let mut parser = StreamParser::new(Limits::default());
        parser.feed(b"</stream:stream>");
        assert!(matches!(
            parser.next_event(),
            Err(XmlError::NotWellFormed { .. })
        ));
    }

    const SERVER_HEADER_FOR_RESTART: &str = "<stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

    #[test]
    fn restart_counts_a_partly_parsed_element() {
        let mut parser = StreamParser::new(Limits::default());
        parser.feed(header_xml().as_bytes());
        assert!(matches!(
            parser.next_event(),
            Ok(Some(StreamEvent::Header(_)))
        ));
        parser.feed(b"<a><b/>");
        assert_eq!(parser.next_event(), Ok(None));
        assert_eq!(parser.restart(), 7);
    }

    #[test]
    fn header_with_wrong_namespace_is_invalid_namespace_rfc6120_4_8_1() {
        let error = parse_error(b"<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>");
        assert_eq!(
            error,
            XmlError::InvalidStreamNamespace {
                namespace: "urn:wrong".to_owned()
            }
        );
        assert_eq!(error.stream_error_condition(), "invalid-namespace");
    }

    #[test]
    fn header_with_unbound_stream_prefix_is_not_well_formed() {
        let error = parse_error(b"<stream:stream xmlns='jabber:client'>");
        assert!(matches!(&error, XmlError::UnboundPrefix { prefix, .. } if prefix == "stream"));
    }

    #[test]
    fn first_element_other_than_stream_is_bad_format() {
        let error =
            parse_error(b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>");
        assert!(matches!(error, XmlError::NotAStreamHeader { .. }));
        assert_eq!(error.stream_error_condition(), "bad-format");
    }

    #[test]
    fn self_closing_stream_header_opens_and_closes() {
        let (events, error) =
            parse_whole(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>");
        assert_eq!(error, None);
        assert_eq!(
            events,
            vec![
                StreamEvent::Header(StreamHeader::default()),
                StreamEvent::Closed
            ]
        );
    }

    #[test]
    fn text_line_endings_and_attribute_whitespace_are_normalized_per_xml_1_0() {
        let element = parse_element("<body a='x\ty\r\nz' b='&#10;'>1\r\n2\r3</body>");
        assert_eq!(element.attr("a"), Some("x y z"));
        assert_eq!(element.attr("b"), Some("\n"));
        assert_eq!(element.text(), "1\n2\n3");
    }

    #[test]
    fn large_stanza_fed_byte_by_byte_is_parsed_in_linear_time() {
        let body = "x".repeat(60_000);
        let input = format!("{}<message><body>{body}</body></message>", header_xml());
        let (events, error) = parse_chunks(input.as_bytes().chunks(1));
        assert_eq!(error, None);
        match &events[1] {
            StreamEvent::Element(message) => {
                assert_eq!(message.child("body", NS_CLIENT).unwrap().text(), body)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
