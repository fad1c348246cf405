//! A partial SASLprep (RFC 4013) for usernames and passwords, plus the SCRAM `saslname`
//! escaping of RFC 5802 §5.1.
//!
//! Implemented: the mapping step (§2.1: non-ASCII spaces to SPACE, "commonly mapped to nothing"
//! removed) and the prohibited-output check (§2.3, RFC 3454 tables C.1.2 to C.9). Left out:
//! NFKC normalisation (§2.2), the bidirectional-text check (§2.4) and the unassigned-code-point
//! check (§2.5). ASCII input needs none of the left-out steps, so it is handled exactly.

use std::borrow::Cow;

/// A string SASLprep refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("contains the character U+{code:04X}, which SASLprep (RFC 4013 §2.3) prohibits")]
pub(crate) struct SaslprepError {
    code: u32,
}

/// Prepares `input` for comparison: the mapping and prohibition steps of RFC 4013.
pub(crate) fn saslprep(input: &str) -> Result<Cow<'_, str>, SaslprepError> {
    if input.is_ascii() {
        // Only the ASCII controls (C.2.1) are prohibited; nothing is mapped or normalised.
        return match input.chars().find(char::is_ascii_control) {
            Some(c) => Err(SaslprepError { code: u32::from(c) }),
            None => Ok(Cow::Borrowed(input)),
        };
    }
    let mapped: String = input
        .chars()
        .filter_map(|c| {
            if is_non_ascii_space(c) {
                Some(' ')
            } else if is_mapped_to_nothing(c) {
                None
            } else {
                Some(c)
            }
        })
        .collect();
    match mapped.chars().find(|&c| is_prohibited(c)) {
        Some(c) => Err(SaslprepError { code: u32::from(c) }),
        None => Ok(Cow::Owned(mapped)),
    }
}

/// RFC 3454 table C.1.2.
fn is_non_ascii_space(c: char) -> bool {
    matches!(
        c,
        '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200B}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// RFC 3454 table B.1.
fn is_mapped_to_nothing(c: char) -> bool {
    matches!(
        c,
        '\u{AD}'
            | '\u{34F}'
            | '\u{1806}'
            | '\u{180B}'..='\u{180D}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
    )
}

/// RFC 3454 tables C.2.1 to C.9 (C.1.2 is mapped away before this check; C.5 surrogates cannot
/// occur in a `char`).
fn is_prohibited(c: char) -> bool {
    let code = u32::from(c);
    matches!(
        c,
        // C.2.1 and C.2.2: control characters.
        '\u{0}'..='\u{1F}'
            | '\u{7F}'..='\u{9F}'
            | '\u{6DD}'
            | '\u{70F}'
            | '\u{180E}'
            | '\u{200C}'
            | '\u{200D}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{2060}'..='\u{2063}'
            | '\u{FFF9}'..='\u{FFFC}'
            | '\u{1D173}'..='\u{1D17A}'
            // C.3: private use.
            | '\u{E000}'..='\u{F8FF}'
            | '\u{F0000}'..='\u{FFFFD}'
            | '\u{100000}'..='\u{10FFFD}'
            // C.4: non-characters (the rest are caught below).
            | '\u{FDD0}'..='\u{FDEF}'
            // C.6 and C.7: inappropriate for plain text or canonical representation.
            | '\u{FFFD}'
            | '\u{2FF0}'..='\u{2FFB}'
            // C.8: change display properties or deprecated.
            | '\u{340}'
            | '\u{341}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{206A}'..='\u{206F}'
            // C.9: tagging characters.
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    ) || code & 0xFFFE == 0xFFFE
}

/// Encodes a username or authzid as a SCRAM `saslname`: `,` becomes `=2C` and `=` becomes
/// `=3D` (RFC 5802 §5.1).
pub(crate) fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Decodes a SCRAM `saslname`; `None` if it is empty or has an `=` that does not start `=2C` or
/// `=3D` (RFC 5802 §5.1 says the receiver MUST fail then).
pub(crate) fn decode_saslname(name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some((before, after)) = rest.split_once('=') {
        out.push_str(before);
        if let Some(tail) = after.strip_prefix("2C") {
            out.push(',');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("3D") {
            out.push('=');
            rest = tail;
        } else {
            return None;
        }
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_passes_through_unchanged_rfc4013_2() {
        assert_eq!(saslprep("user").unwrap(), "user");
        assert!(matches!(saslprep("I X").unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn ascii_controls_are_prohibited_rfc4013_2_3() {
        assert_eq!(saslprep("a\u{7}b").unwrap_err(), SaslprepError { code: 7 });
        assert!(saslprep("a\u{7F}").is_err());
    }

    #[test]
    fn rfc4013_section_3_examples_without_nfkc() {
        // "I<U+00AD>X" -> "IX" (soft hyphen mapped to nothing).
        assert_eq!(saslprep("I\u{AD}X").unwrap(), "IX");
        // U+00A0 (no-break space) -> SPACE.
        assert_eq!(saslprep("a\u{A0}b").unwrap(), "a b");
        // Non-ASCII letters survive untouched.
        assert_eq!(saslprep("jürgen").unwrap(), "jürgen");
        // "<U+0007>" is prohibited.
        assert!(saslprep("\u{7}").is_err());
        // Private use and non-characters are prohibited.
        assert!(saslprep("é\u{E000}").is_err());
        assert!(saslprep("é\u{FFFF}").is_err());
        assert!(saslprep("é\u{10FFFE}").is_err());
    }

    #[test]
    fn saslname_escapes_comma_and_equals_rfc5802_5_1() {
        assert_eq!(encode_saslname("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(decode_saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(decode_saslname("=3D2C").as_deref(), Some("=2C"));
        assert_eq!(
            decode_saslname(&encode_saslname("=2C,")).as_deref(),
            Some("=2C,")
        );
    }

    #[test]
    fn saslname_with_stray_equals_is_refused_rfc5802_5_1() {
        assert_eq!(decode_saslname("a=b"), None);
        assert_eq!(decode_saslname("a="), None);
        assert_eq!(decode_saslname("a=2c"), None);
        assert_eq!(decode_saslname(""), None);
    }
}
