//! `certificate.html`: the certificate for humans, one self-contained page (inline CSS, no
//! scripts, nothing fetched). It is a rendering of `certificate.json`, which alone is signed.

use std::fmt::Write as _;

use super::certificate::{Certificate, Verdict};

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}\
table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}code{font-size:90%}.verdict{font-size:1.6em;padding:.5em 1em;display:inline-block;border-radius:.3em}\
.pass{background:#d7f5d7}.fail{background:#f9d0d0}.warn{background:#fff1c2}.unsupported,.info{background:#e1e8f0}.inconclusive{background:#efecd6}.incomplete,.skip,.error,.not-run{background:#fbeec2}";

/// The page for `certificate`.
pub fn render(certificate: &Certificate) -> String {
    let body = &certificate.body;
    let (verdict_class, verdict_text) = match body.verdict {
        Verdict::Pass => ("pass", "PASS"),
        Verdict::Fail => ("fail", "FAIL"),
        Verdict::Incomplete => ("incomplete", "INCOMPLETE"),
    };
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body>\n",
        title = escape(&format!(
            "Certificate: {} — {} {}",
            body.target.implementation, body.profile.name, body.profile.version
        ))
    );
    let _ = write!(
        page,
        "<h1>{}</h1>\n<p class=\"verdict {verdict_class}\">{verdict_text}</p>\n",
        escape(&body.profile.title)
    );
    let signature = match &certificate.signature {
        Some(s) => format!(
            "{} over the canonical JSON of the body, key SHA-256 <code>{}</code>; check it with <code>xmpp-interop certify verify certificate.json --public-key KEY</code>",
            escape(&s.algorithm),
            escape(&s.key_sha256)
        ),
        None => "not signed".to_owned(),
    };
    let rows = [
        (
            "target",
            format!(
                "{} ({}, {})",
                escape(&body.target.implementation),
                escape(&body.target.name),
                escape(&body.target.kind)
            ),
        ),
        (
            "profile",
            format!(
                "{} version {} (file SHA-256 <code>{}</code>)",
                escape(&body.profile.name),
                escape(&body.profile.version),
                escape(&body.profile.sha256)
            ),
        ),
        (
            "harness",
            format!(
                "{} {}",
                escape(&body.harness.name),
                escape(&body.harness.version)
            ),
        ),
        ("date", escape(&body.date)),
        ("signature", signature),
    ];
    page.push_str("<table>\n");
    for (name, value) in rows {
        let _ = writeln!(page, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    page.push_str("</table>\n");
    if !body.verdict_reasons.is_empty() {
        page.push_str("<h2>Why not pass</h2>\n<ul>\n");
        for reason in &body.verdict_reasons {
            let _ = writeln!(page, "<li>{}</li>", escape(reason));
        }
        page.push_str("</ul>\n");
    }
    if !body.warnings.is_empty() {
        page.push_str("<h2>Warnings (recommended, not required)</h2>\n<ul>\n");
        for warning in &body.warnings {
            let _ = writeln!(page, "<li>{}</li>", escape(warning));
        }
        page.push_str("</ul>\n");
    }
    if !body.supported_features.is_empty() || !body.unsupported_features.is_empty() {
        let list = |features: &[String]| {
            if features.is_empty() {
                "none".to_owned()
            } else {
                features
                    .iter()
                    .map(|f| escape(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = write!(
            page,
            "<h2>Features</h2>\n<table>\n<tr><th>supported</th><td>{}</td></tr>\n<tr><th>unsupported</th><td>{}</td></tr>\n</table>\n",
            list(&body.supported_features),
            list(&body.unsupported_features)
        );
    }
    page.push_str("<h2>Requirements</h2>\n<table><tr><th>requirement</th><th>cases</th><th>skips allowed</th></tr>\n");
    for requirement in &body.profile.requirements {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&requirement.selector),
            requirement.cases,
            if requirement.allow_skip { "yes" } else { "no" }
        );
    }
    page.push_str("</table>\n");
    let counts: Vec<String> = body
        .summary
        .iter()
        .map(|(outcome, count)| format!("{count} {}", escape(outcome)))
        .collect();
    let _ = write!(
        page,
        "<h2>Results</h2>\n<p>{} required cases: {}</p>\n",
        body.results.len(),
        counts.join(", ")
    );
    results_table(&mut page, &body.results);
    if !body.recommended.is_empty() {
        let _ = write!(
            page,
            "<h2>Recommended (SHOULD, not required)</h2>\n<p>{} cases; they never change the verdict.</p>\n",
            body.recommended.len()
        );
        results_table(&mut page, &body.recommended);
    }
    let _ = write!(
        page,
        "<h2>Scenario files</h2>\n<p>Relative to <code>{}</code>.</p>\n<table><tr><th>file</th><th>SHA-256</th></tr>\n",
        escape(&body.scenarios_root)
    );
    for file in &body.scenario_files {
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
            escape(&file.path),
            escape(&file.sha256)
        );
    }
    page.push_str("</table>\n<p>This page renders <code>certificate.json</code>; only that file is signed.</p>\n</body></html>\n");
    page
}

/// A table of results: case, level, outcome, as expected, step, expected, observed.
fn results_table(page: &mut String, results: &[super::certificate::ResultRecord]) {
    page.push_str("<table><tr><th>case</th><th>level</th><th>outcome</th><th>as expected</th><th>step</th><th>expected</th><th>observed</th></tr>\n");
    for result in results {
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&result.case),
            escape(result.level.as_deref().unwrap_or("-")),
            escape(&result.outcome),
            escape(&result.outcome),
            if result.as_expected { "yes" } else { "no" },
            escape(result.step.as_deref().unwrap_or("-")),
            escape(&result.expected),
            escape(&result.observed)
        );
    }
    page.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_from_observations() {
        assert_eq!(
            escape("<auth xmlns='x'>&\""),
            "&lt;auth xmlns=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
