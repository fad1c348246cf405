//! `index.html`: one self-contained page (inline CSS and JavaScript, the data embedded as
//! JSON, no network) with each target's summary line (MUST violations, SHOULD deviations,
//! unsupported features, inconclusive cases), the matrix, filters by verdict, target, tag and
//! spec clause, and per cell the verdict's detail (the clause's level, place and words, the
//! missing feature, the positive control) and transcript.
//!
//! The page draws only the rows in view (a virtual list), so 2 000 cases × 10 targets stay
//! smooth. `#case=ID&target=T` in the URL opens that cell's detail. Strings are interned in one
//! table and cells are small arrays, so 20 000 cells stay well under 5 MiB; transcripts are
//! embedded up to [`TRANSCRIPT_BUDGET`] bytes, the cells that did not end as expected first,
//! and the others are linked (`transcripts/...` relative to the page).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::record::{CaseRecord, ReportEvent, TargetSummaryRecord, Verdict, tally};
use super::{ReportError, Reporter, transcript_path, write_file};
use crate::runner::Tally;
use crate::scenario::Step;

/// How many bytes of transcript text the page embeds at most.
pub const TRANSCRIPT_BUDGET: usize = 2 * 1024 * 1024;

const TEMPLATE: &str = include_str!("index.html");
const DATA_MARKER: &str = "/*DATA*/";

/// Collects results and writes `index.html` when the run finishes.
pub struct HtmlWriter {
    path: PathBuf,
    started_at: String,
    targets: Vec<String>,
    implementations: Vec<String>,
    results: Vec<Arc<CaseRecord>>,
    hidden: Vec<Verdict>,
}

impl HtmlWriter {
    /// Writes to `path` (usually `reports/index.html`).
    pub fn new(path: PathBuf) -> HtmlWriter {
        HtmlWriter {
            path,
            started_at: String::new(),
            targets: Vec::new(),
            implementations: Vec::new(),
            results: Vec::new(),
            hidden: Vec::new(),
        }
    }

    /// The page opens with these verdicts unticked in its verdict filter (`run --hide`); a
    /// reader can tick them again.
    pub fn hiding(mut self, hidden: Vec<Verdict>) -> HtmlWriter {
        self.hidden = hidden;
        self
    }
}

impl Reporter for HtmlWriter {
    fn on_event(&mut self, event: &ReportEvent) -> Result<(), ReportError> {
        match event {
            ReportEvent::RunStarted {
                targets,
                implementations,
                started_at,
                ..
            } => {
                self.targets = targets.clone();
                self.implementations = implementations.clone();
                self.started_at = started_at.clone();
            }
            ReportEvent::CaseStarted { .. } => {}
            ReportEvent::CaseFinished(record) => self.results.push(Arc::clone(record)),
            ReportEvent::RunFinished {
                duration,
                interrupted,
            } => {
                let page = render(
                    &Run {
                        targets: &self.targets,
                        implementations: &self.implementations,
                        started_at: &self.started_at,
                        results: &self.results,
                    },
                    *duration,
                    interrupted.as_deref(),
                    &self.hidden,
                )?;
                write_file(&self.path, page.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// The data the page's script reads. Strings are indices into `strings`; `-1` is none.
#[derive(Serialize)]
struct PageData<'a> {
    harness: &'static str,
    started_at: &'a str,
    duration_ms: u128,
    /// Why the run stopped before every case finished, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupted: Option<&'a str>,
    summary: Tally,
    targets: &'a [String],
    implementations: &'a [String],
    /// Per target, in `targets` order: the line its column says.
    target_summaries: Vec<String>,
    verdicts: [&'static str; 12],
    /// Verdicts the verdict filter starts unticked.
    hidden: Vec<&'static str>,
    strings: Vec<&'a str>,
    cases: Vec<PageCase>,
    /// Per cell: `[case, target, verdict, step, expected, observed, duration_ms, transcript,
    /// deviation, link, transcript path, missing feature, control id, control outcome]`;
    /// `transcript` indexes `transcripts`, the path is given only when it is not the usual
    /// one.
    cells: Vec<[i64; 14]>,
    transcripts: Vec<String>,
}

/// One case (row) on the page: `[id, scenario, title, [spec...], [tags...], source, level,
/// clause, requirement text]`.
type PageCase = (
    usize,
    usize,
    usize,
    Vec<usize>,
    Vec<usize>,
    usize,
    i64,
    i64,
    i64,
);

/// Interns strings: each distinct text once.
#[derive(Default)]
struct Strings<'a> {
    index: HashMap<&'a str, usize>,
    list: Vec<&'a str>,
}

impl<'a> Strings<'a> {
    fn id(&mut self, text: &'a str) -> usize {
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        self.list.push(text);
        self.index.insert(text, self.list.len() - 1);
        self.list.len() - 1
    }

    /// The id of `text`, `-1` when it is empty.
    fn optional_id(&mut self, text: &'a str) -> i64 {
        if text.is_empty() {
            -1
        } else {
            signed(self.id(text))
        }
    }
}

fn signed(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(-1)
}

/// What a finished run gives the page.
pub struct Run<'a> {
    /// The targets, in column order.
    pub targets: &'a [String],
    /// Their implementations, in the same order.
    pub implementations: &'a [String],
    /// When the run started.
    pub started_at: &'a str,
    /// Every case.
    pub results: &'a [Arc<CaseRecord>],
}

/// The page: the template with the run's data, its verdict filter opening without `hidden`.
pub fn render(
    run: &Run<'_>,
    duration: Duration,
    interrupted: Option<&str>,
    hidden: &[Verdict],
) -> Result<String, ReportError> {
    let Run {
        targets,
        implementations,
        started_at,
        results,
    } = *run;
    let mut strings = Strings::default();
    let mut by_case: BTreeMap<&str, Vec<&CaseRecord>> = BTreeMap::new();
    for record in results {
        by_case.entry(&record.case_id).or_default().push(record);
    }
    let target_index: HashMap<&str, usize> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut embedded = choose_transcripts(results);
    let mut transcripts = Vec::new();
    let mut cases = Vec::with_capacity(by_case.len());
    let mut cells = Vec::with_capacity(results.len());
    for (case_index, (case_id, records)) in by_case.iter().enumerate() {
        let first = records[0];
        // Files of older harnesses carry no clause; any record of the case that has one says it.
        let with_clause = records
            .iter()
            .find(|r| r.level.is_some())
            .copied()
            .unwrap_or(first);
        cases.push((
            strings.id(case_id),
            strings.id(&first.scenario_id),
            strings.id(&first.title),
            first.spec.iter().map(|s| strings.id(s)).collect(),
            first.tags.iter().map(|t| strings.id(t)).collect(),
            strings.id(&first.source),
            with_clause
                .level
                .map_or(-1, |level| signed(strings.id(level.keyword()))),
            strings.optional_id(&with_clause.clause),
            strings.optional_id(&with_clause.requirement_text),
        ));
        for record in records {
            let Some(&target) = target_index.get(record.target.as_str()) else {
                continue;
            };
            let verdict = record.verdict();
            let transcript =
                match embedded.remove(&(record.case_id.as_str(), record.target.as_str())) {
                    Some(text) => {
                        transcripts.push(text.to_string());
                        signed(transcripts.len() - 1)
                    }
                    None => -1,
                };
            let usual = transcript_path(&record.target, &record.case_id);
            let path = if usual.as_os_str() == record.transcript.as_str() {
                -1
            } else {
                signed(strings.id(&record.transcript))
            };
            let deviation = record.expected_deviation.as_ref();
            cells.push([
                signed(case_index),
                signed(target),
                signed(Verdict::ALL.iter().position(|v| *v == verdict).unwrap_or(0)),
                record.step.map_or(-1, |s| signed(strings.id(step_name(s)))),
                signed(strings.id(&record.expected)),
                signed(strings.id(&record.observed)),
                i64::try_from(record.duration_ms).unwrap_or(i64::MAX),
                transcript,
                deviation.map_or(-1, |d| signed(strings.id(&d.reason))),
                deviation
                    .and_then(|d| d.link.as_deref())
                    .map_or(-1, |l| signed(strings.id(l))),
                path,
                record
                    .missing_feature
                    .as_deref()
                    .map_or(-1, |f| signed(strings.id(f))),
                record
                    .control
                    .as_ref()
                    .map_or(-1, |c| signed(strings.id(&c.id))),
                record
                    .control
                    .as_ref()
                    .map_or(-1, |c| signed(strings.id(c.outcome.name()))),
            ]);
        }
    }
    let data = PageData {
        harness: concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION")),
        started_at,
        duration_ms: duration.as_millis(),
        interrupted,
        summary: tally(results),
        targets,
        implementations,
        target_summaries: TargetSummaryRecord::per_target(targets, results)
            .into_iter()
            .map(|(_, summary)| summary.to_string())
            .collect(),
        verdicts: Verdict::ALL.map(Verdict::label),
        hidden: hidden.iter().map(|v| v.label()).collect(),
        strings: strings.list,
        cases,
        cells,
        transcripts,
    };
    let json = serde_json::to_string(&data).map_err(|e| ReportError::Render {
        what: "index.html",
        detail: e.to_string(),
    })?;
    // Inside <script>, `</script>` or `<!--` in the data would end or confuse the element;
    // `<` as a JSON escape cannot.
    let json = json.replace('<', "\\u003c");
    Ok(TEMPLATE.replacen(DATA_MARKER, &json, 1))
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::Connect => "connect",
        Step::Stream => "stream",
        Step::Features => "features",
        Step::Starttls => "starttls",
        Step::Tls => "tls",
        Step::Sasl => "sasl",
        Step::Dialback => "dialback",
        Step::Bind => "bind",
        Step::Message => "message",
    }
}

/// Which transcripts the page embeds: the cells that did not end as expected first, then the
/// others in case order, while the budget lasts. Keyed by case id and target.
fn choose_transcripts(results: &[Arc<CaseRecord>]) -> HashMap<(&str, &str), Arc<str>> {
    let mut ordered: Vec<&Arc<CaseRecord>> = results
        .iter()
        .filter(|r| r.transcript_source.is_some())
        .collect();
    ordered.sort_by(|a, b| {
        (a.as_expected(), &a.case_id, &a.target).cmp(&(b.as_expected(), &b.case_id, &b.target))
    });
    let mut left = TRANSCRIPT_BUDGET as u64;
    let mut chosen = HashMap::new();
    for record in ordered {
        let Some(source) = &record.transcript_source else {
            continue;
        };
        if source.len() > left {
            continue;
        }
        let Some(text) = source.text() else {
            continue;
        };
        left = left.saturating_sub(text.len() as u64);
        chosen.insert((record.case_id.as_str(), record.target.as_str()), text);
    }
    chosen
}
