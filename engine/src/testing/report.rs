//! The outcome of `onex test`: text like `cargo test` (one line per test, then each failure
//! with its diff, then `test result: … N passed; N failed`), JSON, or JUnit XML for CI.

use std::fmt::Write as _;

use super::runner::{TestReport, Verdict};

/// Counts of a run of tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
}

impl Totals {
    pub fn of(reports: &[TestReport]) -> Totals {
        let mut t = Totals::default();
        for r in reports {
            match r.verdict {
                Verdict::Passed => t.passed += 1,
                Verdict::Failed { .. } => t.failed += 1,
                Verdict::Error { .. } => t.errors += 1,
            }
        }
        t
    }

    pub fn ok(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// The line printed as each test finishes.
pub fn line(r: &TestReport) -> String {
    let outcome = match r.verdict {
        Verdict::Passed => "ok",
        Verdict::Failed { .. } => "FAILED",
        Verdict::Error { .. } => "ERROR",
    };
    format!(
        "test {} ({}) ... {outcome} ({:.2}s)",
        r.name,
        r.path.display(),
        r.duration_ms as f64 / 1000.0
    )
}

/// The cargo-test-like text: per-test lines, failures with their diffs, the summary.
pub fn text(reports: &[TestReport], elapsed_s: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nrunning {} test{}",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" }
    );
    for r in reports {
        let _ = writeln!(out, "{}", line(r));
    }
    let bad: Vec<&TestReport> = reports.iter().filter(|r| !r.passed()).collect();
    if !bad.is_empty() {
        let _ = writeln!(out, "\nfailures:");
        for r in &bad {
            let _ = writeln!(out, "\n---- {} ({}) ----", r.name, r.path.display());
            if let Some(w) = &r.workflow {
                let _ = writeln!(
                    out,
                    "workflow {w}{}",
                    r.correlation_id
                        .map(|c| format!(", run {c}"))
                        .unwrap_or_default()
                );
            }
            match &r.verdict {
                Verdict::Passed => {}
                Verdict::Failed { mismatches } => {
                    for m in mismatches {
                        let _ = writeln!(out, "{}: {}", m.at, m.message);
                        if let Some(d) = &m.diff {
                            let _ = writeln!(out, "    --- expected\n    +++ actual");
                            for l in d.lines() {
                                let _ = writeln!(out, "    {l}");
                            }
                        }
                    }
                }
                Verdict::Error { problems } => {
                    for p in problems {
                        let _ = writeln!(out, "{p}");
                    }
                }
            }
        }
        let _ = writeln!(out, "\nfailures:");
        for r in &bad {
            let _ = writeln!(out, "    {}", r.name);
        }
    }
    let t = Totals::of(reports);
    let _ = writeln!(
        out,
        "\ntest result: {}. {} passed; {} failed{}; finished in {elapsed_s:.2}s",
        if t.ok() { "ok" } else { "FAILED" },
        t.passed,
        t.failed + t.errors,
        if t.errors > 0 {
            format!(" ({} could not run)", t.errors)
        } else {
            String::new()
        }
    );
    // The plain closing line CI tools read.
    let _ = writeln!(out, "{} passed, {} failed", t.passed, t.failed + t.errors);
    out
}

/// One JSON document: the tests and the totals.
pub fn json(reports: &[TestReport], elapsed_s: f64) -> String {
    let t = Totals::of(reports);
    serde_json::to_string_pretty(&serde_json::json!({
        "tests": reports,
        "passed": t.passed,
        "failed": t.failed,
        "errors": t.errors,
        "duration_s": elapsed_s,
    }))
    .unwrap_or_default()
}

/// XML text and attribute escaping (JUnit XML needs nothing more; a crate for it would bring
/// an XML writer for five replacements).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML (one testsuite, one testcase per test; failures and errors with their text).
pub fn junit(reports: &[TestReport], elapsed_s: f64) -> String {
    let t = Totals::of(reports);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"onex test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{elapsed_s:.3}\">",
        reports.len(),
        t.failed,
        t.errors
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"onex test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{elapsed_s:.3}\">",
        reports.len(),
        t.failed,
        t.errors
    );
    for r in reports {
        let class = r
            .workflow
            .as_ref()
            .map_or_else(|| "onex".to_owned(), |w| w.name.clone());
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" time=\"{:.3}\"",
            esc(&r.name),
            esc(&class),
            esc(&r.path.display().to_string()),
            r.duration_ms as f64 / 1000.0
        );
        match &r.verdict {
            Verdict::Passed => out.push_str("/>\n"),
            Verdict::Failed { mismatches } => {
                let body: String = mismatches
                    .iter()
                    .map(|m| {
                        format!(
                            "{}: {}\n{}",
                            m.at,
                            m.message,
                            m.diff.as_deref().unwrap_or_default()
                        )
                    })
                    .collect();
                let first = mismatches.first().map(|m| m.message.as_str()).unwrap_or("");
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    esc(first),
                    esc(&body)
                );
            }
            Verdict::Error { problems } => {
                let first = problems.first().map(String::as_str).unwrap_or("");
                let _ = write!(
                    out,
                    ">\n      <error message=\"{}\">{}</error>\n    </testcase>\n",
                    esc(first),
                    esc(&problems.join("\n"))
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
