//! Findings: each fact of an endpoint that breaks a clause, with the clause's level (as the
//! verdict model weighs it: a MUST or MUST NOT broken is `fail`, a SHOULD or SHOULD NOT not
//! followed is `warn`), where the clause is, its words as the RFC writes them, what was
//! observed and a one-line fix; and the overall grade.
//!
//! The clause texts below are quoted from the RFCs in Debian's `doc-rfc` package (RFC 6120,
//! 6125, 7590, 8446, 8996, 9325), not written from memory. A fact that breaks no clause (no
//! `_xmpps-client` record, no `-PLUS` mechanism, no SASL2) stays a fact in the report.

use serde::Serialize;

use super::facts::EndpointFacts;
use super::{EndpointUnderTest, ProbeService};
use crate::scenario::CipherClass;
use crate::scenario::requirement::Level;

/// One clause broken at one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The endpoint, e.g. `c2s starttls xmpp.example.org:5222 (192.0.2.1:5222)`.
    pub endpoint: String,
    /// The clause's level.
    pub level: Level,
    /// `fail` (a MUST broken) or `warn` (a SHOULD not followed).
    pub verdict: &'static str,
    /// Where the clause is, e.g. `RFC 6120 §13.8.3`.
    pub clause: &'static str,
    /// The clause's words.
    pub text: &'static str,
    /// What the probe saw.
    pub observed: String,
    /// What to change, in one line.
    pub fix: String,
}

struct Clause {
    level: Level,
    clause: &'static str,
    text: &'static str,
}

const STARTTLS_ADVERTISED: Clause = Clause {
    level: Level::Must,
    clause: "RFC 6120 §5.4.1",
    text: "If the receiving entity supports TLS, the stream features MUST include an \
           advertisement for support of STARTTLS negotiation, i.e., a <starttls/> element \
           qualified by the 'urn:ietf:params:xml:ns:xmpp-tls' namespace.",
};

const TLS_SUPPORTED: Clause = Clause {
    level: Level::Must,
    clause: "RFC 7590 §3.1",
    text: "Support for TLS (specifically, the XMPP profile of STARTTLS) is mandatory for XMPP \
           implementations, as already specified in [RFC6120] and its predecessor [RFC3920].",
};

const STRICT_TLS: Clause = Clause {
    level: Level::Must,
    clause: "RFC 9325 §3.2",
    text: "When a protocol supports only a dynamic upgrade method, implementations MUST provide \
           a way for administrators to set a strict local policy that forbids use of plaintext \
           in the absence of a negotiated TLS channel, and administrators MUST use this policy.",
};

const NO_PLAIN_WITHOUT_TLS: Clause = Clause {
    level: Level::MustNot,
    clause: "RFC 6120 §13.8.3",
    text: "A server MUST NOT offer SASL PLAIN if the confidentiality and integrity of the stream \
           are not protected via TLS or an equivalent security layer.",
};

const ONLY_STARTTLS_WHEN_REQUIRED: Clause = Clause {
    level: Level::ShouldNot,
    clause: "RFC 6120 §5.3.1",
    text: "If TLS is mandatory-to-negotiate, the receiving entity SHOULD NOT advertise support \
           for any stream feature except STARTTLS during the initial stage of the stream \
           negotiation process",
};

const NO_TLS10: Clause = Clause {
    level: Level::MustNot,
    clause: "RFC 8996 §2",
    text: "TLS 1.0 MUST NOT be used.  Negotiation of TLS 1.0 from any version of TLS MUST NOT \
           be permitted.",
};

const NO_TLS11: Clause = Clause {
    level: Level::MustNot,
    clause: "RFC 8996 §3",
    text: "TLS 1.1 MUST NOT be used.  Negotiation of TLS 1.1 from any version of TLS MUST NOT \
           be permitted.",
};

const TLS12: Clause = Clause {
    level: Level::Must,
    clause: "RFC 9325 §3.1.1",
    text: "Implementations MUST support TLS 1.2 [RFC5246].",
};

const TLS13: Clause = Clause {
    level: Level::Should,
    clause: "RFC 9325 §3.1.1",
    text: "Implementations SHOULD support TLS 1.3 [RFC8446] and, if implemented, MUST prefer to \
           negotiate TLS 1.3 over earlier versions of TLS.",
};

const CHAIN_VALIDATES: Clause = Clause {
    level: Level::Must,
    clause: "RFC 6120 §13.7.2",
    text: "For both server certificates and client certificates, the validating entity MUST do \
           the following: [...] 3. Attempt to validate the full certification path. [...] If \
           any of those validation attempts fail, the validating entity MUST unilaterally \
           terminate the session.",
};

const SERVERS_AUTHENTICATE_SERVERS: Clause = Clause {
    level: Level::Should,
    clause: "RFC 7590 §3.4",
    text: "Clients MUST authenticate servers. Servers MUST authenticate clients. Servers SHOULD \
           authenticate other servers.",
};

const SOURCE_DOMAIN: Clause = Clause {
    level: Level::Must,
    clause: "RFC 6125 §6.2.1",
    text: "The client MUST construct a list of acceptable reference identifiers, and MUST do so \
           independently of the identifiers presented by the service. [...] Each reference \
           identifier in the list SHOULD be based on the source domain and SHOULD NOT be based \
           on a derived domain (e.g., a host name or domain name discovered through DNS \
           resolution of the source domain).",
};

const DNS_ID: Clause = Clause {
    level: Level::Should,
    clause: "RFC 6120 §13.7.1.2.1",
    text: "XMPP service providers SHOULD include the DNS-ID identifier type in certificate \
           requests.",
};

const CHAIN_ORDER: Clause = Clause {
    level: Level::Should,
    clause: "RFC 8446 §4.4.2",
    text: "The sender's certificate MUST come in the first CertificateEntry in the list.  Each \
           following certificate SHOULD directly certify the one immediately preceding it.",
};

const SIGNATURE_ALGORITHM: Clause = Clause {
    level: Level::Should,
    clause: "RFC 6120 §13.7.1.1",
    text: "The signatureAlgorithm SHOULD be the PKCS #1 version 1.5 signature algorithm with \
           SHA-256 as defined by [PKIX-ALGO], or a stronger algorithm if available.",
};

const PLAIN_ONLY_WITHOUT_SCRAM: Clause = Clause {
    level: Level::ShouldNot,
    clause: "RFC 6120 §13.8.3",
    text: "A server SHOULD NOT offer TLS plus SASL PLAIN unless it is unable to offer some \
           variant of SASL SCRAM (or other alternatives that are more secure than TLS plus SASL \
           PLAIN)",
};

const CONTENT_NAMESPACE: Clause = Clause {
    level: Level::Must,
    clause: "RFC 6120 §4.8.2",
    text: "the content namespace MUST be the same for the initial stream and the response \
           stream so that both streams are qualified consistently.",
};

/// The RFC 9325 §4.1 clause of one class of suites.
fn class_clause(class: CipherClass) -> Clause {
    match class {
        CipherClass::NullEncryption => Clause {
            level: Level::MustNot,
            clause: "RFC 9325 §4.1",
            text: "Implementations MUST NOT negotiate the cipher suites with NULL encryption.",
        },
        CipherClass::Rc4 => Clause {
            level: Level::MustNot,
            clause: "RFC 9325 §4.1",
            text: "Implementations MUST NOT negotiate RC4 cipher suites.",
        },
        CipherClass::Below112Bits => Clause {
            level: Level::MustNot,
            clause: "RFC 9325 §4.1",
            text: "Implementations MUST NOT negotiate cipher suites offering less than 112 bits \
                   of security, including so-called \"export-level\" encryption (which provides \
                   40 or 56 bits of security).",
        },
        CipherClass::TripleDes => Clause {
            level: Level::ShouldNot,
            clause: "RFC 9325 §4.1",
            text: "Implementations SHOULD NOT negotiate cipher suites that use algorithms \
                   offering less than 128 bits of security.",
        },
        CipherClass::StaticRsa => Clause {
            level: Level::ShouldNot,
            clause: "RFC 9325 §4.1",
            text: "Implementations SHOULD NOT negotiate cipher suites based on RSA key \
                   transport, a.k.a. \"static RSA\".",
        },
        CipherClass::StaticDh => Clause {
            level: Level::ShouldNot,
            clause: "RFC 9325 §4.1",
            text: "Implementations SHOULD NOT negotiate cipher suites based on non-ephemeral \
                   (static) finite-field Diffie-Hellman (DH) key agreement.  Similarly, \
                   implementations SHOULD NOT negotiate non-ephemeral Elliptic Curve DH key \
                   agreement.",
        },
    }
}

/// Builds the findings of one endpoint.
struct Collector<'a> {
    endpoint: &'a EndpointUnderTest,
    findings: Vec<Finding>,
}

impl Collector<'_> {
    fn add(&mut self, clause: Clause, observed: String, fix: impl Into<String>) {
        self.findings.push(Finding {
            endpoint: self.endpoint.label(),
            level: clause.level,
            verdict: if clause.level.is_absolute() {
                "fail"
            } else {
                "warn"
            },
            clause: clause.clause,
            text: clause.text,
            observed,
            fix: fix.into(),
        });
    }
}

/// The findings of one endpoint, heaviest first (MUST before SHOULD, then in the order the
/// probe met them).
pub fn judge(facts: &EndpointFacts) -> Vec<Finding> {
    let mut out = Collector {
        endpoint: &facts.endpoint,
        findings: Vec::new(),
    };
    let service = facts.endpoint.service;
    let expected_ns = match service {
        ProbeService::C2s => "jabber:client",
        ProbeService::S2s => "jabber:server",
    };
    if let Some(before) = &facts.before_tls {
        if before.content_namespace != expected_ns {
            out.add(
                CONTENT_NAMESPACE,
                format!(
                    "the probe opened a {expected_ns} stream; the response stream's content namespace is {:?}",
                    before.content_namespace
                ),
                "answer each stream in the namespace it was opened with (is this port the other service's?)",
            );
        }
        if !before.starttls_offered {
            let clause = if facts.starttls_proceeded == Some(true) {
                STARTTLS_ADVERTISED
            } else {
                TLS_SUPPORTED
            };
            out.add(
                clause,
                match facts.starttls_proceeded {
                    Some(true) => "no <starttls/> among the features, although the server then \
                                   answered <starttls/> with <proceed/>"
                        .to_owned(),
                    _ => "no <starttls/> among the features, and <starttls/> did not lead to TLS"
                        .to_owned(),
                },
                "enable TLS on this port and advertise <starttls/> with <required/>",
            );
        } else if !before.starttls_required {
            let mechanisms = if before.sasl_mechanisms.is_empty() {
                String::new()
            } else {
                format!(
                    "; SASL offered on the unencrypted stream: {}",
                    before.sasl_mechanisms.join(" ")
                )
            };
            out.add(
                STRICT_TLS,
                format!("<starttls/> offered without <required/>: plaintext is allowed{mechanisms}"),
                match service {
                    ProbeService::C2s => {
                        "require TLS for clients (Prosody: c2s_require_encryption = true; ejabberd: starttls_required: true)"
                    }
                    ProbeService::S2s => {
                        "require TLS for servers (Prosody: s2s_require_encryption = true; ejabberd: s2s_use_starttls: required)"
                    }
                },
            );
        }
        if before.sasl_mechanisms.iter().any(|m| m == "PLAIN") {
            out.add(
                NO_PLAIN_WITHOUT_TLS,
                format!(
                    "PLAIN offered before TLS (mechanisms: {})",
                    before.sasl_mechanisms.join(" ")
                ),
                "offer SASL only after TLS: require encryption on this port",
            );
        }
        let extra: Vec<&String> = before
            .features
            .iter()
            .filter(|f| *f != &format!("{{{}}}starttls", crate::proto::NS_TLS))
            .collect();
        if before.starttls_required && !extra.is_empty() {
            out.add(
                ONLY_STARTTLS_WHEN_REQUIRED,
                format!(
                    "TLS is required, yet the first features also list {}",
                    extra
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "advertise only <starttls/> before TLS",
            );
        }
    }
    for version in &facts.versions {
        use super::handshake::Version;
        let clause = match (version.version, version.accepted) {
            (Version::Tls10, Some(true)) => Some((NO_TLS10, "disable TLS 1.0")),
            (Version::Tls11, Some(true)) => Some((NO_TLS11, "disable TLS 1.1")),
            (Version::Tls12, Some(false)) => Some((TLS12, "enable TLS 1.2")),
            (Version::Tls13, Some(false)) => Some((TLS13, "enable TLS 1.3")),
            _ => None,
        };
        if let Some((clause, fix)) = clause {
            let verb = if version.accepted == Some(true) {
                "accepted"
            } else {
                "refused"
            };
            out.add(
                clause,
                format!(
                    "{} offered alone: {verb} ({})",
                    version.version.label(),
                    version.detail
                ),
                fix,
            );
        }
    }
    for class in &facts.cipher_classes {
        if class.accepted == Some(true) {
            out.add(
                class_clause(class.class),
                format!(
                    "TLS 1.2 with only {} suites offered: accepted ({})",
                    class.class, class.detail
                ),
                format!(
                    "remove the {} suites from the server's cipher list",
                    class.class
                ),
            );
        }
    }
    if let Some(chain) = &facts.chain {
        if !chain.validates {
            let reason = chain.validation_error.clone().unwrap_or_default();
            let observed = if chain.complete {
                format!(
                    "the chain does not validate against {}: {reason}",
                    chain.trust
                )
            } else {
                format!(
                    "the chain does not validate against {}: {reason}; it is incomplete (the last certificate presented, issued by \"{}\", is neither self-signed nor issued by a trusted root)",
                    chain.trust,
                    chain
                        .certificates
                        .last()
                        .map(|c| c.issuer.as_str())
                        .unwrap_or_default()
                )
            };
            let fix = if reason == "expired" {
                "renew the certificate (and automate renewal)"
            } else if !chain.complete {
                "serve the full chain: the leaf, then every intermediate (e.g. fullchain.pem)"
            } else {
                "use a certificate from a CA the clients trust"
            };
            let clause = match service {
                ProbeService::C2s => CHAIN_VALIDATES,
                ProbeService::S2s => SERVERS_AUTHENTICATE_SERVERS,
            };
            out.add(clause, observed, fix);
        }
        if !chain.in_order {
            out.add(
                CHAIN_ORDER,
                "the certificates after the leaf are not each the issuer of the one before".into(),
                "serve the leaf first, then each issuer in turn",
            );
        }
        let weak: Vec<String> = chain
            .certificates
            .iter()
            .filter(|c| {
                let algorithm = c.signature_algorithm.to_ascii_lowercase();
                algorithm.contains("sha1") || algorithm.contains("md5")
            })
            .map(|c| format!("{} ({})", c.subject, c.signature_algorithm))
            .collect();
        if !weak.is_empty() {
            out.add(
                SIGNATURE_ALGORITHM,
                format!(
                    "signed with a weaker hash than SHA-256: {}",
                    weak.join(", ")
                ),
                "reissue the certificate with a SHA-256 (or stronger) signature",
            );
        }
    }
    if let Some(identity) = &facts.identity {
        match &identity.rule {
            None => {
                let clause = match service {
                    ProbeService::C2s => SOURCE_DOMAIN,
                    ProbeService::S2s => SERVERS_AUTHENTICATE_SERVERS,
                };
                out.add(
                    clause,
                    format!(
                        "no identity in the certificate names the domain {}: {}",
                        identity.domain,
                        identity.mismatch.clone().unwrap_or_default()
                    ),
                    format!(
                        "include DNS:{} in the certificate's subjectAltName (the SRV target host is not enough)",
                        identity.domain
                    ),
                );
            }
            Some(_) if !identity.dns_id_names_domain => out.add(
                DNS_ID,
                format!(
                    "the domain is named only by {}",
                    identity.matched.clone().unwrap_or_default()
                ),
                format!("include DNS:{} in the subjectAltName", identity.domain),
            ),
            Some(_) => {}
        }
    }
    if let Some(after) = &facts.after_tls
        && service == ProbeService::C2s
        && after.sasl_mechanisms.iter().any(|m| m == "PLAIN")
        && !after
            .sasl_mechanisms
            .iter()
            .any(|m| m.starts_with("SCRAM-"))
    {
        out.add(
            PLAIN_ONLY_WITHOUT_SCRAM,
            format!(
                "after TLS: PLAIN without any SCRAM mechanism (mechanisms: {})",
                after.sasl_mechanisms.join(" ")
            ),
            "offer SCRAM-SHA-256 (and its -PLUS variant) beside or instead of PLAIN",
        );
    }
    let mut findings = out.findings;
    findings.sort_by_key(|f| !f.level.is_absolute());
    findings
}

/// The overall grade: `A` no finding, `B` SHOULD findings only, `F` at least one MUST broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Grade {
    /// No clause broken at any endpoint probed.
    A,
    /// Only SHOULD / SHOULD NOT clauses not followed.
    B,
    /// At least one MUST / MUST NOT broken.
    F,
}

impl Grade {
    /// The grade of all `findings`.
    pub fn of(findings: &[Finding]) -> Grade {
        if findings.iter().any(|f| f.level.is_absolute()) {
            Grade::F
        } else if findings.is_empty() {
            Grade::A
        } else {
            Grade::B
        }
    }

    /// One letter.
    pub fn letter(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::F => "F",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(level: Level) -> Finding {
        Finding {
            endpoint: "c2s".into(),
            level,
            verdict: if level.is_absolute() { "fail" } else { "warn" },
            clause: "RFC 0000 §0",
            text: "",
            observed: String::new(),
            fix: String::new(),
        }
    }

    /// The README's grade rules: A without findings, B with SHOULD findings only, F with any
    /// MUST or MUST NOT broken.
    #[test]
    fn the_grade_is_a_without_findings_b_with_should_only_and_f_with_any_must() {
        assert_eq!(Grade::of(&[]), Grade::A);
        assert_eq!(
            Grade::of(&[finding(Level::Should), finding(Level::ShouldNot)]),
            Grade::B
        );
        assert_eq!(
            Grade::of(&[finding(Level::Should), finding(Level::MustNot)]),
            Grade::F
        );
    }

    /// RFC 9325 §4.1: NULL, RC4 and under-112-bit suites are MUST NOT, the other classes
    /// SHOULD NOT.
    #[test]
    fn forbidden_suite_classes_carry_the_level_rfc9325_gives_them_rfc9325_4_1() {
        let must: Vec<CipherClass> = super::super::facts::CLASSES
            .into_iter()
            .filter(|class| class_clause(*class).level.is_absolute())
            .collect();
        assert_eq!(
            must,
            [
                CipherClass::NullEncryption,
                CipherClass::Rc4,
                CipherClass::Below112Bits
            ]
        );
    }
}
