//! Rendering a validation [`Report`]: text (codespan-style: location line, the source line with
//! a caret under the column, the help line; colour only when asked), JSON (the documented
//! superset shape), GitHub workflow commands and SARIF 2.1.0.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::codes;
use super::validate::{FileReport, Report};
use crate::diag::{Diagnostic, Severity};

pub(crate) fn sev(s: Severity) -> &'static str {
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

/// Text output: every finding through the one renderer ([`crate::diag::render`]), then the
/// summary line. A file that did not parse (a YAML syntax error) is read again for its snippet,
/// so the caret marks the position.
pub fn text(report: &Report, color: bool) -> String {
    let mut out = String::new();
    for f in &report.files {
        let source = |p: &Path| -> Option<String> {
            match &f.doc {
                Some(doc) => doc.source_text(p).map(str::to_string),
                None if p == f.path => std::fs::read_to_string(p).ok(),
                None => None,
            }
        };
        out.push_str(&crate::diag::render(&f.diagnostics, &source, color));
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

/// Version of the `--format json` document (`format_version`); bumped when a key changes
/// meaning or goes away (added keys keep it).
pub const JSON_FORMAT_VERSION: u32 = 1;

/// Where the rule documentation lives (`helpUri` of SARIF rules: `…#onex046`).
pub const RULES_DOC_URI: &str = "https://onex.dev/docs/rules.md";

/// The 1-based column just past the token that starts at `d`'s column (a key, a scalar, a tag
/// and its argument, or one character), so that a region or an annotation covers the word.
fn end_column(file: &FileReport, d: &Diagnostic) -> u32 {
    let start = d.pos.column.max(1);
    let Some(line) = source_line(file, d) else {
        return start + 1;
    };
    let rest: Vec<char> = line.chars().skip(start as usize - 1).collect();
    let width = if rest.is_empty() {
        1
    } else {
        crate::diag::token_width(&rest)
    };
    start + u32::try_from(width).unwrap_or(1)
}

/// The JSON document: `{"format_version": 1, "files":[…], "summary":{files, errors, warnings}}`.
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
                    // its message (and in `file`).
                    let message = if d.path == f.path { d.message.clone() } else { format!("in {}: {}", d.path.display(), d.message) };
                    json!({
                        "code": d.code,
                        "severity": sev(d.severity),
                        "message": message,
                        "file": d.path.display().to_string(),
                        "line": d.pos.line,
                        "column": d.pos.column,
                        "end_column": end_column(f, d),
                        "pointer": d.pointer,
                        "help": d.help,
                    })
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
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

/// GitHub Actions annotations:
/// `::error file=…,line=…,endLine=…,col=…,endColumn=…,title=CODE::CODE message` and the help on
/// the annotation's second line.
pub fn github(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.files {
        for d in &f.diagnostics {
            let level = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            let mut msg = format!("{} {}", d.code, d.message);
            if !d.help.is_empty() {
                msg.push_str("\nhelp: ");
                msg.push_str(&d.help);
            }
            let _ = writeln!(
                out,
                "::{level} file={},line={},endLine={},col={},endColumn={},title={}::{}",
                gh_escape(&d.path.display().to_string(), true),
                d.pos.line,
                d.pos.line,
                d.pos.column,
                end_column(f, d),
                d.code,
                gh_escape(&msg, false)
            );
        }
    }
    out
}

/// `path` as a SARIF artifact location: relative to `root` (uriBaseId `SRCROOT`) when it lies
/// there, else an absolute `file://` URI.
fn artifact_location(path: &Path, root: Option<&Path>) -> Value {
    let enc = |s: &str| {
        s.replace('\\', "/")
            .replace('%', "%25")
            .replace(' ', "%20")
            .replace('#', "%23")
            .replace('?', "%3F")
    };
    let rel = if path.is_relative() {
        Some(path.to_path_buf())
    } else {
        root.and_then(|r| path.strip_prefix(r).ok().map(Path::to_path_buf))
    };
    match rel {
        Some(r) => {
            let r = r.strip_prefix("./").unwrap_or(&r).to_path_buf();
            json!({"uri": enc(&r.display().to_string()), "uriBaseId": "SRCROOT"})
        }
        None => json!({"uri": format!("file://{}", enc(&path.display().to_string()))}),
    }
}

/// A stable identity of a finding across runs (GitHub code scanning matches alerts by it):
/// rule, file and JSON pointer, not the line, so an edit above the finding keeps its alert.
fn fingerprint(d: &Diagnostic, uri: &Value) -> String {
    let mut h = Sha256::new();
    h.update(d.code.as_bytes());
    h.update([0]);
    h.update(uri["uri"].as_str().unwrap_or_default().as_bytes());
    h.update([0]);
    h.update(d.pointer.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// SARIF 2.1.0: one run; the rules of every finding with descriptions, help and `helpUri`; each
/// result with `ruleIndex`, a region covering the token, `partialFingerprints`; the invocation;
/// paths relative to `SRCROOT` (the working directory) through `originalUriBaseIds`.
pub fn sarif(report: &Report) -> Value {
    let root = std::env::current_dir().ok();
    let used: BTreeSet<&str> = report
        .files
        .iter()
        .flat_map(|f| f.diagnostics.iter().map(|d| d.code.as_str()))
        .collect();
    let rule_list: Vec<&codes::RuleInfo> = codes::RULES
        .iter()
        .filter(|r| used.contains(r.code))
        .collect();
    let rules: Vec<Value> = rule_list
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.code,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.summary},
                "help": {"text": r.help},
                "helpUri": format!("{RULES_DOC_URI}#{}", r.code.to_ascii_lowercase()),
                "defaultConfiguration": {"level": level(r.severity)},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .files
        .iter()
        .flat_map(|f| f.diagnostics.iter().map(move |d| (f, d)))
        .map(|(f, d)| {
            let loc = artifact_location(&d.path, root.as_deref());
            let default_help = codes::rule(&d.code).map_or("", |r| r.help);
            let text = if d.help.is_empty() || d.help == default_help {
                d.message.clone()
            } else {
                format!("{} (help: {})", d.message, d.help)
            };
            let mut r = json!({
                "ruleId": d.code,
                "level": level(d.severity),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": loc,
                        "region": {
                            "startLine": d.pos.line.max(1),
                            "startColumn": d.pos.column.max(1),
                            "endLine": d.pos.line.max(1),
                            "endColumn": end_column(f, d),
                        },
                    },
                    "logicalLocations": [{"fullyQualifiedName": d.pointer, "kind": "member"}],
                }],
                "partialFingerprints": {"onexFinding/v1": fingerprint(d, &loc)},
            });
            if let Some(i) = rule_list.iter().position(|x| x.code == d.code) {
                r["ruleIndex"] = json!(i);
            }
            r
        })
        .collect();
    let mut base = root
        .as_deref()
        .map(|r| r.display().to_string().replace('\\', "/"))
        .unwrap_or_default();
    if !base.ends_with('/') {
        base.push('/');
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "onex validate",
                "version": crate::ENGINE_VERSION,
                "informationUri": RULES_DOC_URI,
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": true,
                "exitCode": i32::from(report.exit_code(false)),
            }],
            "originalUriBaseIds": {"SRCROOT": {"uri": format!("file://{}", base.replace(' ', "%20"))}},
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
        let want = "x/contract.yaml:4:28 warning ONEX034 descriptor.purity `impure` is not one of pure, side_effecting\n4 | descriptor: {é: 1, purity: impure}\n  |                            ^^^^^^\n  = help: use one of the documented values\n";
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
            "::notice file=x/contract.yaml,line=3,endLine=3,col=14,endColumn=17,title=ONEX021::ONEX021 `input_model` class `B` does not start with `Model`%0Ahelp: name the model class `Model…`\n"
        );
        assert_eq!(gh_escape("a:b,c%\n", true), "a%3Ab%2Cc%25%0A");
    }
}
