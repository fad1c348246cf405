//! SCRAM downgrade protection (XEP-0474): the server hashes the SASL mechanisms and channel
//! binding types it advertised into the server-first message, and the client compares that with
//! what it saw, so a man in the middle who stripped a mechanism or a binding type is caught.
//!
//! The format is the current one of XEP-0474, as Prosody's mod_sasl_ssdp sends it: the
//! optional SCRAM attribute `h=` (RFC 5802 §5.1 allows extensions) carries the base64 of the
//! SCRAM hash function applied to the mechanism names, sorted by octet and joined with 0x1E,
//! followed by 0x1F and the channel binding type names, sorted and joined with 0x1E; with no
//! channel binding types the 0x1F and the second list are left out. Earlier versions of the XEP
//! (and of that module) used the attribute `d=` with `,` and `|` as separators; that form is not
//! spoken here.

/// The attribute that carries the hash in the server-first message.
pub(crate) const ATTRIBUTE: char = 'h';

/// Separates two names within one list (ASCII Record Separator).
const ITEM_SEPARATOR: u8 = 0x1E;
/// Separates the mechanism list from the channel binding list (ASCII Unit Separator).
const LIST_SEPARATOR: u8 = 0x1F;

/// What a server advertised for authentication on one stream, as names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advertised {
    /// The SASL mechanism names of `<mechanisms/>` (or SASL2's `<authentication/>`).
    pub mechanisms: Vec<String>,
    /// The channel binding type names of XEP-0440's `<sasl-channel-binding/>`.
    pub channel_bindings: Vec<String>,
}

impl Advertised {
    /// The octets XEP-0474 hashes.
    pub fn hash_input(&self) -> Vec<u8> {
        let mut input = join_sorted(&self.mechanisms);
        if !self.channel_bindings.is_empty() {
            input.push(LIST_SEPARATOR);
            input.extend(join_sorted(&self.channel_bindings));
        }
        input
    }
}

fn join_sorted(names: &[String]) -> Vec<u8> {
    let mut sorted: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(&ITEM_SEPARATOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn names_are_sorted_by_octet_and_separated_xep0474_3() {
        let advertised = Advertised {
            mechanisms: names(&["SCRAM-SHA-256-PLUS", "PLAIN", "SCRAM-SHA-1"]),
            channel_bindings: names(&["tls-server-end-point", "tls-exporter"]),
        };
        assert_eq!(
            advertised.hash_input(),
            b"PLAIN\x1eSCRAM-SHA-1\x1eSCRAM-SHA-256-PLUS\x1ftls-exporter\x1etls-server-end-point"
        );
    }

    #[test]
    fn without_channel_binding_types_only_the_mechanisms_are_hashed_xep0474_3() {
        let advertised = Advertised {
            mechanisms: names(&["SCRAM-SHA-256", "SCRAM-SHA-1"]),
            channel_bindings: Vec::new(),
        };
        assert_eq!(advertised.hash_input(), b"SCRAM-SHA-1\x1eSCRAM-SHA-256");
    }
}
