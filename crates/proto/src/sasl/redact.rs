//! Printable renderings of SASL messages for transcripts, with passwords and proofs removed.

use super::Mechanism;

/// For transcripts: a printable rendering of a SASL message with secrets redacted.
///
/// PLAIN from the client shows authzid and username and replaces the password with
/// `[redacted]` (`authzid\0username\0[redacted]`); a PLAIN message that does not split into
/// exactly three fields is not shown at all, since any part of it may be the password. SCRAM
/// from the client keeps every attribute but `p=`, which becomes `p=[redacted]` (this hides the
/// client-final proof, and also a GS2 `p=` channel-binding flag). Other messages are shown as
/// text if they are printable UTF-8, else as `hex:` followed by their bytes in hex; an empty
/// message is `(empty)`. `from_client` tells which side sent it.
pub fn redact(mechanism: Mechanism, from_client: bool, message: &[u8]) -> String {
    if message.is_empty() {
        return "(empty)".to_owned();
    }
    if !from_client {
        return printable(message);
    }
    match mechanism {
        Mechanism::Plain => redact_plain(message),
        // Every other mechanism is SCRAM. The proof is a `p=` field after the first one; a `p=`
        // in first place is the GS2 channel binding flag of client-first, which is no secret.
        _ => message
            .split(|&b| b == b',')
            .enumerate()
            .map(|(index, field)| {
                if index > 0 && field.starts_with(b"p=") {
                    "p=[redacted]".to_owned()
                } else {
                    printable(field)
                }
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn redact_plain(message: &[u8]) -> String {
    let mut parts = message.split(|&b| b == 0);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(authzid), Some(authcid), Some(_password), None) => {
            format!(
                "{}\\0{}\\0[redacted]",
                printable(authzid),
                printable(authcid)
            )
        }
        _ => format!(
            "[redacted: {} bytes, not three NUL-separated PLAIN fields]",
            message.len()
        ),
    }
}

/// The bytes as text if they are UTF-8 without control characters, else as hex.
fn printable(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_owned(),
        _ => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("hex:{hex}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_password_is_redacted_rfc4616_2() {
        let shown = redact(Mechanism::Plain, true, b"admin\0juliet\0r0m30myr0m30");
        assert_eq!(shown, "admin\\0juliet\\0[redacted]");
        let shown = redact(Mechanism::Plain, true, b"\0juliet\0r0m30\x01myr0m30");
        assert_eq!(shown, "\\0juliet\\0[redacted]");
    }

    #[test]
    fn malformed_plain_is_not_shown_at_all() {
        for message in [
            &b"juliet\0r0m30myr0m30"[..],
            b"r0m30myr0m30",
            b"\0a\0r0m30myr0m30\0",
        ] {
            let shown = redact(Mechanism::Plain, true, message);
            assert!(!shown.contains("r0m30"), "{shown}");
            assert!(!shown.contains("72306d33"), "{shown}");
        }
    }

    #[test]
    fn scram_client_proof_is_redacted_rfc5802_7() {
        let client_final =
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
        let shown = redact(Mechanism::ScramSha1, true, client_final);
        assert_eq!(
            shown,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=[redacted]"
        );
        let mut binary = client_final.to_vec();
        binary.push(0xff);
        let shown = redact(Mechanism::ScramSha256, true, &binary);
        assert!(!shown.contains("v0X8v3Bz2T0CJGbJQyF0X"), "{shown}");
    }

    #[test]
    fn scram_client_first_and_server_messages_are_shown() {
        let first = b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
        assert_eq!(
            redact(Mechanism::ScramSha1, true, first),
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let server_final = b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";
        assert_eq!(
            redact(Mechanism::ScramSha1, false, server_final),
            "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="
        );
    }

    #[test]
    fn no_client_message_of_a_real_exchange_leaks_password_or_proof() {
        use crate::sasl::{
            ClientCredentials, ClientOptions, CredentialStore, ServerOptions, ServerStep,
            client_mechanism, server_mechanism,
        };
        let mut store = CredentialStore::new();
        store.add_user("juliet", "r0m30myr0m30", 16);
        // EXTERNAL carries no secret (only an authzid) and needs a verified certificate.
        let password_mechanisms = Mechanism::ALL
            .into_iter()
            .filter(|m| !m.is_plus() && *m != Mechanism::External);
        for mechanism in password_mechanisms {
            let credentials = ClientCredentials {
                username: "juliet".into(),
                password: "r0m30myr0m30".into(),
                authzid: Some("juliet@example.com".into()),
            };
            let options = ClientOptions {
                min_iterations: 1,
                ..ClientOptions::default()
            };
            let mut client = client_mechanism(mechanism, credentials, options);
            let mut server = server_mechanism(mechanism, ServerOptions::default());
            let mut message = client.initial_response().unwrap();
            loop {
                let shown = redact(mechanism, true, &message);
                assert!(!shown.contains("r0m30"), "{mechanism}: {shown}");
                if let Some((_, proof)) = String::from_utf8(message.clone())
                    .unwrap()
                    .split_once(",p=")
                {
                    assert!(!shown.contains(proof), "{mechanism}: {shown}");
                    assert!(shown.ends_with(",p=[redacted]"), "{mechanism}: {shown}");
                }
                match server.step(&message, &store).unwrap() {
                    ServerStep::Challenge(challenge) => {
                        message = client.respond(&challenge).unwrap()
                    }
                    ServerStep::Success {
                        additional_data, ..
                    } => {
                        client.finish(&additional_data).unwrap();
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn binary_and_empty_messages_are_rendered_safely() {
        assert_eq!(
            redact(Mechanism::ScramSha256, false, &[0, 0xff]),
            "hex:00ff"
        );
        assert_eq!(redact(Mechanism::Plain, false, b""), "(empty)");
        assert_eq!(redact(Mechanism::Plain, true, b""), "(empty)");
    }
}
