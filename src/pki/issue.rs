//! Issuing: turns a [`ChainRecipe`] into certificates with rcgen.

use rand::RngCore;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
    SanType, SerialNumber,
};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use super::PkiError;
use super::chain::{ChainPem, IssuedChain};
use super::keys::{KeyRole, KeySource, ecdsa_p256};
use super::recipe::{self, CaRecipe, ChainRecipe, LeafRecipe, Validity};
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
    params.is_ca = IsCa::Ca(match ca.path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = recipe::ca_key_usages();
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    apply_validity(&mut params, ca.validity, now);
    params
}

/// The parameters of an end-entity certificate for `domain`.
fn leaf_params(
    leaf: &LeafRecipe,
    key_type: KeyType,
    domain: &str,
    self_signed: bool,
    now: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, leaf.organization);
    dn.push(DnType::CommonName, domain);
    params.distinguished_name = dn;
    let dns = domain
        .try_into()
        .map_err(generate_error(format!("DNS name {domain:?}")))?;
    params.subject_alt_names = vec![SanType::DnsName(dns)];
    // Explicit CA:FALSE. A self-signed leaf must not be a CA: webpki refuses a CA certificate
    // as an end entity, while it accepts a non-CA self-signed certificate as its own anchor.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = recipe::leaf_key_usages(key_type);
    params.extended_key_usages = leaf.extended_key_usages.clone();
    params.serial_number = Some(random_serial());
    // RFC 5280 §4.2.1.1: AKI is required except in self-signed certificates.
    params.use_authority_key_identifier_extension = !self_signed;
    apply_validity(&mut params, leaf.validity, now);
    Ok(params)
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
        present_intermediates,
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

    let leaf_key = keys.key_pair(key_type, KeyRole::Leaf)?;
    let params = leaf_params(&leaf, key_type, domain, issuer.is_none(), now)?;
    let what = format!("leaf certificate for {domain}");
    let leaf_cert = match &issuer {
        None => params.self_signed(&leaf_key),
        Some((issuer_cert, issuer_key)) => params.signed_by(&leaf_key, issuer_cert, issuer_key),
    }
    .map_err(generate_error(what))?;
    let leaf_rendered = (leaf_cert.der().clone(), leaf_cert.pem());
    // A self-signed leaf is its own trust anchor.
    let (root, root_pem) = root.unwrap_or_else(|| leaf_rendered.clone());

    // Intermediates the recipe does not present appear neither on the wire nor in the files.
    if !present_intermediates {
        intermediates.clear();
    }
    let mut presented = vec![leaf_rendered.0];
    presented.extend(intermediates.iter().map(|(der, _)| der.clone()));
    let pem = ChainPem {
        leaf: leaf_rendered.1,
        intermediates: intermediates.into_iter().map(|(_, pem)| pem).collect(),
        root: root_pem,
        key: leaf_key.serialize_pem(),
    };
    Ok(IssuedChain {
        profile,
        key_type,
        domain: domain.to_owned(),
        presented,
        key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
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
