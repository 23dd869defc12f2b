//! Contract tests (`onex test`, docs/contracts.md "Testing a workflow"): a YAML file names a
//! workflow, a trigger payload, optional faults and what the run must do; [`runner`] runs each
//! in-process on a private embedded bus and checks the run's events and result; [`report`]
//! prints the outcome (text like `cargo test`, JSON, JUnit).
//!
//! A test file is loaded like a contract — YAML with spans ([`crate::contract::source`]) and a
//! JSON Schema (`schemas/onex-test.schema.json`, ONEX110) — so an unknown key or a wrong type is
//! reported at its file:line:col; what it names in its workflow (trigger, stages, gates, event
//! types) is checked against the loaded workflow (ONEX111).

pub mod report;
pub mod runner;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use crate::contract::codes;
use crate::contract::source::{self, LoadOptions, Location, SourceDoc};
use crate::diag::{Diagnostic, Pos};
use crate::pipeline::GateStatus;
use crate::pipeline::faults::{Fault, FaultAction, FaultTarget};
use crate::workflow::Workflow;

/// File names `onex test DIR` picks up.
pub const SUFFIXES: &[&str] = &[".test.yaml", ".test.yml"];

/// One loaded test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    pub name: String,
    /// As written: a contract path (relative to the test file) or a workflow name.
    pub workflow: String,
    pub timeout: Option<Duration>,
    /// Written into the working directory before the run (relative path, text).
    pub files: Vec<(String, String)>,
    pub trigger_type: Option<String>,
    pub payload: Value,
    pub correlation_id: Option<Uuid>,
    pub faults: Vec<FaultSpec>,
    pub expect: Expect,
    doc: SourceDoc,
}

/// A fault as the test file gives it.
#[derive(Debug, Clone)]
pub struct FaultSpec {
    pub target: FaultTarget,
    pub action: FaultAction,
    pub times: Option<u32>,
    /// JSON pointer of the fault in the test file.
    pub pointer: String,
}

impl FaultSpec {
    pub fn to_fault(&self) -> Fault {
        Fault::new(self.target.clone(), self.action.clone(), self.times)
    }
}

/// What the run must do. Each check keeps the JSON pointer it came from, so a failed check
/// is reported at its line in the test file.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub status: Option<String>,
    pub failure: Option<(Value, String)>,
    pub events: Option<Vec<String>>,
    pub events_subsequence: Option<Vec<String>>,
    pub payloads: Vec<(Value, String)>,
    pub outputs: Option<serde_json::Map<String, Value>>,
    pub files: Vec<(Value, String)>,
}

impl TestFile {
    /// Where the node at `pointer` of the test file is.
    pub fn locate(&self, pointer: &str) -> Location {
        self.doc.locate(pointer)
    }

    /// The contract file `workflow` names, when it names one (relative to the test file).
    pub fn workflow_path(&self) -> Option<PathBuf> {
        let p = self
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.workflow);
        p.is_file().then_some(p)
    }

    /// A diagnostic at the node `pointer`.
    pub fn error(&self, code: &str, pointer: &str, message: impl Into<String>) -> Diagnostic {
        codes::make(code, &self.doc.locate(pointer), pointer, message)
    }

    /// What the test names in its workflow exists there (ONEX111): the trigger, the stages and
    /// gates of faults, the event types of expectations.
    pub fn check_against(
        &self,
        wf: &Workflow,
        events: &crate::events::EventRegistry,
    ) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if let Some(t) = &self.trigger_type
            && !wf.contract.triggers.contains(t)
        {
            out.push(self.error(
                "ONEX111",
                "/trigger/type",
                format!(
                    "{t} is not a trigger of workflow '{}' (its triggers: {})",
                    wf.id.name,
                    wf.contract.triggers.join(", ")
                ),
            ));
        }
        let stages: Vec<&str> = wf.contract.stages.iter().map(|s| s.id.as_str()).collect();
        let gates: Vec<&str> = wf
            .contract
            .stages
            .iter()
            .flat_map(|s| s.gates.iter().map(|g| g.id.as_str()))
            .collect();
        for f in &self.faults {
            let (kind, id, known) = match &f.target {
                FaultTarget::Stage(s) => ("stage", s, &stages),
                FaultTarget::Gate(g) => ("gate", g, &gates),
            };
            if matches!(f.action, FaultAction::ExitCode { .. }) && known.contains(&id.as_str()) {
                let handler = wf.contract.stages.iter().find_map(|s| match &f.target {
                    FaultTarget::Stage(id) if &s.id == id => Some(s.handler.clone()),
                    FaultTarget::Gate(id) => s.gates.iter().find(|g| &g.id == id).map(|g| match &g
                        .check
                    {
                        crate::contract::executable::GateCheck::Handler(h) => Some(h.clone()),
                        crate::contract::executable::GateCheck::Checks(_) => None,
                    }),
                    FaultTarget::Stage(_) => None,
                });
                if handler.flatten().as_deref() != Some("command") {
                    out.push(self.error(
                        "ONEX111",
                        &format!("{}/exit_code", f.pointer),
                        format!("{kind} `{id}` is no `command` step: an exit code cannot be injected there"),
                    ));
                }
            }
            if matches!(
                (&f.target, &f.action),
                (FaultTarget::Stage(_), FaultAction::Verdict { .. })
                    | (FaultTarget::Gate(_), FaultAction::Output(_))
            ) {
                out.push(self.error(
                    "ONEX111",
                    &f.pointer,
                    "`output` replaces a stage handler, `verdict` a gate's decision",
                ));
            }
            if !known.contains(&id.as_str()) {
                let hint = crate::diag::did_you_mean(id, known.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                out.push(self.error(
                    "ONEX111",
                    &format!("{}/{kind}", f.pointer),
                    format!(
                        "workflow '{}' has no {kind} `{id}`{hint}; it has: {}",
                        wf.id.name,
                        known.join(", ")
                    ),
                ));
            }
        }
        let mut check_event = |item: &str, pointer: String| {
            let (ty, stage) = split_event(item);
            if events.get(ty).is_none() {
                let known: Vec<String> = events
                    .catalogs()
                    .iter()
                    .flat_map(|c| c.events().map(|d| d.event_type.clone()))
                    .collect();
                let hint = crate::diag::did_you_mean(ty, known.iter().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                out.push(self.error(
                    "ONEX111",
                    &pointer,
                    format!(
                        "event type {ty} is in no catalogue of workflow '{}'{hint}",
                        wf.id.name
                    ),
                ));
            }
            if let Some(s) = stage
                && s != crate::events::catalog::PIPELINE_STAGE
                && !stages.contains(&s)
            {
                out.push(self.error(
                    "ONEX111",
                    &pointer,
                    format!("workflow '{}' has no stage `{s}`", wf.id.name),
                ));
            }
        };
        for (key, list) in [
            ("events", &self.expect.events),
            ("events_subsequence", &self.expect.events_subsequence),
        ] {
            for (i, item) in list.iter().flatten().enumerate() {
                check_event(item, format!("/expect/{key}/{i}"));
            }
        }
        for (p, pointer) in &self.expect.payloads {
            if let Some(e) = p.get("event").and_then(Value::as_str) {
                check_event(e, format!("{pointer}/event"));
            }
        }
        out
    }
}

/// `TYPE@STAGE` → (TYPE, Some(STAGE)); `TYPE` → (TYPE, None).
pub fn split_event(item: &str) -> (&str, Option<&str>) {
    match item.split_once('@') {
        Some((t, s)) => (t, Some(s)),
        None => (item, None),
    }
}

/// The test files under `paths`: files as given, directories searched for `*.test.yaml`.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .follow_links(false)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|f| {
                    f.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| SUFFIXES.iter().any(|s| n.ends_with(s)))
                })
                .collect();
            found.sort();
            out.extend(found);
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

fn validator() -> &'static Result<(Value, jsonschema::Validator), String> {
    static CELL: OnceLock<Result<(Value, jsonschema::Validator), String>> = OnceLock::new();
    CELL.get_or_init(|| {
        let text = crate::contract::schema::find("onex-test")
            .ok_or("no embedded schema onex-test")?
            .text;
        let raw: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let v = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&raw)
            .map_err(|e| e.to_string())?;
        Ok((raw, v))
    })
}

/// Loads and checks one test file (ONEX110 for its shape, with file:line:col).
pub fn load(path: &Path) -> Result<TestFile, Vec<Diagnostic>> {
    let loaded = source::load_file(path, LoadOptions { include: false });
    if !loaded.diagnostics.is_empty() {
        return Err(loaded.diagnostics);
    }
    let Some(doc) = loaded.doc else {
        let loc = Location {
            path: path.to_path_buf(),
            pos: Pos { line: 1, column: 1 },
        };
        return Err(vec![codes::make(
            "ONEX110",
            &loc,
            "",
            "the test file is empty",
        )]);
    };
    let (raw, validator) = match validator() {
        Ok(v) => (&v.0, &v.1),
        Err(e) => {
            let loc = doc.locate("");
            return Err(vec![codes::make(
                "ONEX110",
                &loc,
                "",
                format!("internal: {e}"),
            )]);
        }
    };
    let mut diags = Vec::new();
    for err in validator.iter_errors(&doc.value) {
        let instance = err.instance_path().as_str().to_string();
        if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
            err.kind()
        {
            // Report each unknown key at the key itself, with the keys allowed there.
            let schema_path = err.schema_path().as_str().to_string();
            let parent = schema_path
                .strip_suffix("/additionalProperties")
                .unwrap_or("");
            let allowed: Vec<String> = raw
                .pointer(parent)
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for key in unexpected {
                let pointer = format!("{instance}/{}", source::escape_segment(key));
                let hint = crate::diag::did_you_mean(key, allowed.iter().map(String::as_str))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                diags.push(codes::make(
                    "ONEX110",
                    &doc.locate_key(&pointer),
                    &pointer,
                    format!(
                        "unknown key `{key}`{hint} (allowed here: {})",
                        allowed.join(", ")
                    ),
                ));
            }
            continue;
        }
        let schema_path = err.schema_path().as_str().to_string();
        let custom = custom_message(raw, &schema_path);
        let msg = custom.unwrap_or_else(|| err.to_string().replace('\n', " "));
        let at = if instance.is_empty() {
            String::new()
        } else {
            format!("{instance}: ")
        };
        diags.push(codes::make(
            "ONEX110",
            &doc.locate(&instance),
            &instance,
            format!("{at}{msg}"),
        ));
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(from_doc(path, doc))
}

/// The `x-onex-message` of the schema object a failed keyword belongs to, if it has one.
fn custom_message(raw: &Value, schema_path: &str) -> Option<String> {
    let mut p = schema_path;
    // The keyword itself, and for `oneOf/0/...` the branch: walk up to an object with a message.
    while let Some(i) = p.rfind('/') {
        p = &p[..i];
        if let Some(m) = raw
            .pointer(&p.replace("/$ref", ""))
            .and_then(|s| s.get("x-onex-message"))
            .and_then(Value::as_str)
        {
            return Some(m.to_owned());
        }
        if p.ends_with("/$defs") || p.is_empty() {
            break;
        }
    }
    None
}

/// The typed test from a document the schema accepted.
fn from_doc(path: &Path, doc: SourceDoc) -> TestFile {
    let v = &doc.value;
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let name = s("/name").unwrap_or_else(|| {
        let f = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        SUFFIXES
            .iter()
            .find_map(|suf| f.strip_suffix(suf).map(str::to_owned))
            .unwrap_or(f)
    });
    let files = v
        .get("files")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, t)| (k.clone(), t.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let faults = v
        .get("faults")
        .and_then(Value::as_array)
        .map(|a| a.iter().enumerate().map(|(i, f)| fault(f, i)).collect())
        .unwrap_or_default();
    let e = v.get("expect").cloned().unwrap_or(Value::Null);
    let list = |k: &str| {
        e.get(k).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
    };
    let indexed = |k: &str| -> Vec<(Value, String)> {
        e.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .enumerate()
                    .map(|(i, x)| (x.clone(), format!("/expect/{k}/{i}")))
                    .collect()
            })
            .unwrap_or_default()
    };
    let expect = Expect {
        status: e.get("status").and_then(Value::as_str).map(str::to_owned),
        failure: e
            .get("failure")
            .map(|f| (f.clone(), "/expect/failure".to_owned())),
        events: list("events"),
        events_subsequence: list("events_subsequence"),
        payloads: indexed("payloads"),
        outputs: e.get("outputs").and_then(Value::as_object).cloned(),
        files: indexed("files"),
    };
    TestFile {
        path: path.to_path_buf(),
        name,
        workflow: s("/workflow").unwrap_or_default(),
        timeout: v
            .get("timeout_s")
            .and_then(Value::as_f64)
            .map(Duration::from_secs_f64),
        files,
        trigger_type: s("/trigger/type"),
        payload: v
            .pointer("/trigger/payload")
            .cloned()
            .unwrap_or(Value::Null),
        correlation_id: s("/trigger/correlation_id").and_then(|u| u.parse().ok()),
        faults,
        expect,
        doc,
    }
}

fn fault(f: &Value, i: usize) -> FaultSpec {
    let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_owned);
    let target = match s("stage") {
        Some(st) => FaultTarget::Stage(st),
        None => FaultTarget::Gate(s("gate").unwrap_or_default()),
    };
    let action = if let Some(fail) = f.get("fail") {
        let code = fail["code"].as_str().unwrap_or_default().to_owned();
        FaultAction::Fail {
            message: fail
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| format!("{code} (injected)"), str::to_owned),
            code,
        }
    } else if f.get("timeout").is_some() {
        FaultAction::Timeout
    } else if let Some(m) = s("infra") {
        FaultAction::Infra { message: m }
    } else if let Some(o) = f.get("output") {
        FaultAction::Output(o.clone())
    } else if let Some(v) = f.get("verdict") {
        let status = match v["status"].as_str() {
            Some("pass") => GateStatus::Pass,
            Some("warning") => GateStatus::Warning,
            Some("skipped") => GateStatus::Skipped,
            _ => GateStatus::Fail,
        };
        FaultAction::Verdict {
            status,
            message: v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("injected verdict")
                .to_owned(),
        }
    } else {
        FaultAction::ExitCode {
            code: f
                .get("exit_code")
                .and_then(Value::as_i64)
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(1),
            stdout: s("stdout").unwrap_or_default(),
            stderr: s("stderr").unwrap_or_default(),
        }
    };
    FaultSpec {
        target,
        action,
        times: f
            .get("times")
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok()),
        pointer: format!("/faults/{i}"),
    }
}
