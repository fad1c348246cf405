//! `probe DOMAIN --account JID`: the c2s endpoints discovery found become one external target
//! (`certificate: own`, the system's roots or `--root`), so that the built-in c2s scenarios
//! judge the service's real chain and login by the XMPP rules; and their verdicts, summed up,
//! become the `scenarios` part of the probe's report.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use serde::Serialize;

use super::{EndpointUnderTest, ProbeReport, ProbeService};
use crate::report::record::{CaseRecord, Verdict};
use crate::targets::external::{DeclaredChain, ExternalSpec, TrustedRoot};
use crate::targets::{Target, TargetRole};

/// The name of the target the scenarios run against (the matrix column of `--out`'s reports).
pub const TARGET_NAME: &str = "probe";

/// Why the account's scenarios cannot run.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The JID is not `user@domain`.
    #[error("bad account JID `{0}`; expected `user@DOMAIN`")]
    BadJid(String),
    /// The account is on another domain than the one probed.
    #[error(
        "the account {jid} is not on {domain}: --account must be an account of the domain probed"
    )]
    OtherDomain {
        /// The JID given.
        jid: String,
        /// The domain probed.
        domain: String,
    },
    /// No reachable STARTTLS c2s endpoint: the scenarios need one.
    #[error("no reachable c2s STARTTLS endpoint was found to log in to; no scenario was run")]
    NoStarttlsEndpoint,
    /// The system's root store could not be read.
    #[error("{0}")]
    SystemRoots(String),
}

/// The account `probe --account` logs in with.
#[derive(Clone, Debug)]
pub struct ProbeAccount {
    /// The local part.
    pub username: String,
    /// The password.
    pub password: String,
}

impl ProbeAccount {
    /// The account of `jid` (`user@domain`, a resource ignored), which must be on `domain`.
    pub fn of(jid: &str, domain: &str, password: String) -> Result<ProbeAccount, AccountError> {
        let bare = jid.split_once('/').map_or(jid, |(bare, _)| bare);
        let (username, jid_domain) = bare
            .split_once('@')
            .filter(|(user, domain)| !user.is_empty() && !domain.is_empty())
            .ok_or_else(|| AccountError::BadJid(jid.to_owned()))?;
        let same = |a: &str, b: &str| {
            a.trim_end_matches('.')
                .eq_ignore_ascii_case(b.trim_end_matches('.'))
        };
        if !same(jid_domain, domain) {
            return Err(AccountError::OtherDomain {
                jid: jid.to_owned(),
                domain: domain.to_owned(),
            });
        }
        Ok(ProbeAccount {
            username: username.to_owned(),
            password,
        })
    }
}

/// The external target the scenarios run against, and the endpoints it stands for.
pub struct ScenarioTarget {
    /// The target.
    pub target: Target,
    /// The labels of the endpoints used (STARTTLS, then direct TLS if any).
    pub endpoints: Vec<String>,
}

/// The first reachable c2s STARTTLS endpoint of `report` and the first reachable direct-TLS one
/// on the same address (an external target has one host), as an external target for
/// `account` with the server's own chain, trusting `roots` (`None`: the system's).
pub fn scenario_target(
    report: &ProbeReport,
    account: ProbeAccount,
    roots: Option<Vec<CertificateDer<'static>>>,
) -> Result<ScenarioTarget, AccountError> {
    let reachable_c2s = |direct_tls: bool| {
        report
            .endpoints
            .iter()
            .map(|e| &e.facts)
            .filter(move |facts| {
                facts.reachable
                    && facts.endpoint.service == ProbeService::C2s
                    && facts.endpoint.direct_tls == direct_tls
            })
            .map(|facts| &facts.endpoint)
    };
    let starttls: &EndpointUnderTest = reachable_c2s(false)
        .next()
        .ok_or(AccountError::NoStarttlsEndpoint)?;
    let direct = reachable_c2s(true).find(|e| e.address.ip() == starttls.address.ip());
    let roots = match roots {
        Some(roots) => roots,
        None => crate::targets::file::system_roots().map_err(AccountError::SystemRoots)?,
    };
    let spec = ExternalSpec {
        host: starttls.address.ip().to_string(),
        starttls_port: starttls.port,
        direct_tls_port: direct.map(|e| e.port),
        domain: report.domain.clone(),
        username: account.username,
        password: account.password,
        root: TrustedRoot::System(Arc::new(roots)),
        certificate: DeclaredChain::Own,
        served: Arc::default(),
    };
    Ok(ScenarioTarget {
        target: Target {
            name: TARGET_NAME.to_owned(),
            implementation: format!("the c2s service of {}", report.domain),
            role: TargetRole::Server(Arc::new(spec)),
        },
        endpoints: std::iter::once(starttls)
            .chain(direct)
            .map(EndpointUnderTest::label)
            .collect(),
    })
}

/// One case's verdict, for `probe.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioCase {
    /// The case id.
    pub id: String,
    /// The verdict, lower case (`pass`, `fail`, `warn`, `not-run`, ...).
    pub verdict: String,
    /// The clause the case checks, e.g. `RFC 6120 §6.4.6`.
    pub clause: String,
}

/// What the scenarios run with the account found.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSummary {
    /// The endpoints the cases connected to.
    pub endpoints: Vec<String>,
    /// Cases per verdict (lower case), only the verdicts that occurred.
    pub counts: BTreeMap<String, usize>,
    /// Every case, sorted by id.
    pub cases: Vec<ScenarioCase>,
}

/// A verdict as `probe.json` names it: `pass`, `not-run`.
pub fn verdict_name(verdict: Verdict) -> String {
    verdict.label().to_ascii_lowercase().replace(' ', "-")
}

impl ScenarioSummary {
    /// The summary of the finished cases `records`, run against `endpoints`.
    pub fn of(endpoints: Vec<String>, records: &[Arc<CaseRecord>]) -> ScenarioSummary {
        let mut counts = BTreeMap::new();
        let mut cases: Vec<ScenarioCase> = records
            .iter()
            .map(|record| {
                let verdict = verdict_name(record.verdict());
                *counts.entry(verdict.clone()).or_insert(0) += 1;
                ScenarioCase {
                    id: record.case_id.clone(),
                    verdict,
                    clause: record.clause.clone(),
                }
            })
            .collect();
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        ScenarioSummary {
            endpoints,
            counts,
            cases,
        }
    }

    /// How many cases ended with `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.counts
            .get(&verdict_name(verdict))
            .copied()
            .unwrap_or(0)
    }

    /// `12 pass, 1 fail, 3 skip` in the order of [`Verdict::ALL`].
    pub fn counts_line(&self) -> String {
        let parts: Vec<String> = Verdict::ALL
            .into_iter()
            .filter_map(|verdict| {
                let n = self.count(verdict);
                (n > 0).then(|| format!("{n} {}", verdict_name(verdict)))
            })
            .collect();
        if parts.is_empty() {
            "no case ran".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_must_be_a_bare_or_full_jid_of_the_probed_domain() {
        let account = ProbeAccount::of("alice@Example.org./phone", "example.org", "pw".into());
        assert_eq!(account.map(|a| a.username).ok().as_deref(), Some("alice"));
        let other = ProbeAccount::of("alice@example.net", "example.org", "pw".into());
        assert!(
            matches!(other, Err(AccountError::OtherDomain { .. })),
            "{other:?}"
        );
        for bad in ["alice", "@example.org", "alice@"] {
            let result = ProbeAccount::of(bad, "example.org", "pw".into());
            assert!(matches!(result, Err(AccountError::BadJid(_))), "{bad}");
        }
    }

    #[test]
    fn verdict_names_are_the_lower_case_labels_with_not_run_hyphenated() {
        assert_eq!(verdict_name(Verdict::Pass), "pass");
        assert_eq!(verdict_name(Verdict::NotRun), "not-run");
    }
}
