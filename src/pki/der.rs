//! The DER of a subjectAltName extension (RFC 5280 §4.2.1.6), encoded here because rcgen cannot
//! express an otherName whose value is an IA5String (id-on-dnsSRV, RFC 4985).
//!
//! Every leaf with identities gets its subjectAltName from [`subject_alt_name`], so dNSName,
//! id-on-dnsSRV and id-on-xmppAddr entries share one encoder; the unit tests parse the result
//! back with x509-parser.

/// The subjectAltName extension's OID, 2.5.29.17.
pub(crate) const SUBJECT_ALT_NAME: [u64; 4] = [2, 5, 29, 17];
/// id-on-xmppAddr, 1.3.6.1.5.5.7.8.5 (RFC 6120 §13.7.1.4): a UTF8String.
pub(crate) const ID_ON_XMPP_ADDR: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 8, 5];
/// id-on-dnsSRV, 1.3.6.1.5.5.7.8.7 (RFC 4985 §2): an IA5String.
pub(crate) const ID_ON_DNS_SRV: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 8, 7];

/// One GeneralName this encoder writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GeneralName {
    /// `dNSName [2] IA5String`.
    Dns(String),
    /// `otherName [0]` id-on-dnsSRV with an IA5String `_service.domain`.
    SrvName(String),
    /// `otherName [0]` id-on-xmppAddr with a UTF8String JID.
    XmppAddr(String),
}

const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_IA5_STRING: u8 = 0x16;
const TAG_SEQUENCE: u8 = 0x30;
/// Context-specific, constructed, 0: otherName in GeneralName, and the `[0] EXPLICIT` value
/// inside it.
const TAG_CONTEXT_0_CONSTRUCTED: u8 = 0xa0;
/// Context-specific, primitive, 2: dNSName (IMPLICIT IA5String).
const TAG_CONTEXT_2_PRIMITIVE: u8 = 0x82;

/// Tag, definite length (X.690 §8.1.3) and contents.
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// An OBJECT IDENTIFIER (X.690 §8.19): the first two arcs in one octet, then base 128.
fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut contents = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        _ => (0, arcs),
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut remaining = arc >> 7;
        while remaining > 0 {
            groups.push((remaining & 0x7f) as u8 | 0x80);
            remaining >>= 7;
        }
        contents.extend(groups.into_iter().rev());
    }
    tlv(TAG_OID, &contents)
}

/// `otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }`, IMPLICIT-tagged [0].
fn other_name(type_id: &[u64], value_tag: u8, value: &str) -> Vec<u8> {
    let mut contents = oid(type_id);
    contents.extend(tlv(
        TAG_CONTEXT_0_CONSTRUCTED,
        &tlv(value_tag, value.as_bytes()),
    ));
    tlv(TAG_CONTEXT_0_CONSTRUCTED, &contents)
}

impl GeneralName {
    fn encode(&self) -> Vec<u8> {
        match self {
            GeneralName::Dns(name) => tlv(TAG_CONTEXT_2_PRIMITIVE, name.as_bytes()),
            GeneralName::SrvName(name) => other_name(&ID_ON_DNS_SRV, TAG_IA5_STRING, name),
            GeneralName::XmppAddr(jid) => other_name(&ID_ON_XMPP_ADDR, TAG_UTF8_STRING, jid),
        }
    }
}

/// The extension value of subjectAltName: `GeneralNames ::= SEQUENCE OF GeneralName`.
pub(crate) fn subject_alt_name(names: &[GeneralName]) -> Vec<u8> {
    let contents: Vec<u8> = names.iter().flat_map(GeneralName::encode).collect();
    tlv(TAG_SEQUENCE, &contents)
}

#[cfg(test)]
mod tests {
    use x509_parser::extensions::{GeneralName as Parsed, SubjectAlternativeName};
    use x509_parser::prelude::FromDer;

    use super::*;

    #[test]
    fn oid_encoding_matches_x690_for_id_on_xmpp_addr() {
        assert_eq!(
            oid(&ID_ON_XMPP_ADDR),
            [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x05]
        );
        assert_eq!(oid(&[2, 5, 29, 17]), [0x06, 0x03, 0x55, 0x1d, 0x11]);
        assert_eq!(
            oid(&[1, 2, 840, 113549]),
            [0x06, 0x06, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]
        );
    }

    #[test]
    fn long_contents_use_the_long_length_form_x690_8_1_3_5() {
        let encoded = tlv(TAG_SEQUENCE, &[0u8; 300]);
        assert_eq!(&encoded[..4], &[0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(encoded.len(), 304);
    }

    /// RFC 4985 §2 (SRVName is an IA5String), RFC 6120 §13.7.1.4 (XmppAddr is a UTF8String).
    #[test]
    fn other_names_parse_back_with_their_oids_and_string_types_rfc4985_rfc6120_13_7_1_4() {
        let der = subject_alt_name(&[
            GeneralName::Dns("interop.test".into()),
            GeneralName::SrvName("_xmpp-client.interop.test".into()),
            GeneralName::XmppAddr("jürgen@interop.test".into()),
        ]);
        let (rest, san) = SubjectAlternativeName::from_der(&der).unwrap();
        assert!(rest.is_empty());
        let [dns, srv, xmpp] = san.general_names.as_slice() else {
            panic!("three names expected, got {:?}", san.general_names);
        };
        assert!(matches!(dns, Parsed::DNSName("interop.test")));
        let Parsed::OtherName(srv_oid, srv_value) = srv else {
            panic!("{srv:?}")
        };
        assert_eq!(srv_oid.to_id_string(), "1.3.6.1.5.5.7.8.7");
        // The [0] EXPLICIT wrapper, then IA5String.
        assert_eq!(&srv_value[..4], &[0xa0, 27, TAG_IA5_STRING, 25]);
        assert_eq!(&srv_value[4..], b"_xmpp-client.interop.test");
        let Parsed::OtherName(xmpp_oid, xmpp_value) = xmpp else {
            panic!("{xmpp:?}")
        };
        assert_eq!(xmpp_oid.to_id_string(), "1.3.6.1.5.5.7.8.5");
        assert_eq!(xmpp_value[2], TAG_UTF8_STRING);
        assert_eq!(&xmpp_value[4..], "jürgen@interop.test".as_bytes());
    }
}
