//! Validation and matrix expansion: from a [`RawScenario`] to a [`Scenario`] with its cases.

use std::path::Path;

use serde_saphyr::{Location, Spanned};

use super::keyword::Keyword;
use super::model::{
    CaseSpec, CertificateProfile, ChannelBindingType, Expectation, IdentityType, KeyType,
    Mechanism, S2sCase, Sasl, Scenario, TlsProfile, TlsStack, TlsVersion, Transport, Trust,
};
use super::raw::{Axis, CertificateChoice, MATRIX_KEYS, RawRole, RawScenario};

/// A line and column (both 1-based) in a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
}

impl Position {
    /// The start of the document, for problems that belong to no particular node.
    pub const START: Position = Position { line: 1, column: 1 };

    /// Where `location` points, or the document start if the parser did not say.
    pub fn of(location: Location) -> Position {
        if location == Location::UNKNOWN {
            Position::START
        } else {
            Position {
                line: location.line(),
                column: location.column(),
            }
        }
    }

    /// Where a located value was written.
    pub fn at<T>(spanned: &Spanned<T>) -> Position {
        Position::of(spanned.referenced)
    }
}

/// One thing wrong with a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Where it is.
    pub at: Position,
    /// `what is wrong; expected ...`.
    pub message: String,
}

impl Problem {
    /// A problem at `at`.
    fn new(at: Position, message: impl Into<String>) -> Problem {
        Problem {
            at,
            message: message.into(),
        }
    }
}

/// Whether `id` has the form `[a-z0-9][a-z0-9-]*`.
fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The values one setting takes across the cases of a scenario.
struct Dimension<T> {
    /// One value (top level or default), or the matrix list.
    values: Vec<T>,
    /// Whether the values come from `matrix:` and so appear in case ids.
    in_id: bool,
}

impl<T: Keyword> Dimension<T> {
    /// The case-id component for `value`, if this dimension is a matrix one.
    fn label(&self, value: T) -> Option<String> {
        self.in_id.then(|| value.keyword().to_lowercase())
    }
}

/// Checks one matrix list (non-empty, no repeats) and whether the same setting is also given
/// outside the matrix (`elsewhere`, with the name used in messages).
fn check_axis<T: Keyword>(
    axis: &Axis<T>,
    elsewhere: Option<Position>,
    problems: &mut Vec<Problem>,
) {
    let key = &axis.key.value;
    if let Some(other) = elsewhere {
        problems.push(Problem::new(
            Position::at(&axis.key),
            format!(
                "`{key}` is set both in matrix and at line {}, column {}; expected it in one place only",
                other.line, other.column
            ),
        ));
    }
    let values = &axis.values.value;
    if values.is_empty() {
        problems.push(Problem::new(
            Position::at(&axis.values),
            format!(
                "matrix `{key}` list is empty; expected at least one of {}",
                T::one_of()
            ),
        ));
    }
    for (i, value) in values.iter().enumerate() {
        if let Some(first) = values[..i].iter().find(|v| v.value == value.value) {
            let first = Position::at(first);
            problems.push(Problem::new(
                Position::at(value),
                format!(
                    "duplicate value `{}` in matrix `{key}` (first at line {}, column {}); expected each value once",
                    value.value.keyword(),
                    first.line,
                    first.column
                ),
            ));
        }
    }
}

/// The values of a setting: the matrix list, else the top-level value, else `default`.
/// `None` if the setting is required and given nowhere.
fn dimension<T: Keyword>(
    axis: Option<&Axis<T>>,
    top: Option<T>,
    default: Option<T>,
) -> Option<Dimension<T>> {
    match axis {
        Some(axis) => Some(Dimension {
            values: axis.values.value.iter().map(|v| v.value).collect(),
            in_id: true,
        }),
        None => top.or(default).map(|v| Dimension {
            values: vec![v],
            in_id: false,
        }),
    }
}

/// A list of keywords must hold at least one and each once: a problem for an empty `list`
/// (`what` names it) and one for every repeat (`item` names the element, `each` the noun of
/// "expected each ... once"), pointing at the repeat and its first place.
fn check_keyword_list<T: Keyword>(
    list: &Spanned<Vec<Spanned<T>>>,
    what: &str,
    item: &str,
    each: &str,
    problems: &mut Vec<Problem>,
) {
    if list.value.is_empty() {
        problems.push(Problem::new(
            Position::at(list),
            format!("{what} is empty; expected at least one of {}", T::one_of()),
        ));
    }
    for (i, value) in list.value.iter().enumerate() {
        if let Some(first) = list.value[..i].iter().find(|v| v.value == value.value) {
            let first = Position::at(first);
            problems.push(Problem::new(
                Position::at(value),
                format!(
                    "duplicate {item} `{}` (first at line {}, column {}); expected each {each} once",
                    value.value.keyword(),
                    first.line,
                    first.column
                ),
            ));
        }
    }
}

/// The `identity:` list (non-empty, no repeats), or [`IdentityType::DEFAULT`] when absent.
fn identity_types(
    identity: Option<&Spanned<Vec<Spanned<IdentityType>>>>,
    problems: &mut Vec<Problem>,
) -> Vec<IdentityType> {
    let Some(list) = identity else {
        return IdentityType::DEFAULT.to_vec();
    };
    check_keyword_list(list, "identity list", "identity type", "type", problems);
    list.value.iter().map(|v| v.value).collect()
}

/// The `tls:` settings (a stack, and a non-empty list of versions without repeats), checked
/// against what needs them: only c2s cases choose a stack, only the OpenSSL stack serves no
/// client certificates, and `tls-unique` and a class of forbidden suites (`ciphers`) need
/// OpenSSL on TLS 1.2 alone.
fn tls_profile(raw: &RawScenario, problems: &mut Vec<Problem>) -> TlsProfile {
    let tls = raw.tls.as_ref();
    let stack = tls
        .and_then(|t| t.value.stack.as_ref())
        .map(|s| s.value)
        .unwrap_or_default();
    let versions = tls.and_then(|t| t.value.versions.as_ref());
    if let Some(list) = versions {
        check_keyword_list(
            list,
            "tls versions list",
            "TLS version",
            "version",
            problems,
        );
    }
    let mut versions: Vec<TlsVersion> = versions
        .map(|list| list.value.iter().map(|v| v.value).collect())
        .unwrap_or_default();
    versions.sort();
    versions.dedup();
    let ciphers = tls.and_then(|t| t.value.ciphers.as_ref());
    if let Some(ciphers) = ciphers
        && (stack != TlsStack::Openssl || versions != [TlsVersion::Tls12])
    {
        problems.push(Problem::new(
            Position::at(ciphers),
            format!(
                "only the OpenSSL stack can offer or accept `{}` suites, and only TLS 1.2 \
                 chooses among them (RFC 9325 §4.1); expected `tls: {{ stack: openssl, \
                 versions: [TLS1.2], ciphers: {} }}`",
                ciphers.value.keyword(),
                ciphers.value.keyword()
            ),
        ));
    }
    let profile = TlsProfile {
        stack,
        versions,
        ciphers: ciphers.map(|c| c.value),
    };
    if stack == TlsStack::Rustls
        && let Some(deprecated) = tls
            .and_then(|t| t.value.versions.as_ref())
            .and_then(|list| list.value.iter().find(|v| v.value.is_deprecated()))
    {
        problems.push(Problem::new(
            Position::at(deprecated),
            format!(
                "rustls speaks TLS 1.2 and 1.3 only, not {}; expected `stack: openssl` for a \
                 case that offers a version RFC 8996 forbids",
                deprecated.value.keyword()
            ),
        ));
    }
    if let (Some(tls), Some(role)) = (tls, &raw.role)
        && role.value.s2s().is_some()
    {
        problems.push(Problem::new(
            Position::at(tls),
            format!(
                "`tls:` applies to client-to-server cases, not to role {}; expected role: \
                 client or role: server",
                role.value.keyword()
            ),
        ));
    }
    let sasl = raw.sasl.as_ref().map(|s| &s.value);
    if stack == TlsStack::Openssl
        && let Some(certificate) = sasl.and_then(|s| s.client_certificate.as_ref())
    {
        problems.push(Problem::new(
            Position::at(certificate),
            "the OpenSSL stack neither presents nor verifies client certificates here; \
             expected `tls.stack: rustls` (the default) for a client-certificate case",
        ));
    }
    if let Some(binding) = sasl.and_then(|s| s.channel_binding.as_ref())
        && binding.value == ChannelBindingType::TlsUnique
        && (stack != TlsStack::Openssl || profile.versions != [TlsVersion::Tls12])
    {
        problems.push(Problem::new(
            Position::at(binding),
            "`tls-unique` needs the first Finished message of a TLS 1.2 handshake (RFC 5929 \
             §3.1; RFC 9266 §3 leaves it undefined for TLS 1.3), which only the OpenSSL stack \
             exposes; expected `tls: { stack: openssl, versions: [TLS1.2] }`",
        ));
    }
    profile
}

/// Validates `raw` (loaded from `source`) and expands its matrix.
///
/// On success also returns where `id:` is, for the duplicate-id check across files.
pub(crate) fn resolve(
    raw: RawScenario,
    source: &Path,
) -> Result<(Scenario, Position), Vec<Problem>> {
    let mut problems = Vec::new();
    let missing = |field: &str, expected: String| {
        Problem::new(
            Position::START,
            format!("missing required field `{field}`; expected {expected}"),
        )
    };

    if raw.id.is_none() {
        problems.push(missing("id", "`id: some-name`".into()));
    }
    if let Some(id) = &raw.id
        && !valid_id(&id.value)
    {
        problems.push(Problem::new(
            Position::at(id),
            format!(
                "invalid id `{}`; expected lowercase letters, digits and `-`, not starting with `-`",
                id.value
            ),
        ));
    }
    match &raw.title {
        None => problems.push(missing("title", "a one-line description".into())),
        Some(title) if title.value.trim().is_empty() => problems.push(Problem::new(
            Position::at(title),
            "title is empty; expected a one-line description",
        )),
        Some(_) => {}
    }
    match &raw.spec {
        None => problems.push(missing("spec", "a list of specification clauses".into())),
        Some(spec) if spec.value.is_empty() => problems.push(Problem::new(
            Position::at(spec),
            "spec is empty; expected at least one specification clause",
        )),
        Some(_) => {}
    }
    if raw.role.is_none() {
        problems.push(missing("role", format!("one of {}", RawRole::one_of())));
    }
    if raw.expect.is_none() {
        problems.push(missing(
            "expect",
            "`authenticated` or `rejected: { step: ... }`".into(),
        ));
    }
    check_requirement(&raw, &mut problems);

    let sasl = raw.sasl.as_ref();
    let top_mechanism = sasl.and_then(|s| s.value.mechanism.as_ref());
    let top_credentials = sasl.and_then(|s| s.value.credentials.as_ref());
    let channel_binding = sasl
        .and_then(|s| s.value.channel_binding.as_ref())
        .map(|s| s.value);
    let client_certificate = sasl.and_then(|s| s.value.client_certificate.as_ref());
    if let Some(profile) = client_certificate
        && !profile.value.is_client_certificate()
    {
        problems.push(Problem::new(
            Position::at(profile),
            format!(
                "`{}` is a server certificate profile; expected one of client-alice, \
                 client-wrong-jid, client-expired, client-untrusted",
                profile.value.keyword()
            ),
        ));
    }
    let client_certificate = client_certificate.map(|s| s.value);
    let also_offered = sasl.and_then(|s| s.value.also_offered.as_ref());
    if let Some(also) = also_offered {
        if raw
            .role
            .as_ref()
            .is_some_and(|r| r.value != RawRole::Server)
        {
            problems.push(Problem::new(
                Position::at(also),
                "`sasl.also-offered` needs `role: server`: only the harness as server offers \
                 mechanisms for the client to choose from",
            ));
        }
        if top_mechanism.is_some_and(|m| also.value.contains(&m.value)) {
            problems.push(Problem::new(
                Position::at(also),
                "`sasl.also-offered` repeats `sasl.mechanism`; expected only the weaker \
                 mechanisms offered beside it",
            ));
        }
    }
    let also_offered = also_offered.map(|s| s.value.clone()).unwrap_or_default();
    let profile = sasl
        .and_then(|s| s.value.profile.as_ref())
        .map(|s| s.value)
        .unwrap_or_default();
    let downgrade_protection = sasl.and_then(|s| s.value.downgrade_protection.as_ref());
    let matrix = raw.matrix.as_ref().map(|m| &m.value);
    if let Some(flag) = downgrade_protection
        && flag.value
    {
        let not_scram = top_mechanism
            .into_iter()
            .chain(
                matrix
                    .and_then(|m| m.sasl_mechanism.as_ref())
                    .into_iter()
                    .flat_map(|a| a.values.value.iter()),
            )
            .find(|m| !m.value.is_scram());
        if let Some(mechanism) = not_scram {
            problems.push(Problem::new(
                Position::at(mechanism),
                format!(
                    "`sasl.downgrade-protection: true` (XEP-0474) protects SCRAM only, but this \
                     scenario uses {}; expected a SCRAM mechanism or no downgrade-protection",
                    mechanism.value
                ),
            ));
        }
    }
    let downgrade_protection = downgrade_protection.is_some_and(|flag| flag.value);
    if client_certificate.is_none() {
        let external_at = top_mechanism
            .into_iter()
            .chain(
                matrix
                    .and_then(|m| m.sasl_mechanism.as_ref())
                    .into_iter()
                    .flat_map(|a| a.values.value.iter()),
            )
            .find(|m| m.value == Mechanism::External);
        if let Some(external) = external_at {
            problems.push(Problem::new(
                Position::at(external),
                "EXTERNAL needs a client certificate; expected `sasl.client-certificate: \
                 client-alice` (or another client-* profile)",
            ));
        }
    }

    if let Some(m) = &raw.matrix {
        let all_keys = MATRIX_KEYS.join(", ");
        for key in &m.value.unknown {
            problems.push(Problem::new(
                Position::at(key),
                format!(
                    "unknown field `{}` in matrix; expected one of {all_keys}",
                    key.value
                ),
            ));
        }
        let m = &m.value;
        if let Some(a) = &m.transport {
            check_axis(a, raw.transport.as_ref().map(Position::at), &mut problems);
        }
        if let Some(a) = &m.certificate {
            check_axis(a, raw.certificate.as_ref().map(Position::at), &mut problems);
        }
        if let Some(a) = &m.key {
            check_axis(a, raw.key.as_ref().map(Position::at), &mut problems);
        }
        if let Some(a) = &m.trust {
            check_axis(a, raw.trust.as_ref().map(Position::at), &mut problems);
        }
        if let Some(a) = &m.sasl_mechanism {
            check_axis(a, top_mechanism.map(Position::at), &mut problems);
        }
        if let Some(a) = &m.sasl_credentials {
            check_axis(a, top_credentials.map(Position::at), &mut problems);
        }
    }
    if let Some(m) = &raw.matrix
        && m.value.unknown.is_empty()
        && m.value.transport.is_none()
        && m.value.certificate.is_none()
        && m.value.key.is_none()
        && m.value.trust.is_none()
        && m.value.sasl_mechanism.is_none()
        && m.value.sasl_credentials.is_none()
    {
        problems.push(Problem::new(
            Position::at(m),
            format!(
                "matrix is empty; expected one or more of {}",
                MATRIX_KEYS.join(", ")
            ),
        ));
    }

    let transport = dimension(
        matrix.and_then(|m| m.transport.as_ref()),
        raw.transport.as_ref().map(|s| s.value),
        None,
    );
    if transport.is_none() {
        problems.push(missing(
            "transport",
            format!("one of {} here or as a matrix list", Transport::one_of()),
        ));
    }
    let certificate_choice = match &raw.certificate {
        None => None,
        Some(name) => {
            let choice = CertificateChoice::from_name(&name.value);
            if choice.is_none() {
                problems.push(Problem::new(
                    Position::at(name),
                    format!(
                        "unknown value `{}`; expected one of any, {}",
                        name.value,
                        CertificateProfile::one_of()
                    ),
                ));
            }
            choice
        }
    };
    let certificate_pinned = matrix.is_some_and(|m| m.certificate.is_some())
        || certificate_choice.is_some_and(|c| c != CertificateChoice::Any);
    let certificate = dimension(
        matrix.and_then(|m| m.certificate.as_ref()),
        certificate_choice.map(|choice| match choice {
            CertificateChoice::Any => CertificateProfile::DEFAULT_CHAIN,
            CertificateChoice::Profile(profile) => profile,
        }),
        None,
    );
    if certificate.is_none() && raw.certificate.is_none() {
        problems.push(missing(
            "certificate",
            format!(
                "one of {} here or as a matrix list, or `any`",
                CertificateProfile::one_of()
            ),
        ));
    }
    let key_pinned = matrix.is_some_and(|m| m.key.is_some()) || raw.key.is_some();
    let key = dimension(
        matrix.and_then(|m| m.key.as_ref()),
        raw.key.as_ref().map(|s| s.value),
        Some(KeyType::default()),
    );
    let trust = dimension(
        matrix.and_then(|m| m.trust.as_ref()),
        raw.trust.as_ref().map(|s| s.value),
        Some(Trust::default()),
    );
    let s2s_direction = raw.role.as_ref().and_then(|r| r.value.s2s());
    let s2s = s2s_section(&raw, &mut problems);
    let mechanism = dimension(
        matrix.and_then(|m| m.sasl_mechanism.as_ref()),
        top_mechanism.map(|s| s.value),
        // s2s cases authenticate with EXTERNAL or dialback as `s2s:` and the policy decide.
        s2s_direction.map(|_| Mechanism::External),
    );
    if mechanism.is_none() {
        problems.push(Problem::new(
            sasl.map_or(Position::START, Position::at),
            format!(
                "missing required field `sasl.mechanism`; expected one of {} under `sasl:` or as a matrix list",
                Mechanism::one_of()
            ),
        ));
    }
    let credentials = dimension(
        matrix.and_then(|m| m.sasl_credentials.as_ref()),
        top_credentials.map(|s| s.value),
        Some(Default::default()),
    );

    let identity = identity_types(raw.identity.as_ref(), &mut problems);
    let tls = tls_profile(&raw, &mut problems);

    if let Some(role) = &raw.role {
        for m in &raw.misbehave {
            let needs = m.value.role();
            if role.value.s2s().is_some() || needs != role.value.harness_role() {
                problems.push(Problem::new(
                    Position::at(m),
                    format!(
                        "misbehaviour `{}` needs the harness in role {}, but this scenario has role {}; expected role: {} or no such misbehaviour",
                        m.value.keyword(),
                        needs.keyword(),
                        role.value.keyword(),
                        needs.keyword()
                    ),
                ));
            }
        }
    }

    if transport
        .as_ref()
        .is_some_and(|t| t.values.contains(&Transport::Plaintext))
    {
        let trust_values: Vec<&Spanned<Trust>> = match matrix.and_then(|m| m.trust.as_ref()) {
            Some(axis) => axis.values.value.iter().collect(),
            None => raw.trust.iter().collect(),
        };
        for t in trust_values {
            if t.value == Trust::UnrelatedRoot {
                problems.push(Problem::new(
                    Position::at(t),
                    "trust `unrelated-root` is meaningless with transport `plaintext` (no certificate is ever presented); expected `chain-root` or a TLS transport",
                ));
            }
        }
    }

    let (
        Some(id),
        Some(title),
        Some(spec),
        Some(role),
        Some(expect),
        Some(requirement),
        Some(transport),
        Some(certificate),
        Some(key),
        Some(trust),
        Some(mechanism),
        Some(credentials),
    ) = (
        raw.id,
        raw.title,
        raw.spec,
        raw.role,
        raw.expect,
        raw.requirement,
        transport,
        certificate,
        key,
        trust,
        mechanism,
        credentials,
    )
    else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }

    let id_at = Position::at(&id);
    let misbehave: Vec<_> = raw.misbehave.iter().map(|m| m.value).collect();
    let self_test = raw.self_test.as_ref().is_some_and(|flag| flag.value);
    let mandatory_to_implement = raw
        .mandatory_to_implement
        .as_ref()
        .is_some_and(|flag| flag.value);
    let requirement_for = raw
        .requirement_for
        .as_ref()
        .map(|r| r.value.clone())
        .unwrap_or_default();
    let mut cases = Vec::new();
    for &tr in &transport.values {
        for &ce in &certificate.values {
            for &ke in &key.values {
                for &tu in &trust.values {
                    for &me in &mechanism.values {
                        for &cr in &credentials.values {
                            let parts: Vec<String> = [
                                transport.label(tr),
                                certificate.label(ce),
                                key.label(ke),
                                trust.label(tu),
                                mechanism.label(me),
                                credentials.label(cr),
                            ]
                            .into_iter()
                            .flatten()
                            .collect();
                            let case_requirement = parts
                                .iter()
                                .find_map(|part| requirement_for.get(part))
                                .unwrap_or(&requirement.value)
                                .clone();
                            let control_for = raw.control_for.as_ref().and_then(|by_value| {
                                parts.iter().find_map(|part| by_value.value.get(part))
                            });
                            let control = control_for.or(raw.control.as_ref().map(|c| &c.value));
                            let control = control.map(|template| {
                                fill_control(
                                    template,
                                    &[
                                        ("transport", tr.keyword()),
                                        ("certificate", ce.keyword()),
                                        ("key", ke.keyword()),
                                        ("trust", tu.keyword()),
                                        ("sasl.mechanism", me.keyword()),
                                        ("sasl.credentials", cr.keyword()),
                                    ],
                                )
                            });
                            let case_id = std::iter::once(id.value.clone())
                                .chain(parts)
                                .collect::<Vec<_>>()
                                .join("/");
                            cases.push(CaseSpec {
                                id: case_id,
                                scenario: id.value.clone(),
                                title: title.value.clone(),
                                spec: spec.value.clone(),
                                tags: raw.tags.clone(),
                                source: source.to_owned(),
                                role: role.value.harness_role(),
                                transport: tr,
                                certificate: ce,
                                key: ke,
                                certificate_pinned,
                                key_pinned,
                                trust: tu,
                                identity: identity.clone(),
                                tls: tls.clone(),
                                sasl: Sasl {
                                    mechanism: me,
                                    credentials: cr,
                                    channel_binding,
                                    client_certificate,
                                    also_offered: also_offered.clone(),
                                    profile,
                                    downgrade_protection,
                                },
                                misbehave: misbehave.clone(),
                                s2s: s2s_direction.map(|direction| S2sCase {
                                    direction,
                                    ..s2s.clone()
                                }),
                                expect: expect.clone(),
                                requirement: case_requirement,
                                recommended: raw.recommended.as_ref().map(|r| r.value.clone()),
                                control,
                                self_test,
                                mandatory_to_implement,
                            });
                        }
                    }
                }
            }
        }
    }

    let override_keys = raw
        .requirement_for
        .iter()
        .map(|r| {
            (
                Position::at(r),
                r.value.keys().collect::<Vec<_>>(),
                "requirement-for",
            )
        })
        .chain(raw.control_for.iter().map(|c| {
            (
                Position::at(c),
                c.value.keys().collect::<Vec<_>>(),
                "control-for",
            )
        }));
    for (at, keys, field) in override_keys {
        for value in keys {
            let used = cases
                .iter()
                .any(|case| case.id.split('/').skip(1).any(|part| part == value));
            if !used {
                problems.push(Problem::new(
                    at,
                    format!(
                        "`{field}` names `{value}`, which is no matrix value of this scenario; \
                         expected a value from `matrix:` as it appears in case ids"
                    ),
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let scenario = Scenario {
        id: id.value,
        title: title.value,
        spec: spec.value,
        tags: raw.tags,
        source: source.to_owned(),
        cases,
        control_only: false,
    };
    Ok((scenario, id_at))
}

/// The placeholders a `control:` template may use, in matrix-key order.
const CONTROL_PLACEHOLDERS: [&str; 6] = MATRIX_KEYS;

/// `template` with every `{key}` replaced by the case's value of that setting, in case-id form.
fn fill_control(template: &str, values: &[(&str, &str)]) -> String {
    let mut filled = template.to_owned();
    for (key, value) in values {
        filled = filled.replace(&format!("{{{key}}}"), &value.to_lowercase());
    }
    filled
}

/// The problems of the normative fields: `requirement:` present, `control:` on every negative
/// scenario (a positive one may name one too, when it needs something another case shows the
/// target has) and with known placeholders, `mandatory-to-implement:` only on positive ones.
fn check_requirement(raw: &RawScenario, problems: &mut Vec<Problem>) {
    if raw.requirement.is_none() {
        problems.push(Problem::new(
            Position::START,
            "missing required field `requirement`; expected `requirement: { level: MUST, \
             clause: RFC 6120 §6.4.6, text: ... }` quoting the clause the scenario checks",
        ));
    }
    for requirement in raw
        .requirement
        .iter()
        .map(|r| (&r.value, Position::at(r)))
        .chain(raw.requirement_for.iter().flat_map(|overrides| {
            let at = Position::at(overrides);
            overrides.value.values().map(move |r| (r, at))
        }))
    {
        let (requirement, at) = requirement;
        if requirement.clause.trim().is_empty() || requirement.text.trim().is_empty() {
            problems.push(Problem::new(
                at,
                "requirement has an empty `clause` or `text`; expected the clause and the \
                 sentence quoted from it",
            ));
        }
    }
    let negative = matches!(
        raw.expect,
        Some(Expectation::Rejected(_) | Expectation::S2sNotAuthenticated(_))
    );
    if let Some(recommended) = &raw.recommended
        && !recommended.value.requirement.level.is_recommendation()
    {
        problems.push(Problem::new(
            Position::at(recommended),
            format!(
                "`recommended` carries level {}; expected SHOULD or SHOULD NOT (a MUST belongs \
                 in `expect`)",
                recommended.value.requirement.level
            ),
        ));
    }
    let self_test = raw.self_test.as_ref().is_some_and(|flag| flag.value);
    match &raw.control {
        Some(control) => {
            let mut rest = control.value.as_str();
            while let Some(open) = rest.find('{') {
                let after = &rest[open + 1..];
                let Some(close) = after.find('}') else {
                    problems.push(Problem::new(
                        Position::at(control),
                        "unclosed `{` in control; expected `{transport}`, `{sasl.mechanism}`...",
                    ));
                    break;
                };
                let key = &after[..close];
                if !CONTROL_PLACEHOLDERS.contains(&key) {
                    problems.push(Problem::new(
                        Position::at(control),
                        format!(
                            "unknown placeholder `{{{key}}}` in control; expected one of {}",
                            CONTROL_PLACEHOLDERS
                                .iter()
                                .map(|k| format!("{{{k}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                rest = &after[close + 1..];
            }
        }
        None if matches!(raw.expect, Some(Expectation::Rejected(_)))
            && !self_test
            && raw.role.is_some() =>
        {
            problems.push(Problem::new(
                raw.id.as_ref().map_or(Position::START, Position::at),
                "a negative scenario needs `control: CASE-ID`, the case with the same settings and \
             no misbehaviour that the target must pass for its refusal to mean anything (or \
             `self-test: true` when only the harness's own verifier is judged)",
            ));
        }
        None => {}
    }
    if let Some(flag) = &raw.mandatory_to_implement
        && flag.value
        && negative
    {
        problems.push(Problem::new(
            Position::at(flag),
            "`mandatory-to-implement` checks that a feature works, so it needs `expect: \
             authenticated`",
        ));
    }
}

/// The `s2s:` section with its defaults (the direction is filled in from `role:`), and the
/// problems of combining it with the rest of the scenario.
fn s2s_section(raw: &RawScenario, problems: &mut Vec<Problem>) -> S2sCase {
    let role = raw.role.as_ref();
    let direction = role.and_then(|r| r.value.s2s());
    if direction.is_some()
        && let Some(sasl) = &raw.sasl
    {
        problems.push(Problem::new(
            Position::at(sasl),
            "server-to-server scenarios take no `sasl:`; EXTERNAL or dialback follow from \
             `s2s.originating-certificate` and `s2s.policy`",
        ));
    }
    let mut case = S2sCase {
        direction: direction.unwrap_or(super::model::S2sDirection::Originating),
        originating_certificate: None,
        originating_trust: Trust::default(),
        policy: Default::default(),
        dialback_key: Default::default(),
        authority: Default::default(),
    };
    let Some(section) = &raw.s2s else {
        return case;
    };
    if direction.is_none() {
        problems.push(Problem::new(
            Position::at(section),
            "`s2s:` needs `role: originating` or `role: receiving`",
        ));
    }
    let s2s = &section.value;
    if let Some(profile) = &s2s.originating_certificate {
        if profile.value.is_client_certificate() {
            problems.push(Problem::new(
                Position::at(profile),
                format!(
                    "`{}` is a client certificate profile; a server presents a server profile \
                     such as startcom-chain, wrong-domain or srv-id-server-only",
                    profile.value.keyword()
                ),
            ));
        }
        case.originating_certificate = Some(profile.value);
    }
    let harness_only = [
        ("dialback-key", s2s.dialback_key.as_ref().map(Position::at)),
        ("authority", s2s.authority.as_ref().map(Position::at)),
    ];
    for (field, at) in harness_only {
        if let Some(at) = at
            && direction == Some(super::model::S2sDirection::Receiving)
        {
            problems.push(Problem::new(
                at,
                format!(
                    "`s2s.{field}` needs `role: originating`: only the harness as originating \
                     server sends the key and runs the authoritative server"
                ),
            ));
        }
    }
    case.originating_trust = s2s
        .originating_trust
        .as_ref()
        .map_or_else(Trust::default, |t| t.value);
    case.policy = s2s
        .policy
        .as_ref()
        .map_or_else(Default::default, |p| p.value);
    case.dialback_key = s2s
        .dialback_key
        .as_ref()
        .map_or_else(Default::default, |k| k.value);
    case.authority = s2s
        .authority
        .as_ref()
        .map_or_else(Default::default, |a| a.value);
    case
}
