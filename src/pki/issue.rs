//! Issuing: turns a [`ChainRecipe`] into certificates with rcgen.

use rand::RngCore;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CustomExtension, DistinguishedName, DnType,
    IsCa, KeyPair, SerialNumber,
};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use super::PkiError;
use super::chain::{ChainPem, IssuedChain};
use super::der;
use super::keys::{KeyRole, KeySource, WeakRsaKey, ecdsa_p256};
use super::recipe::{
    self, Anchor, CaRecipe, ChainRecipe, Identity, LeafKey, LeafRecipe, Presentation, Validity,
};
use crate::scenario::model::{CertificateProfile, KeyType};

/// A random, positive, 16-byte serial number (RFC 5280 §4.1.2.2: at most 20 octets, and CAs
/// are expected to make them unpredictable).
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    // Clear the sign bit so the INTEGER is positive, set the next one so it keeps 16 octets.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn generate_error(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> PkiError {
    let what = what.into();
    move |source| PkiError::Generate { what, source }
}

fn apply_validity(params: &mut CertificateParams, validity: Validity, now: OffsetDateTime) {
    params.not_before = now + validity.not_before;
    params.not_after = now + validity.not_after;
}

/// The parameters of a CA certificate.
fn ca_params(ca: &CaRecipe, now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, ca.organization);
    if let Some(ou) = ca.organizational_unit {
        dn.push(DnType::OrganizationalUnitName, ou);
    }
    dn.push(DnType::CommonName, ca.common_name);
    params.distinguished_name = dn;
    params.is_ca = match (ca.is_ca, ca.path_len) {
        (false, _) => IsCa::ExplicitNoCa,
        (true, Some(n)) => IsCa::Ca(BasicConstraints::Constrained(n)),
        (true, None) => IsCa::Ca(BasicConstraints::Unconstrained),
    };
    params.key_usages = recipe::ca_key_usages();
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    apply_validity(&mut params, ca.validity, now);
    params
}

/// The subjectAltName extension for the leaf's identities (none: no extension at all).
fn subject_alt_name(identities: &[Identity], domain: &str) -> Option<CustomExtension> {
    if identities.is_empty() {
        return None;
    }
    let names: Vec<der::GeneralName> = identities
        .iter()
        .map(|identity| match *identity {
            Identity::Dns(name) => der::GeneralName::Dns(name.render(domain)),
            Identity::Srv(service) => der::GeneralName::SrvName(format!("{service}.{domain}")),
            Identity::XmppAddr(name) => der::GeneralName::XmppAddr(name.render(domain)),
        })
        .collect();
    Some(CustomExtension::from_oid_content(
        &der::SUBJECT_ALT_NAME,
        der::subject_alt_name(&names),
    ))
}

/// The parameters of an end-entity certificate for `domain`.
fn leaf_params(
    leaf: &LeafRecipe,
    rsa_key: bool,
    domain: &str,
    self_signed: bool,
    now: OffsetDateTime,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, leaf.organization);
    dn.push(DnType::CommonName, leaf.common_name.render(domain));
    params.distinguished_name = dn;
    params
        .custom_extensions
        .extend(subject_alt_name(&leaf.identities, domain));
    // Explicit CA:FALSE. A self-signed leaf must not be a CA: webpki refuses a CA certificate
    // as an end entity, while it accepts a non-CA self-signed certificate as its own anchor.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = recipe::leaf_key_usages(rsa_key);
    params.extended_key_usages = leaf.extended_key_usages.clone();
    params.serial_number = Some(random_serial());
    // RFC 5280 §4.2.1.1: AKI is required except in self-signed certificates.
    params.use_authority_key_identifier_extension = !self_signed;
    apply_validity(&mut params, leaf.validity, now);
    params
}

/// The leaf's key: a key pair rcgen can sign with, or a weak key only the issuer signs for.
enum LeafKeyMaterial {
    /// A key of the chain's key type.
    Pair(Box<KeyPair>),
    /// The pooled 1024-bit RSA key.
    Weak(WeakRsaKey),
}

/// Issues the chain of `profile` for `domain`, taking keys from `keys`.
pub(crate) fn issue_chain(
    profile: CertificateProfile,
    key_type: KeyType,
    domain: &str,
    keys: &mut KeySource,
) -> Result<IssuedChain, PkiError> {
    let ChainRecipe {
        cas,
        leaf,
        presentation,
        anchor,
    } = recipe::recipe(profile);
    let now = OffsetDateTime::now_utc();

    // Walk down from the root; each CA signs the next one.
    let mut issuer: Option<(Certificate, KeyPair)> = None;
    let mut intermediates: Vec<(CertificateDer<'static>, String)> = Vec::new();
    let mut root: Option<(CertificateDer<'static>, String)> = None;
    for (depth, ca) in cas.iter().enumerate() {
        let role = if depth == 0 {
            KeyRole::Root
        } else {
            KeyRole::Intermediate
        };
        let key = keys.key_pair(key_type, role)?;
        let params = ca_params(ca, now);
        let cert = match &issuer {
            None => params.self_signed(&key),
            Some((issuer_cert, issuer_key)) => params.signed_by(&key, issuer_cert, issuer_key),
        }
        .map_err(generate_error(ca.common_name))?;
        let rendered = (cert.der().clone(), cert.pem());
        if depth == 0 {
            root = Some(rendered);
        } else {
            intermediates.push(rendered);
        }
        issuer = Some((cert, key));
    }

    let leaf_key = match leaf.key {
        LeafKey::ChainKeyType => {
            LeafKeyMaterial::Pair(Box::new(keys.key_pair(key_type, KeyRole::Leaf)?))
        }
        LeafKey::WeakRsa1024 => LeafKeyMaterial::Weak(keys.weak_rsa_1024()?),
    };
    let rsa_leaf = match &leaf_key {
        LeafKeyMaterial::Pair(_) => matches!(key_type, KeyType::Rsa2048 | KeyType::Rsa4096),
        LeafKeyMaterial::Weak(_) => true,
    };
    let params = leaf_params(&leaf, rsa_leaf, domain, issuer.is_none(), now);
    let what = format!("leaf certificate for {domain}");
    let leaf_cert = match (&issuer, &leaf_key) {
        (None, LeafKeyMaterial::Pair(pair)) => params.self_signed(pair.as_ref()),
        (Some((issuer_cert, issuer_key)), LeafKeyMaterial::Pair(pair)) => {
            params.signed_by(pair.as_ref(), issuer_cert, issuer_key)
        }
        (Some((issuer_cert, issuer_key)), LeafKeyMaterial::Weak(weak)) => {
            params.signed_by(&weak.public, issuer_cert, issuer_key)
        }
        (None, LeafKeyMaterial::Weak(_)) => {
            return Err(PkiError::Recipe(
                "a weak leaf key needs an issuing CA: it cannot sign itself",
            ));
        }
    }
    .map_err(generate_error(what))?;
    let leaf_rendered = (leaf_cert.der().clone(), leaf_cert.pem());
    let (key_der, key_pem) = match leaf_key {
        LeafKeyMaterial::Pair(pair) => {
            let der = pair.serialize_der();
            let pem =
                super::keys::ed25519_pkcs8_v1_pem(&der).unwrap_or_else(|| pair.serialize_pem());
            (PrivatePkcs8KeyDer::from(der), pem)
        }
        LeafKeyMaterial::Weak(weak) => (weak.pkcs8, weak.pem),
    };
    // A self-signed leaf is its own trust anchor.
    let (issuing_root, issuing_root_pem) = root.unwrap_or_else(|| leaf_rendered.clone());

    let mut presented = vec![leaf_rendered.0];
    let mut presented_pem = Vec::new();
    match presentation {
        Presentation::Leaf => {}
        Presentation::LeafAndIntermediates | Presentation::Everything => {
            for (der, pem) in intermediates.iter().rev() {
                presented.push(der.clone());
                presented_pem.push(pem.clone());
            }
        }
    }
    if presentation == Presentation::Everything {
        presented.push(issuing_root.clone());
        presented_pem.push(issuing_root_pem.clone());
    }
    let (root, root_pem) = match anchor {
        Anchor::IssuingRoot => (issuing_root, issuing_root_pem),
        Anchor::StandIn => {
            // A fresh ECDSA key, as for the unrelated root: pooled RSA keys would give the
            // stand-in the very key of the root that issued the chain.
            let ca = recipe::stand_in_root();
            let key = ecdsa_p256()?;
            let cert = ca_params(&ca, now)
                .self_signed(&key)
                .map_err(generate_error(ca.common_name))?;
            (cert.der().clone(), cert.pem())
        }
    };
    let pem = ChainPem {
        leaf: leaf_rendered.1,
        intermediates: presented_pem,
        root: root_pem,
        key: key_pem,
    };
    Ok(IssuedChain {
        profile,
        key_type,
        domain: domain.to_owned(),
        presented,
        key: key_der,
        root,
        pem,
    })
}

/// Issues the root that signs nothing, on a fresh ECDSA key.
pub(crate) fn issue_unrelated_root() -> Result<Certificate, PkiError> {
    let ca = recipe::unrelated_root();
    let key = ecdsa_p256()?;
    ca_params(&ca, OffsetDateTime::now_utc())
        .self_signed(&key)
        .map_err(generate_error(ca.common_name))
}
