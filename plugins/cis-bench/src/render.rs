//! The three outputs of a report: a table for people (totals, then what to change grouped by the
//! file or flag the remediation names), our JSON document, and JUnit XML for CI systems.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::LazyLock;

use harden_cli::error::Result;
use harden_cli::format::{Choice, Format, Formats};
use regex::Regex;
use serde::Serialize;

use crate::filter::FailOn;
use crate::findings::Finding;
use harden_kube_bench::model::{Check, Document, Report, Status, Totals};

/// What `run -o` and `report -o` print.
pub const REPORT_FORMATS: Formats =
    Formats::new(&[Choice::table(), Choice::of(Format::Json), Choice::of(Format::Yaml), Choice::of(Format::Junit)]);

/// Our JSON/YAML document: the report, then its findings in the suite's shared shape.
#[derive(Serialize)]
struct Written<'a> {
    #[serde(flatten)]
    document: Document,
    findings: &'a [Finding],
}

/// The report in `format`; JSON, YAML and the table through the suite's one report writer.
pub fn render(
    report: &Report,
    findings: &[Finding],
    format: Format,
    listed: &[Status],
    fail_on: FailOn,
) -> Result<String> {
    match format {
        Format::Junit => Ok(junit(report, fail_on)),
        _ => {
            let written = Written { document: Document::new(report.clone()), findings };
            harden_cli::report::render(&written, format, |_| Ok(table(report, listed)))
        }
    }
}

/// What a remediation asks to change: the file it names, and the flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub file: Option<String>,
    pub flag: Option<String>,
}

static EDIT_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bedit\b[^/]{0,80}?(/(?:etc|var|lib|srv|opt|usr|run|home|root)/[\w.@/-]*[\w])")
        .expect("valid regex")
});
static ANY_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(/(?:etc|var|lib|srv|opt|usr|run|home|root)/[\w.@/-]*[\w])").expect("valid regex"));
static FLAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(--[a-z][a-z0-9-]*[a-z0-9])").expect("valid regex"));

/// Reads the file and flag out of a check's remediation (the file being edited wins over others it mentions).
pub fn fix_of(check: &Check) -> Fix {
    let text = &check.remediation;
    let file = EDIT_FILE
        .captures(text)
        .or_else(|| ANY_FILE.captures(text))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    let flag = FLAG
        .captures(text)
        .or_else(|| FLAG.captures(&check.text))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    Fix { file, flag }
}

fn totals_cells(t: &Totals) -> [String; 4] {
    [t.pass.to_string(), t.fail.to_string(), t.warn.to_string(), t.info.to_string()]
}

/// One finding, merged across the nodes where it occurs identically.
struct Grouped<'a> {
    kind: &'a str,
    check: &'a Check,
    nodes: Vec<&'a str>,
    fix: Fix,
}

fn table(report: &Report, listed: &[Status]) -> String {
    let mut out = String::new();
    let benchmarks = report.benchmarks();
    let cluster = report.kubernetes_version.as_ref().map(|v| format!(" (Kubernetes {v})")).unwrap_or_default();
    if !benchmarks.is_empty() {
        let _ = writeln!(out, "Benchmark: {}{cluster}\n", benchmarks.join(", "));
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for target in &report.targets {
        let node = target.node.clone().unwrap_or_default();
        for section in &target.sections {
            let mut row = vec![target.kind.clone(), node.clone(), section.id.clone(), section.text.clone()];
            row.extend(totals_cells(&section.totals));
            rows.push(row);
        }
        if target.sections.len() > 1 {
            let mut row = vec![target.kind.clone(), node.clone(), target.id.clone(), format!("{} (all)", target.text)];
            row.extend(totals_cells(&target.totals));
            rows.push(row);
        }
    }
    let mut total = vec!["TOTAL".to_string(), String::new(), String::new(), String::new()];
    total.extend(totals_cells(&report.totals));
    rows.push(total);
    out.push_str(&harden_cli::output::table(
        &["target", "node", "section", "description", "pass", "fail", "warn", "info"],
        rows,
    ));

    // Identical findings on several nodes are listed once, with the nodes.
    let mut findings: Vec<Grouped> = Vec::new();
    for located in report.checks().filter(|c| listed.contains(&c.check.status)) {
        let node = located.target.node.as_deref().unwrap_or("");
        if let Some(same) = findings.iter_mut().find(|f| {
            f.kind == located.target.kind
                && f.check.id == located.check.id
                && f.check.status == located.check.status
                && f.check.remediation == located.check.remediation
                && f.check.reason == located.check.reason
        }) {
            if !node.is_empty() {
                same.nodes.push(node);
            }
            continue;
        }
        findings.push(Grouped {
            kind: &located.target.kind,
            check: located.check,
            nodes: if node.is_empty() { vec![] } else { vec![node] },
            fix: fix_of(located.check),
        });
    }
    let names: Vec<&str> = listed.iter().map(|s| s.as_str()).collect();
    if findings.is_empty() {
        let _ = writeln!(out, "\nNo {} checks.", names.join(" or "));
        return out;
    }
    let counts: Vec<String> = listed.iter().map(|s| format!("{} {s}", report.totals.get(*s))).collect();
    let _ = writeln!(out, "\n{}, grouped by the file or flag to change:", counts.join(", "));

    // Groups with a FAIL come first, then in the order the benchmark lists them.
    let key = |f: &Grouped| match (&f.fix.file, &f.fix.flag) {
        (Some(file), _) => file.clone(),
        (None, Some(flag)) => format!("flag {flag} (no file named)"),
        (None, None) if f.kind == "policies" => {
            "cluster objects (RBAC, Pod Security, NetworkPolicies, ...): change them with kubectl".to_string()
        }
        (None, None) => format!("{}: no file or flag named, see each remediation", f.kind),
    };
    let named = |f: &Grouped| f.fix.file.is_some() || f.fix.flag.is_some();
    let mut groups: Vec<(String, Vec<&Grouped>)> = Vec::new();
    for finding in &findings {
        let k = key(finding);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, list)) => list.push(finding),
            None => groups.push((k, vec![finding])),
        }
    }
    // FAIL groups first; within the same severity, groups naming a file or flag before the rest.
    groups.sort_by_key(|(_, list)| {
        let worst = list.iter().map(|f| f.check.status.severity()).max().unwrap_or(0);
        (std::cmp::Reverse(worst), !list.iter().any(|f| named(f)))
    });
    for (name, mut list) in groups {
        list.sort_by_key(|f| std::cmp::Reverse(f.check.status.severity()));
        let _ = writeln!(out, "\n{name}");
        for finding in list {
            let where_ = if finding.nodes.is_empty() {
                finding.kind.to_string()
            } else {
                format!("{} on {}", finding.kind, finding.nodes.join(", "))
            };
            let _ = writeln!(out, "  {} {} [{where_}] {}", finding.check.status, finding.check.id, finding.check.text);
            if let Some(why) = finding.check.set_aside() {
                let _ = writeln!(out, "      not counted ({why})");
            }
            if let Some(why) = &finding.check.false_positive {
                let _ = writeln!(out, "      likely a false positive: {why}");
            }
            if let Some(why) = &finding.check.not_applicable {
                let _ = writeln!(out, "      advice: {why}");
            }
            if let (Some(flag), Some(_)) = (&finding.fix.flag, &finding.fix.file) {
                let _ = writeln!(out, "      flag: {flag}");
            }
            // As kube-bench's own text: why an audit did not run matters for WARNs of automated checks.
            if !finding.check.reason.is_empty()
                && finding.check.status == Status::Warn
                && finding.check.kind != "manual"
            {
                let _ = writeln!(out, "      audit did not run: {}", finding.check.reason.replace('\n', "\n      "));
            }
            for line in finding.check.remediation.lines() {
                let _ = writeln!(out, "      {}", line.trim_end());
            }
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit: one testsuite per target and section, one testcase per check. FAIL is a failure (and WARN
/// too with `--fail-on warn`); WARN and INFO otherwise are skipped, with the reason.
fn junit(report: &Report, fail_on: FailOn) -> String {
    let is_failure = |c: &Check| {
        (c.status == Status::Fail || (fail_on == FailOn::Warn && c.status == Status::Warn)) && c.set_aside().is_none()
    };
    let is_skipped =
        |c: &Check| !is_failure(c) && (matches!(c.status, Status::Warn | Status::Info) || c.set_aside().is_some());
    let all = || report.targets.iter().flat_map(|t| &t.sections).flat_map(|s| &s.checks);
    let failures = |checks: &[Check]| checks.iter().filter(|c| is_failure(c)).count();
    let skipped = |checks: &[Check]| checks.iter().filter(|c| is_skipped(c)).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"kube-bench\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
        report.totals.count(),
        all().filter(|c| is_failure(c)).count(),
        all().filter(|c| is_skipped(c)).count()
    );
    for target in &report.targets {
        let prefix = match &target.node {
            Some(node) => format!("{} on {node}", target.kind),
            None => target.kind.clone(),
        };
        for section in &target.sections {
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
                xml_escape(&format!("{prefix}: {} {}", section.id, section.text)),
                section.totals.count(),
                failures(&section.checks),
                skipped(&section.checks)
            );
            let classname = xml_escape(&format!("{}.{}", prefix.replace(' ', "_"), section.id));
            for check in &section.checks {
                let name = xml_escape(&format!("{} {}", check.id, check.text));
                let _ = write!(out, "    <testcase classname=\"{classname}\" name=\"{name}\"");
                let mut detail = if check.reason.is_empty() {
                    check.remediation.clone()
                } else {
                    format!("audit did not run: {}\n{}", check.reason, check.remediation)
                };
                if let Some(why) = &check.not_applicable {
                    detail = format!("advice: {why}\n{detail}");
                }
                if is_failure(check) {
                    let _ = writeln!(
                        out,
                        ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                        check.status,
                        xml_escape(&format!("{} {}", check.status, check.text)),
                        xml_escape(&detail)
                    );
                } else if is_skipped(check) {
                    let why = check
                        .set_aside()
                        .map(str::to_string)
                        .unwrap_or_else(|| detail.lines().next().unwrap_or("").to_string());
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml_escape(&format!("{}: {why}", check.status))
                    );
                } else {
                    out.push_str("/>\n");
                }
            }
            out.push_str("  </testsuite>\n");
        }
    }
    out.push_str("</testsuites>\n");
    out
}

/// The statuses the table lists in detail: those asked for with `--status`, else FAIL and WARN.
pub fn listed(statuses: &[Status]) -> Vec<Status> {
    if statuses.is_empty() {
        vec![Status::Fail, Status::Warn]
    } else {
        let set: BTreeSet<Status> = statuses.iter().copied().collect();
        let mut v: Vec<Status> = set.into_iter().collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.severity()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harden_kube_bench::testing::sample;

    fn with_remediation(mut report: Report) -> Report {
        for target in &mut report.targets {
            for section in &mut target.sections {
                for check in &mut section.checks {
                    check.remediation = match check.id.as_str() {
                        "1.1.2" => "For example, chown root:root /etc/kubernetes/manifests/kube-apiserver.yaml".into(),
                        "1.2.10" => {
                            "Edit the API server pod specification file /etc/kubernetes/manifests/kube-apiserver.yaml\n\
                                     on the control plane node and set --enable-admission-plugins without AlwaysAdmit."
                                .into()
                        }
                        "4.1.1" => "Set --read-only-port=0 & restart <kubelet>".into(),
                        _ => String::new(),
                    };
                }
            }
        }
        report
    }

    #[test]
    fn fix_prefers_the_edited_file_and_finds_the_flag() {
        let report = with_remediation(sample());
        let checks: Vec<&Check> = report.checks().map(|c| c.check).collect();
        let fix = fix_of(checks[3]);
        assert_eq!(fix.file.as_deref(), Some("/etc/kubernetes/manifests/kube-apiserver.yaml"));
        assert_eq!(fix.flag.as_deref(), Some("--enable-admission-plugins"));
        let check = Check {
            remediation:
                "If using a config file, edit /var/lib/kubelet/config.yaml; see /etc/systemd/system/kubelet.service"
                    .into(),
            ..checks[0].clone()
        };
        assert_eq!(fix_of(&check).file.as_deref(), Some("/var/lib/kubelet/config.yaml"));
    }

    #[test]
    fn table_has_totals_then_findings_grouped_by_file() {
        let text = table(&with_remediation(sample()), &[Status::Fail, Status::Warn]);
        assert!(text.starts_with("Benchmark: cis-1.10\n"), "{text}");
        let total = text.lines().find(|l| l.starts_with("TOTAL")).unwrap();
        assert_eq!(total.split_whitespace().collect::<Vec<_>>(), ["TOTAL", "1", "2", "2", "1"]);
        let group = text.find("\n/etc/kubernetes/manifests/kube-apiserver.yaml\n").expect(&text);
        let fail_1 = text.find("FAIL 1.1.2 [master]").unwrap();
        let fail_2 = text.find("FAIL 1.2.10 [master]").unwrap();
        assert!(group < fail_1 && fail_1 < fail_2, "{text}");
        assert!(text.contains("\nflag --read-only-port (no file named)\n  WARN 4.1.1 [node]"), "{text}");
        assert!(!text.contains("PASS 1.1.1"), "{text}");
        let unnamed = text.find("\nmaster: no file or flag named, see each remediation\n  WARN 1.2.1").expect(&text);
        assert!(text.find("\nflag --read-only-port").unwrap() < unnamed, "groups naming a flag come first: {text}");
    }

    #[test]
    fn findings_on_several_nodes_are_listed_once() {
        let mut report = sample();
        report.targets.truncate(1);
        let mut other = report.clone();
        report.set_node("cp-1");
        other.set_node("cp-2");
        report.merge(other);
        let text = table(&report, &[Status::Fail]);
        assert_eq!(text.matches("FAIL 1.1.2").count(), 1, "{text}");
        assert!(text.contains("FAIL 1.1.2 [master on cp-1, cp-2]"), "{text}");
    }

    #[test]
    fn junit_counts_and_escapes() {
        let mut report = with_remediation(sample());
        report.targets[0].sections[0].checks[0].text = "a <b> & \"c\"".into();
        let xml = junit(&report, FailOn::Fail);
        assert!(xml.contains("<testsuites name=\"kube-bench\" tests=\"6\" failures=\"2\" skipped=\"3\">"), "{xml}");
        assert!(xml.contains("name=\"1.1.1 a &lt;b&gt; &amp; &quot;c&quot;\"/>"), "{xml}");
        assert!(xml.contains("&lt;kubelet&gt;"), "{xml}");
        let xml = junit(&report, FailOn::Warn);
        assert!(xml.contains("tests=\"6\" failures=\"4\" skipped=\"1\""), "{xml}");
        assert_eq!(xml.matches("<testcase").count(), 6);
        assert_eq!(xml.matches("</testsuite>").count(), 3);
    }
}
