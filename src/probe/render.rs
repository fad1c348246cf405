//! A probe's report as `probe.json` (the schema is `schemas/probe.schema.json`), `probe.md`
//! (for wikis, issues and job summaries) and `probe.html` (one self-contained page, inline CSS,
//! no script, no network), in the manner of the run reports: the grade and counts first, then
//! per endpoint the findings heaviest first (clause, level, observed, fix), then the facts;
//! with `--account`, the scenarios' counts and the cases that broke a clause.

use std::fmt::Write as _;
use std::path::Path;

use super::account::ScenarioCase;
use super::facts::{EndpointFacts, StreamFact};
use super::{EndpointReport, Finding, ProbeReport};

/// `probe.json`.
pub fn json(report: &ProbeReport) -> String {
    // Serialising plain data with string keys cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
}

/// Writes probe.json, probe.html and probe.md into `dir` (created if missing).
pub fn write_all(report: &ProbeReport, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("probe.json"), json(report))?;
    std::fs::write(dir.join("probe.md"), markdown(report))?;
    std::fs::write(dir.join("probe.html"), html(report))?;
    Ok(())
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(" ")
    }
}

/// The facts of one endpoint as `(name, value)` lines, shared by Markdown and HTML.
fn fact_lines(facts: &EndpointFacts) -> Vec<(String, String)> {
    let mut lines = vec![
        ("origin".to_owned(), facts.endpoint.origin.clone()),
        ("connections".into(), facts.connections.to_string()),
        ("TCP reachable".into(), yes_no(facts.reachable).into()),
    ];
    fn stream(lines: &mut Vec<(String, String)>, label: &str, fact: &StreamFact) {
        lines.push((
            format!("{label}: stream"),
            format!(
                "{} from {} version {}",
                fact.content_namespace,
                fact.from.as_deref().unwrap_or("-"),
                fact.version.as_deref().unwrap_or("-")
            ),
        ));
        lines.push((
            format!("{label}: STARTTLS"),
            match (fact.starttls_offered, fact.starttls_required) {
                (true, true) => "offered, required".into(),
                (true, false) => "offered, not required".into(),
                _ => "not offered".into(),
            },
        ));
        lines.push((
            format!("{label}: SASL"),
            list_or_none(&fact.sasl_mechanisms),
        ));
        let plus: Vec<String> = fact.plus_variants().iter().map(|m| m.to_string()).collect();
        lines.push((format!("{label}: -PLUS"), list_or_none(&plus)));
        lines.push((
            format!("{label}: channel-binding types (XEP-0440)"),
            list_or_none(&fact.channel_binding_types),
        ));
        lines.push((
            format!("{label}: SASL2 (XEP-0388)"),
            fact.sasl2_mechanisms
                .as_ref()
                .map_or("not offered".into(), |m| list_or_none(m)),
        ));
        lines.push((
            format!("{label}: dialback (XEP-0220)"),
            yes_no(fact.dialback).into(),
        ));
        lines.push((
            format!("{label}: EXTERNAL"),
            yes_no(fact.sasl_mechanisms.iter().any(|m| m == "EXTERNAL")).into(),
        ));
        lines.push((format!("{label}: features"), list_or_none(&fact.features)));
    }
    if let Some(before) = &facts.before_tls {
        stream(&mut lines, "before TLS", before);
    }
    if let Some(tls) = &facts.tls {
        lines.push((
            "TLS".into(),
            format!(
                "{} {}",
                tls.version.map_or("unknown", |v| v.label()),
                tls.cipher_suite
            ),
        ));
        lines.push(("SNI".into(), tls.sni.clone()));
        if !tls.alpn_offered.is_empty() {
            lines.push((
                "ALPN (XEP-0368)".into(),
                format!(
                    "offered {}, selected {}",
                    tls.alpn_offered.join(" "),
                    tls.alpn_selected.as_deref().unwrap_or("none")
                ),
            ));
        }
    }
    if let Some(chain) = &facts.chain {
        for (n, certificate) in chain.certificates.iter().enumerate() {
            lines.push((
                format!("certificate {n}"),
                format!(
                    "{}; issuer {}; {} days to expiry ({}); {}; {}; [{}]",
                    certificate.subject,
                    certificate.issuer,
                    certificate.days_to_expiry,
                    certificate.not_after,
                    certificate.key,
                    certificate.signature_algorithm,
                    certificate.identities.join(", ")
                ),
            ));
        }
        lines.push((
            "chain".into(),
            format!(
                "in order: {}, complete: {}, validates against {}: {}",
                yes_no(chain.in_order),
                yes_no(chain.complete),
                chain.trust,
                chain
                    .validation_error
                    .as_deref()
                    .map_or("yes".to_owned(), |e| format!("no ({e})"))
            ),
        ));
    }
    if let Some(identity) = &facts.identity {
        lines.push((
            "identity".into(),
            match (&identity.matched, &identity.rule) {
                (Some(matched), Some(rule)) => {
                    format!("{} named by {matched} (rule {rule})", identity.domain)
                }
                _ => format!(
                    "{} not named: {}",
                    identity.domain,
                    identity.mismatch.as_deref().unwrap_or("")
                ),
            },
        ));
    }
    for tlsa in &facts.tlsa {
        lines.push((
            format!("TLSA {} (DNSSEC not validated)", tlsa.record),
            format!("matches {}", tlsa.matched),
        ));
    }
    if let Some(after) = &facts.after_tls {
        stream(&mut lines, "after TLS", after);
        lines.push((
            "after TLS: SCRAM downgrade protection (XEP-0474)".into(),
            "not visible without an authentication attempt".into(),
        ));
    }
    for version in &facts.versions {
        lines.push((
            version.version.label().to_owned(),
            format!(
                "{}: {}",
                match version.accepted {
                    Some(true) => "accepted",
                    Some(false) => "refused",
                    None => "not tested",
                },
                version.detail
            ),
        ));
    }
    for class in &facts.cipher_classes {
        lines.push((
            format!("suites {}", class.class),
            format!(
                "{}: {}",
                match class.accepted {
                    Some(true) => "accepted",
                    Some(false) => "refused",
                    None => "not tested",
                },
                class.detail
            ),
        ));
    }
    if let Some(stopped) = &facts.stopped {
        lines.push(("stopped at".into(), stopped.clone()));
    }
    lines
}

fn summary_line(report: &ProbeReport) -> String {
    format!(
        "grade {}: {} MUST broken, {} SHOULD not followed, {} endpoint(s) probed in {:.2} s{}",
        report.grade.letter(),
        report.must_broken,
        report.should_not_followed,
        report.endpoints.len(),
        report.duration_seconds,
        not_fully_probed(report)
    )
}

/// `; N not fully probed` when the grade covers less than every endpoint.
pub fn not_fully_probed(report: &ProbeReport) -> String {
    match report.not_fully_probed {
        0 => String::new(),
        n => format!("; {n} endpoint(s) not fully probed (see where each stopped)"),
    }
}

/// The terminal's and Markdown's line for a finding.
pub fn finding_line(finding: &Finding) -> String {
    format!(
        "{} {} ({}): {} — fix: {}",
        finding.verdict, finding.level, finding.clause, finding.observed, finding.fix
    )
}

/// `probe.md`.
pub fn markdown(report: &ProbeReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# xmpp-interop probe: {}\n", report.domain);
    let _ = writeln!(out, "**{}**\n", summary_line(report));
    let _ = writeln!(
        out,
        "Trust: {}. At most {} connections per endpoint, one after the other; {}.\n",
        report.trust,
        report.max_connections_per_endpoint,
        logins(report)
    );
    if !report.dns.is_empty() {
        let _ = writeln!(out, "## DNS\n");
        for line in &report.dns {
            let _ = writeln!(out, "- {}", escape_md(line));
        }
        out.push('\n');
    }
    for EndpointReport { facts, findings } in &report.endpoints {
        let _ = writeln!(out, "## {}\n", escape_md(&facts.endpoint.label()));
        if findings.is_empty() {
            let _ = writeln!(out, "No clause broken.\n");
        } else {
            let _ = writeln!(out, "| verdict | level | clause | observed | fix |");
            let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
            for f in findings {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    f.verdict,
                    f.level,
                    f.clause,
                    escape_md(&f.observed),
                    escape_md(&f.fix)
                );
            }
            out.push('\n');
        }
        let _ = writeln!(out, "<details><summary>facts</summary>\n");
        for (name, value) in fact_lines(facts) {
            let _ = writeln!(out, "- **{}**: {}", escape_md(&name), escape_md(&value));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if let Some(scenarios) = &report.scenarios {
        let _ = writeln!(out, "## Scenarios with the account\n");
        let _ = writeln!(
            out,
            "**{}** against {}\n",
            scenarios.counts_line(),
            escape_md(&scenarios.endpoints.join(", "))
        );
        let noted: Vec<&ScenarioCase> = scenarios.cases.iter().filter(|c| noted(c)).collect();
        if !noted.is_empty() {
            let _ = writeln!(out, "| case | verdict | clause |");
            let _ = writeln!(out, "| --- | --- | --- |");
            for case in noted {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    escape_md(&case.id),
                    case.verdict,
                    escape_md(&case.clause)
                );
            }
            out.push('\n');
        }
    }
    out
}

/// Whether the reports list a scenario case by itself: a MUST broken, a SHOULD not followed,
/// or a case the harness could not run.
fn noted(case: &ScenarioCase) -> bool {
    ["fail", "warn", "error", "not-run"].contains(&case.verdict.as_str())
}

/// What the header says about logins.
fn logins(report: &ProbeReport) -> &'static str {
    if report.scenarios.is_some() {
        "the only logins are the scenarios' (below)"
    } else {
        "no login attempted"
    }
}

fn escape_md(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `probe.html`.
pub fn html(report: &ProbeReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>xmpp-interop probe: {domain}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:72em}}\
         table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}}\
         .fail{{background:#f8d7da}}.warn{{background:#fff3cd}}.grade{{font-size:1.4em;font-weight:bold}}\
         details{{margin:.5em 0 1.5em}}blockquote{{margin:0;color:#555;font-size:.9em}}</style></head><body>\
         <h1>xmpp-interop probe: {domain}</h1><p class=\"grade\">{summary}</p>\
         <p>Trust: {trust}. At most {max} connections per endpoint, one after the other; {logins}.</p>",
        domain = escape_html(&report.domain),
        summary = escape_html(&summary_line(report)),
        trust = escape_html(&report.trust),
        max = report.max_connections_per_endpoint,
        logins = logins(report)
    );
    if !report.dns.is_empty() {
        out.push_str("<h2>DNS</h2><ul>");
        for line in &report.dns {
            let _ = write!(out, "<li>{}</li>", escape_html(line));
        }
        out.push_str("</ul>");
    }
    for EndpointReport { facts, findings } in &report.endpoints {
        let _ = write!(out, "<h2>{}</h2>", escape_html(&facts.endpoint.label()));
        if findings.is_empty() {
            out.push_str("<p>No clause broken.</p>");
        } else {
            out.push_str(
                "<table><tr><th>verdict</th><th>level</th><th>clause</th><th>observed</th><th>fix</th></tr>",
            );
            for f in findings {
                let _ = write!(
                    out,
                    "<tr class=\"{v}\"><td>{v}</td><td>{level}</td><td>{clause}<blockquote>{text}</blockquote></td><td>{observed}</td><td>{fix}</td></tr>",
                    v = f.verdict,
                    level = f.level,
                    clause = escape_html(f.clause),
                    text = escape_html(f.text),
                    observed = escape_html(&f.observed),
                    fix = escape_html(&f.fix)
                );
            }
            out.push_str("</table>");
        }
        out.push_str("<details><summary>facts</summary><table>");
        for (name, value) in fact_lines(facts) {
            let _ = write!(
                out,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape_html(&name),
                escape_html(&value)
            );
        }
        out.push_str("</table></details>");
    }
    if let Some(scenarios) = &report.scenarios {
        let _ = write!(
            out,
            "<h2>Scenarios with the account</h2><p><b>{}</b> against {}</p>",
            escape_html(&scenarios.counts_line()),
            escape_html(&scenarios.endpoints.join(", "))
        );
        let noted: Vec<&ScenarioCase> = scenarios.cases.iter().filter(|c| noted(c)).collect();
        if !noted.is_empty() {
            out.push_str("<table><tr><th>case</th><th>verdict</th><th>clause</th></tr>");
            for case in noted {
                let _ = write!(
                    out,
                    "<tr class=\"{v}\"><td>{id}</td><td>{v}</td><td>{clause}</td></tr>",
                    v = case.verdict,
                    id = escape_html(&case.id),
                    clause = escape_html(&case.clause)
                );
            }
            out.push_str("</table>");
        }
    }
    out.push_str("</body></html>\n");
    out
}
