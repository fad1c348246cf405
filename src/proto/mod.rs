//! Sans-IO XMPP: stream framing, features, STARTTLS, SASL and resource binding, for both sides.

pub mod xml;
