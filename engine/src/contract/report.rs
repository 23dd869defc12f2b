//! Rendering a validation [`Report`]: text (codespan-style: location line, the source line with
//! a caret under the column, the help line; colour only when asked), JSON (the documented
//! superset shape), GitHub workflow commands and SARIF 2.1.0.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::codes;
use super::validate::{FileReport, Report};
use crate::diag::{Diagnostic, Severity};

fn sev(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

/// The source line `line` (1-based) of the file a diagnostic points into.
fn source_line<'a>(file: &'a FileReport, d: &Diagnostic) -> Option<&'a str> {
    let doc = file.doc.as_ref()?;
    let text = doc.source_text(&d.path)?;
    text.lines().nth((d.pos.line as usize).checked_sub(1)?)
}

/// Text output. `color` adds ANSI colours (the CLI passes true only on a TTY).
pub fn text(report: &Report, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for f in &report.files {
        for d in &f.diagnostics {
            let sev_col = match d.severity {
                Severity::Error => "1;31",
                Severity::Warning => "1;33",
                Severity::Info => "1;36",
            };
            let _ = writeln!(
                out,
                "{}:{}:{} {} {} {}",
                d.path.display(),
                d.pos.line,
                d.pos.column,
                paint(sev_col, sev(d.severity)),
                paint("1", &d.code),
                d.message
            );
            if let Some(line) = source_line(f, d) {
                let gutter = d.pos.line.to_string();
                let pad = " ".repeat(gutter.len());
                let _ = writeln!(out, "{} | {}", paint("34", &gutter), line.trim_end());
                // Caret under the column; tabs are kept so the caret lines up in a terminal.
                let lead: String = line
                    .chars()
                    .take((d.pos.column as usize).saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let _ = writeln!(out, "{pad} | {lead}{}", paint(sev_col, "^"));
            }
            if !d.help.is_empty() {
                let _ = writeln!(out, "  = help: {}", d.help);
            }
        }
    }
    let _ = writeln!(
        out,
        "{} file(s) checked: {} error(s), {} warning(s)",
        report.files.len(),
        report.errors(),
        report.warnings()
    );
    out
}

/// The JSON document: `{"files":[…],"summary":{files, errors, warnings}}`.
pub fn json(report: &Report) -> Value {
    let files: Vec<Value> = report
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path.display().to_string(),
                "dialect": f.dialect.map(|d| d.as_str()),
                "node_type": f.node_type.as_ref().map(|n| n.canonical.clone()),
                "status": f.status().as_str(),
                "diagnostics": f.diagnostics.iter().map(|d| {
                    // The shape is fixed; a finding inside an included file names that file in
                    // its message.
                    let message = if d.path == f.path { d.message.clone() } else { format!("in {}: {}", d.path.display(), d.message) };
                    json!({
                        "code": d.code,
                        "severity": sev(d.severity),
                        "message": message,
                        "line": d.pos.line,
                        "column": d.pos.column,
                        "pointer": d.pointer,
                        "help": d.help,
                    })
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "files": files,
        "summary": {"files": report.files.len(), "errors": report.errors(), "warnings": report.warnings()},
    })
}

/// Escapes a GitHub workflow-command property / message.
fn gh_escape(s: &str, property: bool) -> String {
    let mut s = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        s = s.replace(':', "%3A").replace(',', "%2C");
    }
    s
}

/// GitHub Actions annotations: `::error file=…,line=…,col=…::CODE message`.
pub fn github(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.files {
        for d in &f.diagnostics {
            let level = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            let _ = writeln!(
                out,
                "::{level} file={},line={},col={},title={}::{} {}",
                gh_escape(&d.path.display().to_string(), true),
                d.pos.line,
                d.pos.column,
                d.code,
                d.code,
                gh_escape(&d.message, false)
            );
        }
    }
    out
}

/// SARIF 2.1.0: one run, rules with ids, descriptions and help, one result per finding.
pub fn sarif(report: &Report) -> Value {
    let used: BTreeSet<&str> = report
        .files
        .iter()
        .flat_map(|f| f.diagnostics.iter().map(|d| d.code.as_str()))
        .collect();
    let rules: Vec<Value> = codes::RULES
        .iter()
        .filter(|r| used.contains(r.code))
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.code,
                "shortDescription": {"text": r.summary},
                "help": {"text": r.help},
                "defaultConfiguration": {"level": level(r.severity)},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .files
        .iter()
        .flat_map(|f| f.diagnostics.iter())
        .map(|d| {
            json!({
                "ruleId": d.code,
                "level": level(d.severity),
                "message": {"text": if d.help.is_empty() { d.message.clone() } else { format!("{} (help: {})", d.message, d.help) }},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.path.display().to_string().replace('\\', "/")},
                        "region": {"startLine": d.pos.line.max(1), "startColumn": d.pos.column.max(1)},
                    },
                    "logicalLocations": [{"fullyQualifiedName": d.pointer}],
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "onex validate",
                "version": crate::ENGINE_VERSION,
                "rules": rules,
            }},
            // Our columns count characters (Unicode scalar values), not UTF-16 units.
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::contract::validate::{ValidateOptions, validate_str};

    fn report(text: &str) -> Report {
        Report {
            files: vec![validate_str(
                Path::new("x/contract.yaml"),
                text,
                &ValidateOptions::default(),
                None,
            )],
        }
    }

    #[test]
    fn text_has_location_source_line_caret_and_help() {
        let r = report(
            "name: démo_node\ncontract_version: {major: 1, minor: 0, patch: 0}\nnode_type: compute\ndescriptor: {é: 1, purity: impure}\n",
        );
        let t = text(&r, false);
        // Columns count characters: the caret sits under `impure` despite the two-byte `é`.
        let want = "x/contract.yaml:4:28 warning ONEX034 descriptor.purity `impure` is not one of pure, side_effecting\n4 | descriptor: {é: 1, purity: impure}\n  |                            ^\n  = help: use one of the documented values\n";
        assert!(t.contains(want), "{t}");
        assert!(
            t.ends_with("1 file(s) checked: 0 error(s), 2 warning(s)\n"),
            "{t}"
        );
        assert!(!t.contains('\x1b'));
        assert!(text(&r, true).contains("\x1b[1;33mwarning\x1b[0m"));
    }

    #[test]
    fn github_escapes_and_levels() {
        let r = report(
            "contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: compute\ninput_model: a.B\n",
        );
        let g = github(&r);
        assert_eq!(
            g,
            "::notice file=x/contract.yaml,line=3,col=14,title=ONEX021::ONEX021 `input_model` class `B` does not start with `Model`\n"
        );
        assert_eq!(gh_escape("a:b,c%\n", true), "a%3Ab%2Cc%25%0A");
    }
}
