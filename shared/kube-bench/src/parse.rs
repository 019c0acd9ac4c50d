//! Reading kube-bench output: `--json` (with totals, or the `--nototals` array, or one object per
//! target as older releases printed), its plain-text report, and our own `-o json` document.
//!
//! The input may be a Pod log, so text before the report (warnings kube-bench writes to stderr) is
//! skipped. Anything that is not a report is an [`Error::invalid`] that says where and why; the
//! parser never panics (a property test feeds it arbitrary text).

use harden_cli::error::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{Check, Document, KIND, Report, Section, Status, Target, Totals};

/// Parses any supported form. `source` names the input in messages (a file name, `-`, a Pod).
pub fn parse(text: &str, source: &str) -> Result<Report> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(Error::invalid(format!("{source} is empty")).with_hint(
            "give the output of `kube-bench run --json` (or its text report), or a saved `-o json` report",
        ));
    }
    let mut report = match json_start(text) {
        Some(start) => parse_json(&text[start..]).map_err(|e| e.context(format!("reading {source}")))?,
        None if looks_like_text(text) => parse_text(text).map_err(|e| e.context(format!("reading {source}")))?,
        None => {
            return Err(Error::invalid(format!(
                "{source} is not kube-bench output: it has neither JSON nor [PASS]/[FAIL]/[WARN]/[INFO] result lines"
            ))
            .with_hint(
                "save it with `kube-bench run --json > FILE` (or its plain text), or use `kubectl cis-bench run`",
            ));
        }
    };
    report.recount();
    crate::known::mark(&mut report);
    crate::removed::mark(&mut report);
    if report.totals.count() == 0 {
        report.warnings.push(format!("{source} has no checks: kube-bench ran no target; no verdict (exit 2)"));
    }
    Ok(report)
}

/// Where the JSON starts: at the beginning, or at the first line that opens an object or array
/// (a Pod log may start with kube-bench's warnings).
fn json_start(text: &str) -> Option<usize> {
    let trimmed = text.trim_start();
    let array = trimmed.strip_prefix('[').is_some_and(|rest| rest.trim_start().starts_with(['{', ']']));
    if trimmed.starts_with('{') || array {
        return Some(text.len() - trimmed.len());
    }
    if looks_like_text(text) {
        return None;
    }
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_start();
        if body.starts_with("{\"") || body.starts_with("[{") || body.starts_with("[]") {
            return Some(offset + line.len() - body.len());
        }
        offset += line.len();
    }
    None
}

fn looks_like_text(text: &str) -> bool {
    text.lines().any(|line| result_line(&strip_ansi(line)).is_some())
}

// ---------------------------------------------------------------------------------------------
// JSON

#[derive(Deserialize)]
struct KbOverall {
    #[serde(rename = "Controls")]
    controls: Option<Vec<KbControls>>,
    #[serde(rename = "Totals")]
    totals: Option<KbSummary>,
}

#[derive(Deserialize)]
struct KbSummary {
    #[serde(default)]
    total_pass: usize,
    #[serde(default)]
    total_fail: usize,
    #[serde(default)]
    total_warn: usize,
    #[serde(default)]
    total_info: usize,
}

impl From<&KbSummary> for Totals {
    fn from(s: &KbSummary) -> Self {
        Totals { pass: s.total_pass, fail: s.total_fail, warn: s.total_warn, info: s.total_info }
    }
}

#[derive(Deserialize)]
struct KbControls {
    id: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    detected_version: Option<String>,
    #[serde(default)]
    text: String,
    node_type: String,
    tests: Option<Vec<KbGroup>>,
    #[serde(flatten)]
    summary: KbSummary,
}

#[derive(Deserialize)]
struct KbGroup {
    section: String,
    #[serde(default)]
    pass: usize,
    #[serde(default)]
    fail: usize,
    #[serde(default)]
    warn: usize,
    #[serde(default)]
    info: usize,
    #[serde(default)]
    desc: String,
    results: Option<Vec<KbCheck>>,
}

#[derive(Deserialize)]
struct KbCheck {
    test_number: String,
    #[serde(default)]
    test_desc: String,
    #[serde(default)]
    audit: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    remediation: String,
    status: String,
    #[serde(default)]
    actual_value: String,
    #[serde(default)]
    scored: bool,
    #[serde(default)]
    expected_result: String,
    #[serde(default)]
    reason: String,
}

/// A JSON value read as `serde_json::Value` is, except that an object with the same key twice is an
/// error: serde_json keeps the last, so a report with a second, smaller `"Controls"` would hide the
/// first one's checks (issue 32: 69 FAILs hidden, exit 0).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the key {key:?} appears twice in one object, so the report cannot be read whole (a reader would \
                     keep one and drop the other)"
                )));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn from_value<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { String::new() } else { format!(" at {path}") };
        Error::invalid(format!("{what}{at}: {}", e.inner()))
    })
}

fn parse_json(text: &str) -> Result<Report> {
    let mut report = Report::default();
    let mut stated_total: Option<Totals> = None;
    let mut documents = 0;
    for value in serde_json::Deserializer::from_str(text).into_iter::<Strict>() {
        let Strict(value) = value.map_err(|e| {
            let hint = if e.is_data() {
                "kube-bench writes each key once: the file was edited or put together from several; save kube-bench's \
                 own output again"
            } else {
                "is the file complete? kube-bench's JSON is one line; a cut-off Pod log loses its end"
            };
            Error::invalid(format!("invalid JSON at line {}, column {}: {e}", e.line(), e.column())).with_hint(hint)
        })?;
        documents += 1;
        match value {
            Value::Array(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    let controls = from_value(item, &format!("kube-bench --nototals JSON, element {i}"))?;
                    add_controls(&mut report, controls)?;
                }
            }
            Value::Object(ref map) if map.get("kind").and_then(Value::as_str) == Some(KIND) => {
                let document: Document = from_value(value, "cis-bench report")?;
                let stated = document.report.totals;
                let mut ours = document.report;
                ours.recount();
                check_total("the report", stated, ours.totals)?;
                report.merge(ours);
            }
            Value::Object(ref map) if map.contains_key("Controls") || map.contains_key("Totals") => {
                let overall: KbOverall = from_value(value, "kube-bench JSON")?;
                for controls in overall.controls.unwrap_or_default() {
                    add_controls(&mut report, controls)?;
                }
                if let Some(totals) = &overall.totals {
                    let mut sum = stated_total.unwrap_or_default();
                    sum.merge(totals.into());
                    stated_total = Some(sum);
                }
            }
            Value::Object(ref map) if map.contains_key("node_type") => {
                add_controls(&mut report, from_value(value, "kube-bench JSON")?)?;
            }
            other => {
                return Err(Error::invalid(format!(
                    "JSON document {documents} is not a kube-bench report (expected an object with \"Controls\", \
                     an array of controls, or a {KIND}; found {})",
                    describe(&other)
                )));
            }
        }
    }
    report.recount();
    if let Some(stated) = stated_total {
        check_total("kube-bench's Totals", stated, report.totals)?;
    }
    Ok(report)
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().take(5).map(String::as_str).collect();
            format!("an object with keys {}", keys.join(", "))
        }
    }
}

fn add_controls(report: &mut Report, controls: KbControls) -> Result<()> {
    let mut target = Target {
        id: controls.id,
        kind: controls.node_type,
        text: controls.text,
        benchmark: controls.version,
        detected_version: controls.detected_version.filter(|v| !v.is_empty()),
        node: None,
        totals: Totals::default(),
        sections: Vec::new(),
    };
    for group in controls.tests.unwrap_or_default() {
        let mut section =
            Section { id: group.section, text: group.desc, totals: Totals::default(), checks: Vec::new() };
        for check in group.results.unwrap_or_default() {
            let status = Status::parse(&check.status).ok_or_else(|| {
                Error::invalid(format!(
                    "check {} in section {} of target {} has status {:?}; expected PASS, FAIL, WARN or INFO",
                    check.test_number, section.id, target.kind, check.status
                ))
            })?;
            section.totals.add(status);
            section.checks.push(Check {
                id: check.test_number,
                text: check.test_desc,
                status,
                scored: check.scored,
                kind: check.kind,
                remediation: check.remediation.trim_end().to_string(),
                audit: check.audit,
                expected_result: check.expected_result,
                actual_value: check.actual_value,
                reason: check.reason,
                accepted: None,
                false_positive: None,
                not_applicable: None,
            });
        }
        let stated = Totals { pass: group.pass, fail: group.fail, warn: group.warn, info: group.info };
        check_total(&format!("section {} of {}", section.id, target.kind), stated, section.totals)?;
        target.totals.merge(section.totals);
        target.sections.push(section);
    }
    let stated = Totals::from(&controls.summary);
    check_total(&format!("target {} ({})", target.kind, target.id), stated, target.totals)?;
    report.targets.push(target);
    Ok(())
}

/// kube-bench states its counts next to the checks; a count that differs from the checks listed means
/// checks are missing or were changed, and such a report is not a verdict.
fn check_total(what: &str, stated: Totals, counted: Totals) -> Result<()> {
    if stated != counted {
        return Err(Error::invalid(format!(
            "{what} states {stated} but lists {counted}: the report is cut off or was edited, so it cannot be read \
             whole and gives no verdict"
        ))
        .with_hint("save kube-bench's whole output again (or run `kubectl cis-bench run`)"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Text

/// `[STATE] ID text`, with ID looking like a check or section number (kube-bench also prints its own
/// errors as `[FAIL] Failed to ...`, which are not results).
fn result_line(line: &str) -> Option<(Status, &str, &str)> {
    let rest = line.strip_prefix('[')?;
    let (state, rest) = rest.split_once("] ")?;
    let status = Status::parse(state).filter(|_| state.len() == 4)?;
    let (id, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let id_like = !id.is_empty()
        && id.chars().any(|c| c.is_ascii_digit())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        && !id.starts_with('.')
        && !id.ends_with('.');
    id_like.then_some((status, id, text.trim_end()))
}

/// Removes terminal colour codes (`ESC [ ... m`), which kube-bench prints when writing to a terminal.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The CIS benchmarks number their targets the same way; used only when the text has no
/// `== Summary TYPE ==` or `== Remediations TYPE ==` line to say it.
fn conventional_kind(id: &str) -> &'static str {
    match id {
        "1" => "master",
        "2" => "etcd",
        "3" => "controlplane",
        "4" => "node",
        "5" => "policies",
        _ => "unknown",
    }
}

#[derive(PartialEq)]
enum Mode {
    Results,
    Remediations,
    Summary,
}

struct TextParser {
    report: Report,
    /// kube-bench's stated totals per target index, and the overall one.
    stated: Vec<Option<Totals>>,
    stated_total: Option<Totals>,
    kind_known: Vec<bool>,
    mode: Mode,
    /// FAIL/WARN checks of the current target awaiting their remediation, in order, and the one being read.
    pending: Vec<(usize, usize)>,
    next_pending: usize,
    current_remediation: Option<(usize, usize)>,
    /// Where the summary being read goes: `Some(target)` or `None` for the total.
    summary_for: Option<Option<usize>>,
    summary: Totals,
    summary_lines: usize,
}

fn parse_text(text: &str) -> Result<Report> {
    let mut p = TextParser {
        report: Report::default(),
        stated: Vec::new(),
        stated_total: None,
        kind_known: Vec::new(),
        mode: Mode::Results,
        pending: Vec::new(),
        next_pending: 0,
        current_remediation: None,
        summary_for: None,
        summary: Totals::default(),
        summary_lines: 0,
    };
    for (number, raw) in text.lines().enumerate() {
        let line = strip_ansi(raw);
        p.line(&line).map_err(|e| e.context(format!("line {}", number + 1)))?;
    }
    p.finish_remediation();
    let mut report = p.report;
    report.recount();
    for (i, target) in report.targets.iter().enumerate() {
        match p.stated.get(i) {
            Some(Some(stated)) => {
                check_total(&format!("the summary of {} ({})", target.kind, target.id), *stated, target.totals)?
            }
            // kube-bench ends every target with `== Summary ... ==`; without it the text was cut (or
            // printed with --nosummary, which leaves nothing to tell a cut from the end).
            _ => {
                return Err(Error::invalid(format!(
                    "the report of {} ({}) has no `== Summary ==` section: it is cut off, so checks after its last \
                     line may be missing and it gives no verdict",
                    target.kind, target.id
                ))
                .with_hint("save kube-bench's whole output again, without --nosummary, or its --json output"));
            }
        }
    }
    if let Some(stated) = p.stated_total {
        check_total("the total summary", stated, report.totals)?;
    }
    if report.targets.is_empty() {
        return Err(Error::invalid(
            "the text has result lines but no target header such as `[INFO] 1 Control Plane Security Configuration`",
        ));
    }
    Ok(report)
}

impl TextParser {
    fn line(&mut self, line: &str) -> Result<()> {
        if let Some(name) = line.trim().strip_prefix("== Remediations ").and_then(|r| r.strip_suffix(" ==")) {
            self.finish_remediation();
            let index = self.current_target()?;
            self.set_kind(index, name);
            self.mode = Mode::Remediations;
            self.pending = self.report.targets[index]
                .sections
                .iter()
                .enumerate()
                .flat_map(|(s, section)| {
                    section
                        .checks
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| matches!(c.status, Status::Fail | Status::Warn))
                        .map(move |(c, _)| (s, c))
                })
                .collect();
            self.next_pending = 0;
            return Ok(());
        }
        if let Some(name) = line.trim().strip_prefix("== Summary ").and_then(|r| r.strip_suffix(" ==")) {
            self.finish_remediation();
            self.mode = Mode::Summary;
            self.summary = Totals::default();
            self.summary_lines = 0;
            if name == "total" {
                self.summary_for = Some(None);
            } else {
                let index = self.current_target()?;
                self.set_kind(index, name);
                self.summary_for = Some(Some(index));
            }
            return Ok(());
        }
        match self.mode {
            Mode::Summary => self.summary_line(line),
            Mode::Remediations => {
                if let Some((status, id, text)) = result_line(line) {
                    // A new target's results begin without a summary (kube-bench --nosummary).
                    self.finish_remediation();
                    self.mode = Mode::Results;
                    return self.result(status, id, text);
                }
                self.remediation_line(line);
                Ok(())
            }
            Mode::Results => {
                if let Some((status, id, text)) = result_line(line) {
                    return self.result(status, id, text);
                }
                if let Some(value) = line.strip_prefix("\t ") {
                    // --include-test-output: the audit's output of the FAIL check above.
                    if let Some(check) = self.last_check() {
                        if !check.actual_value.is_empty() {
                            check.actual_value.push('\n');
                        }
                        check.actual_value.push_str(value);
                    }
                    return Ok(());
                }
                if !line.trim().is_empty() && line.starts_with('[') && !self.report.targets.is_empty() {
                    self.report.warnings.push(format!("kube-bench said: {}", line.trim()));
                }
                Ok(())
            }
        }
    }

    fn current_target(&self) -> Result<usize> {
        self.report
            .targets
            .len()
            .checked_sub(1)
            .ok_or_else(|| Error::invalid("a `==` heading comes before any `[INFO] N ...` target header"))
    }

    fn set_kind(&mut self, index: usize, name: &str) {
        if let (Some(target), Some(known)) = (self.report.targets.get_mut(index), self.kind_known.get_mut(index)) {
            target.kind = name.trim().to_string();
            *known = true;
        }
    }

    fn last_check(&mut self) -> Option<&mut Check> {
        self.report.targets.last_mut()?.sections.last_mut()?.checks.last_mut()
    }

    fn result(&mut self, status: Status, id: &str, text: &str) -> Result<()> {
        let target = self.report.targets.last();
        let section = target.and_then(|t| t.sections.last());
        let is_target_header = status == Status::Info
            && !id.contains('.')
            && match target {
                None => true,
                // The etcd target's only section repeats its id: `[INFO] 2 Etcd...` twice.
                Some(t) => !t.sections.is_empty(),
            }
            && section.is_none_or(|s| !id.starts_with(&format!("{}.", s.id)));
        if is_target_header {
            self.report.targets.push(Target {
                id: id.to_string(),
                kind: conventional_kind(id).to_string(),
                text: text.to_string(),
                benchmark: String::new(),
                detected_version: None,
                node: None,
                totals: Totals::default(),
                sections: Vec::new(),
            });
            self.stated.push(None);
            self.kind_known.push(false);
            return Ok(());
        }
        let Some(target) = self.report.targets.last_mut() else {
            return Err(Error::invalid(format!(
                "result {id} comes before any target header such as `[INFO] 1 Control Plane Security Configuration`"
            )));
        };
        let is_section_header =
            status == Status::Info && target.sections.last().is_none_or(|s| !id.starts_with(&format!("{}.", s.id)));
        if is_section_header || target.sections.is_empty() {
            if status != Status::Info {
                return Err(Error::invalid(format!(
                    "check {id} comes before any section header such as `[INFO] 1.1 ...`"
                )));
            }
            target.sections.push(Section {
                id: id.to_string(),
                text: text.to_string(),
                totals: Totals::default(),
                checks: Vec::new(),
            });
            return Ok(());
        }
        if let Some(section) = target.sections.last_mut() {
            section.checks.push(Check::new(id, text, status, false));
        }
        Ok(())
    }

    fn remediation_line(&mut self, line: &str) {
        let next = self.pending.get(self.next_pending).copied();
        let starts = next.and_then(|(s, c)| {
            let id = &self.report.targets.last()?.sections.get(s)?.checks.get(c)?.id;
            (line == id || line.starts_with(&format!("{id} ")))
                .then(|| (s, c, line.get(id.len()..).unwrap_or("").trim_start().to_string()))
        });
        if let Some((s, c, rest)) = starts {
            self.finish_remediation();
            self.next_pending += 1;
            self.current_remediation = Some((s, c));
            let Some(check) = self.check_mut(s, c) else { return };
            if let Some(reason) = rest.strip_prefix("audit test did not run: ") {
                check.reason = reason.to_string();
            } else {
                check.remediation = rest;
            }
            return;
        }
        if let Some((s, c)) = self.current_remediation
            && let Some(check) = self.check_mut(s, c)
        {
            let field = if check.reason.is_empty() { &mut check.remediation } else { &mut check.reason };
            field.push('\n');
            field.push_str(line);
        }
    }

    fn check_mut(&mut self, s: usize, c: usize) -> Option<&mut Check> {
        self.report.targets.last_mut()?.sections.get_mut(s)?.checks.get_mut(c)
    }

    fn finish_remediation(&mut self) {
        if let Some((s, c)) = self.current_remediation.take()
            && let Some(check) = self.check_mut(s, c)
        {
            check.remediation = check.remediation.trim_end().to_string();
            check.reason = check.reason.trim_end().to_string();
        }
    }

    fn summary_line(&mut self, line: &str) -> Result<()> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        if let Some((status, id, text)) = result_line(line) {
            // The next target after a summary.
            self.mode = Mode::Results;
            return self.result(status, id, text);
        }
        let Some((count, status)) = parse_count(line) else {
            return Err(Error::invalid(format!("expected a summary line such as `12 checks FAIL`, found {line:?}")));
        };
        match status {
            Status::Pass => self.summary.pass = count,
            Status::Fail => self.summary.fail = count,
            Status::Warn => self.summary.warn = count,
            Status::Info => self.summary.info = count,
        }
        self.summary_lines += 1;
        if self.summary_lines == 4 {
            match self.summary_for.take() {
                Some(Some(index)) => {
                    if let Some(slot) = self.stated.get_mut(index) {
                        *slot = Some(self.summary);
                    }
                }
                Some(None) => self.stated_total = Some(self.summary),
                None => {}
            }
            self.mode = Mode::Results;
        }
        Ok(())
    }
}

fn parse_count(line: &str) -> Option<(usize, Status)> {
    let mut words = line.split_whitespace();
    let count = words.next()?.parse().ok()?;
    (words.next()? == "checks").then_some(())?;
    let status = Status::parse(words.next()?)?;
    words.next().is_none().then_some((count, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
[INFO] 1 Control Plane Security Configuration
[INFO] 1.1 Control Plane Node Configuration Files
[PASS] 1.1.1 Ensure that the API server pod specification file permissions are set to 600 (Automated)
[FAIL] 1.1.2 Ensure that the API server pod specification file ownership is set to root:root (Automated)
[INFO] 1.2 API Server
[WARN] 1.2.1 Ensure that the --anonymous-auth argument is set to false (Manual)
[FAIL] 1.2.2 Ensure that the --token-auth-file parameter is not set (Automated)
\t kube-apiserver --token-auth-file=/etc/tokens.csv

== Remediations master ==
1.1.2 Run the below command on the control plane node.
For example, chown root:root /etc/kubernetes/manifests/kube-apiserver.yaml

1.2.1 audit test did not run: failed to run: \"/bin/ps -C kube-apiserver\"
1.2.2 Edit the API server pod specification file /etc/kubernetes/manifests/kube-apiserver.yaml
on the control plane node and remove the --token-auth-file=<filename> parameter.


== Summary master ==
1 checks PASS
2 checks FAIL
1 checks WARN
0 checks INFO

[INFO] 2 Etcd Node Configuration
[INFO] 2 Etcd Node Configuration
[PASS] 2.1 Ensure that the --cert-file and --key-file arguments are set as appropriate (Automated)

== Summary etcd ==
1 checks PASS
0 checks FAIL
0 checks WARN
0 checks INFO

== Summary total ==
2 checks PASS
2 checks FAIL
1 checks WARN
0 checks INFO
";

    #[test]
    fn text_report_gives_targets_sections_checks_remediations_and_totals() {
        let report = parse(TEXT, "test").unwrap();
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(report.targets.len(), 2);
        let master = &report.targets[0];
        assert_eq!((master.id.as_str(), master.kind.as_str()), ("1", "master"));
        assert_eq!(master.sections.len(), 2);
        assert_eq!(master.totals, Totals { pass: 1, fail: 2, warn: 1, info: 0 });
        let c = &master.sections[0].checks[1];
        assert_eq!(c.id, "1.1.2");
        assert!(c.remediation.starts_with("Run the below command"), "{c:?}");
        assert!(c.remediation.ends_with("kube-apiserver.yaml"), "{c:?}");
        let warn = &master.sections[1].checks[0];
        assert_eq!(warn.reason, "failed to run: \"/bin/ps -C kube-apiserver\"");
        assert!(warn.remediation.is_empty());
        let fail = &master.sections[1].checks[1];
        assert_eq!(fail.actual_value, "kube-apiserver --token-auth-file=/etc/tokens.csv");
        assert!(fail.remediation.ends_with("parameter."), "{:?}", fail.remediation);
        let etcd = &report.targets[1];
        assert_eq!(etcd.kind, "etcd");
        assert_eq!(etcd.sections.len(), 1);
        assert_eq!(etcd.sections[0].id, "2");
        assert_eq!(etcd.sections[0].checks[0].id, "2.1");
        assert_eq!(report.totals, Totals { pass: 2, fail: 2, warn: 1, info: 0 });
    }

    /// Issue 32: a report that cannot be read whole is not a verdict (it was a warning, exit 0).
    #[test]
    fn a_summary_that_does_not_add_up_is_refused() {
        let edited = TEXT.replace(
            "2 checks FAIL\n1 checks WARN\n0 checks INFO\n\n[INFO] 2",
            "3 checks FAIL\n1 checks WARN\n0 checks INFO\n\n[INFO] 2",
        );
        let err = parse(&edited, "test").unwrap_err();
        assert_eq!(err.kind, harden_cli::ErrorKind::InvalidInput);
        assert!(
            err.message.contains("the summary of master (1) states") && err.message.contains("no verdict"),
            "{err}"
        );
    }

    const JSON: &str = r#"{"Controls":[{"id":"4","version":"cis-1.10","detected_version":"1.30","text":"Worker Node Security Configuration","node_type":"node","tests":[{"section":"4.1","type":"","pass":1,"fail":1,"warn":0,"info":0,"desc":"Worker Node Configuration Files","results":[{"test_number":"4.1.1","test_desc":"Ensure kubelet service file permissions (Automated)","audit":"stat","type":"","remediation":"chmod 600 /etc/systemd/system/kubelet.service.d/kubeadm.conf\n","test_info":["x"],"status":"PASS","actual_value":"","scored":true,"IsMultiple":false,"expected_result":""},{"test_number":"4.1.2","test_desc":"Ensure kubelet service file ownership (Automated)","audit":"stat","type":"","remediation":"chown root:root /etc/systemd/system/kubelet.service.d/kubeadm.conf\n","test_info":["x"],"status":"FAIL","actual_value":"","scored":true,"IsMultiple":false,"expected_result":""}]}],"total_pass":1,"total_fail":1,"total_warn":0,"total_info":0}],"Totals":{"total_pass":1,"total_fail":1,"total_warn":0,"total_info":0}}"#;

    #[test]
    fn json_with_totals_nototals_arrays_and_log_noise_all_parse() {
        let report = parse(JSON, "x").unwrap();
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(report.targets[0].kind, "node");
        assert_eq!(report.targets[0].benchmark, "cis-1.10");
        assert_eq!(report.targets[0].detected_version.as_deref(), Some("1.30"));
        assert_eq!(report.totals, Totals { pass: 1, fail: 1, warn: 0, info: 0 });
        assert_eq!(
            report.targets[0].sections[0].checks[1].remediation,
            "chown root:root /etc/systemd/system/kubelet.service.d/kubeadm.conf"
        );

        let value: Value = serde_json::from_str(JSON).unwrap();
        let array = serde_json::to_string(&value["Controls"]).unwrap();
        assert_eq!(parse(&array, "x").unwrap().targets, report.targets);

        let log = format!("Warning: Kubernetes version was not auto-detected\nI1129 glog line\n{JSON}\n");
        assert_eq!(parse(&log, "pod log").unwrap().targets, report.targets);
    }

    #[test]
    fn a_report_without_checks_says_so() {
        let report = parse("[]", "empty.json").unwrap();
        assert!(report.targets.is_empty());
        assert_eq!(report.warnings, ["empty.json has no checks: kube-bench ran no target; no verdict (exit 2)"]);
    }

    #[test]
    fn our_own_json_round_trips() {
        let report = parse(JSON, "x").unwrap();
        let text = serde_json::to_string(&Document::new(report.clone())).unwrap();
        assert_eq!(parse(&text, "saved").unwrap(), report);
    }

    #[test]
    fn malformed_input_is_a_clear_invalid_input_error() {
        use harden_cli::error::ErrorKind;
        let cases = [
            ("", "is empty"),
            ("hello world\n", "not kube-bench output"),
            ("{\"Controls\": [", "invalid JSON at line 1"),
            ("{\"Controls\": [{\"id\": 1}]}", "Controls[0].id"),
            (
                "[{\"id\":\"1\",\"node_type\":\"master\",\"tests\":[{\"section\":\"1.1\",\"results\":[{\"test_number\":\"1.1.1\",\"status\":\"MAYBE\"}]}]}]",
                "status \"MAYBE\"",
            ),
            ("42", "not kube-bench output"),
            ("{\"foo\": 1}", "not a kube-bench report"),
            ("[PASS] 1.1.1 orphan check\n", "before any target header"),
            ("[INFO] 1 Master\n[FAIL] 1.1.1 no section\n", "before any section header"),
            ("[INFO] 1 M\n[INFO] 1.1 S\n[PASS] 1.1.1 c\n== Summary master ==\nlots of checks\n", "line 5"),
        ];
        for (input, expected) in cases {
            let err = parse(input, "FILE").unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{input:?}: {err}");
            assert!(err.to_string().contains(expected), "{input:?}: {err}");
        }
    }

    #[test]
    fn colour_codes_are_ignored() {
        let coloured =
            TEXT.replace("[FAIL]", "\u{1b}[31m[FAIL]\u{1b}[0m").replace("[PASS]", "\u{1b}[32m[PASS]\u{1b}[0m");
        assert_eq!(parse(&coloured, "t").unwrap().targets, parse(TEXT, "t").unwrap().targets);
    }

    const REAL_JSON: &str = include_str!("../../../tests/fixtures/kube-bench/cis-1.10.json");
    const REAL_TEXT: &str = include_str!("../../../tests/fixtures/kube-bench/cis-1.10.txt");
    const REAL_LOG: &str = include_str!("../../../tests/fixtures/kube-bench/cis-1.9-node-nototals.log");

    /// Issue 12: a text report cut before its summary was reported as complete; issue 32: it was
    /// still a verdict, with a warning.
    #[test]
    fn a_text_report_cut_before_its_summary_is_refused() {
        let cut = &REAL_TEXT[..REAL_TEXT.find("== Summary master ==").unwrap()];
        let err = parse(cut, "text").unwrap_err();
        assert!(err.message.contains("master") && err.message.contains("cut off"), "{err}");
        let cut = &REAL_TEXT[..REAL_TEXT.find("== Summary total ==").unwrap()];
        let report = parse(cut, "text").unwrap();
        assert!(report.warnings.is_empty(), "each target has its summary: {:?}", report.warnings);
    }

    /// Issue 32: a second `"Controls"` key hid the first one's 69 FAILs (serde_json keeps the last
    /// key), and the report exited 0 with a warning. A repeated key anywhere is refused.
    #[test]
    fn a_repeated_key_is_refused_not_read_as_the_last_one() {
        let value: Value = serde_json::from_str(REAL_JSON).unwrap();
        assert_eq!(value["Totals"]["total_fail"], 63);
        let empty = r#""Controls":[],"#;
        let doubled = REAL_JSON.replacen("{\"Controls\":", &format!("{{{empty}\"Controls\":"), 1);
        let doubled_after = REAL_JSON.trim_end().strip_suffix('}').unwrap().to_string() + r#","Controls":[]}"#;
        let status_twice = JSON.replacen(r#""status":"FAIL","#, r#""status":"FAIL","status":"PASS","#, 1);
        for (text, key) in [(doubled, "Controls"), (doubled_after, "Controls"), (status_twice, "status")] {
            let err = parse(&text, "report.json").unwrap_err();
            assert_eq!(err.kind, harden_cli::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains(&format!("the key \"{key}\" appears twice")), "{err}");
            assert!(err.to_string().contains("report.json"), "{err}");
        }
        // The same report with each key once is read whole.
        assert_eq!(parse(REAL_JSON, "x").unwrap().totals.fail, 63);
    }

    #[test]
    fn real_json_and_text_of_one_run_give_the_same_report() {
        let json = parse(REAL_JSON, "json").unwrap();
        let text = parse(REAL_TEXT, "text").unwrap();
        assert!(json.warnings.is_empty() && text.warnings.is_empty(), "{:?} {:?}", json.warnings, text.warnings);
        assert_eq!(json.totals, Totals { pass: 1, fail: 63, warn: 66, info: 0 });
        assert_eq!(text.totals, json.totals);
        let kinds: Vec<&str> = text.targets.iter().map(|t| t.kind.as_str()).collect();
        assert_eq!(kinds, ["master", "etcd", "controlplane", "node", "policies"]);
        let a: Vec<_> = json.checks().map(|c| (&c.target.kind, &c.check.id, c.check.status, &c.check.text)).collect();
        let b: Vec<_> = text.checks().map(|c| (&c.target.kind, &c.check.id, c.check.status, &c.check.text)).collect();
        assert_eq!(a, b);
        for (j, t) in json.checks().zip(text.checks()) {
            // The text shows, for each FAIL and WARN, the remediation or else why the audit did not run.
            if matches!(j.check.status, Status::Fail | Status::Warn) {
                if t.check.reason.is_empty() {
                    assert_eq!(j.check.remediation, t.check.remediation, "remediation of {}", j.check.id);
                } else {
                    assert_eq!(j.check.reason, t.check.reason, "reason of {}", j.check.id);
                }
            }
        }
    }

    /// Issue 25: cis-1.6 (kube-bench's fallback) asks for PodSecurityPolicy; read back without the
    /// cluster's version, every such check says from which version its advice does not apply.
    #[test]
    fn real_cis_1_6_advice_for_podsecuritypolicy_is_marked() {
        let report = parse(include_str!("../../../tests/fixtures/kube-bench/cis-1.6-master.json"), "cis-1.6").unwrap();
        let psp: Vec<_> = report
            .checks()
            .filter(|c| c.check.text.contains("PodSecurityPolicy") || c.check.remediation.contains("PodSecurityPolicy"))
            .collect();
        assert!(psp.iter().any(|c| c.check.id == "1.2.16" && c.check.status == Status::Fail), "{}", psp.len());
        for c in &psp {
            let why = c.check.not_applicable.as_deref().unwrap_or_else(|| panic!("{} is not marked", c.check.id));
            assert!(why.starts_with("does not apply to Kubernetes 1.") && why.contains("and newer"), "{why}");
        }
        // cis-1.10's checks name none of the removed features.
        assert!(parse(REAL_JSON, "x").unwrap().checks().all(|c| c.check.not_applicable.is_none()));
    }

    #[test]
    fn real_nototals_pod_log_parses_after_the_warning() {
        let report = parse(REAL_LOG, "log").unwrap();
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(report.targets.len(), 1);
        assert_eq!(report.targets[0].kind, "node");
        assert_eq!(report.targets[0].benchmark, "cis-1.9");
        assert!(report.totals.count() > 20);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_text_never_panics(text in "\\PC*") {
                let _ = parse(&text, "fuzz");
            }

            #[test]
            fn report_like_lines_never_panic(lines in proptest::collection::vec(
                prop_oneof![
                    "\\[(PASS|FAIL|WARN|INFO)\\] [0-9](\\.[0-9]){0,3} [a-z ]{0,10}",
                    "== (Summary|Remediations) (master|node|total) ==",
                    "[0-9]{1,3} checks (PASS|FAIL|WARN|INFO)",
                    "[0-9](\\.[0-9]){0,3} [a-z ]{0,10}",
                    "\t [a-z]{0,5}",
                    "",
                ], 0..40)) {
                let _ = parse(&lines.join("\n"), "fuzz");
            }

            #[test]
            fn cut_off_real_text_never_panics(cut in 0usize..45_000) {
                let end = (0..=cut.min(REAL_TEXT.len())).rev().find(|i| REAL_TEXT.is_char_boundary(*i)).unwrap_or(0);
                let _ = parse(&REAL_TEXT[..end], "fuzz");
            }

            #[test]
            fn cut_off_and_mutated_json_never_panics(cut in 0usize..2000, byte in any::<u8>(), at in 0usize..2000) {
                let mut bytes = JSON.as_bytes().to_vec();
                let at = at % bytes.len();
                bytes[at] = byte;
                bytes.truncate(cut.min(bytes.len()));
                let text = String::from_utf8_lossy(&bytes);
                let _ = parse(&text, "fuzz");
            }
        }
    }
}
