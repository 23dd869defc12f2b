//! Workflows: a validated contract with its event catalogue and its identity (name, version,
//! hash of its sources) — what the executor runs and an orchestrator hosts — and the set of
//! workflows one process hosts, routed by trigger type.
//!
//! Loading goes through the one validation path ([`crate::contract::validate`]), so start-up,
//! reload and `onex validate` accept and reject the same files with the same messages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::contract::executable::{self, EngineKnowledge, ExecutableContract};
use crate::contract::validate::{FileReport, ValidateOptions, validate_file, validate_str};
use crate::diag::{Diagnostic, Pos, Severity};
use crate::events::{EventCatalog, EventRegistry, WorkflowRef};

/// One loaded workflow version.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub id: WorkflowRef,
    pub contract: ExecutableContract,
    /// The catalogues the contract names (none: the engine's own events only).
    pub catalogs: Vec<Arc<EventCatalog>>,
}

impl Workflow {
    /// Loads and validates a workflow contract file.
    pub fn load(path: &Path, engine: &dyn EngineKnowledge) -> Result<Workflow, Vec<Diagnostic>> {
        let report = validate_file(path, &ValidateOptions::default(), Some(engine));
        Workflow::from_report(&report)
    }

    /// Loads and validates contract text as if it were the file `path` (a contract embedded
    /// in a binary; includes and the catalogue are still read relative to `path`).
    pub fn load_str(
        path: &Path,
        text: &str,
        engine: &dyn EngineKnowledge,
    ) -> Result<Workflow, Vec<Diagnostic>> {
        let report = validate_str(path, text, &ValidateOptions::default(), Some(engine));
        Workflow::from_report(&report)
    }

    /// The workflow of a validation report: every error of the report, or the workflow.
    pub fn from_report(report: &FileReport) -> Result<Workflow, Vec<Diagnostic>> {
        let contract = executable::from_report(report)?;
        let catalogs = contract
            .catalogs
            .iter()
            .map(|p| executable::load_catalog(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut h = Sha256::new();
        if let Some(doc) = &report.doc {
            for f in doc.files() {
                h.update(f.to_string_lossy().as_bytes());
                h.update([0]);
                h.update(doc.source_text(f).unwrap_or_default().as_bytes());
                h.update([0]);
            }
        }
        for c in &contract.catalogs {
            // The catalogue's bytes as read (validation read them a moment ago).
            h.update(std::fs::read(c).unwrap_or_default());
        }
        let hash = hex::encode(&h.finalize()[..8]);
        Ok(Workflow {
            id: WorkflowRef {
                name: contract.workflow_name.clone(),
                version: contract.workflow_version.clone(),
                hash,
            },
            contract,
            catalogs,
        })
    }

    pub fn path(&self) -> &Path {
        &self.contract.path
    }
}

/// The workflow files under `paths`: files as given, directories searched for workflow
/// contracts (dialect X files with stages, not catalogues).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let files = crate::contract::validate::discover(paths).map_err(|e| e.to_string())?;
    let explicit: Vec<&PathBuf> = paths.iter().filter(|p| !p.is_dir()).collect();
    Ok(files
        .into_iter()
        .filter(|f| explicit.contains(&f) || looks_like_workflow(f))
        .collect())
}

/// A cheap pre-check before validation: the file has an `onex:` block with `stages:`.
fn looks_like_workflow(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.lines().any(|l| l.starts_with("onex:"))
            && t.lines().any(|l| l.trim_start().starts_with("stages:"))
    })
}

/// The workflows one process hosts, each trigger type routed to one of them.
#[derive(Debug, Clone)]
pub struct WorkflowSet {
    workflows: Vec<Arc<Workflow>>,
    by_trigger: HashMap<String, usize>,
    events: Arc<EventRegistry>,
}

impl WorkflowSet {
    /// Hosts `workflows` together. Two of them claiming one trigger, or catalogues that clash,
    /// is an error naming both files.
    pub fn new(workflows: Vec<Workflow>) -> Result<WorkflowSet, Vec<Diagnostic>> {
        let mut by_trigger: HashMap<String, usize> = HashMap::new();
        let mut errors = Vec::new();
        let mut events = EventRegistry::new();
        for (i, w) in workflows.iter().enumerate() {
            for c in &w.catalogs {
                if let Err(e) = events.add(c.clone()) {
                    errors.push(start_up_error(
                        w.path(),
                        None,
                        format!("workflow '{}': {e}", w.id.name),
                    ));
                }
            }
            for (t, at) in w
                .contract
                .triggers
                .iter()
                .zip(w.contract.trigger_locations.iter())
            {
                if let Some(&j) = by_trigger.get(t) {
                    let other = &workflows[j];
                    errors.push(start_up_error(
                        w.path(),
                        Some(at),
                        format!(
                            "trigger {t} is claimed by workflow '{}' ({}) and by '{}' ({})",
                            other.id.name,
                            other
                                .contract
                                .trigger_locations
                                .iter()
                                .zip(&other.contract.triggers)
                                .find(|(_, ot)| *ot == t)
                                .map_or_else(
                                    || other.path().display().to_string(),
                                    |(l, _)| l.clone()
                                ),
                            w.id.name,
                            at
                        ),
                    ));
                } else {
                    by_trigger.insert(t.clone(), i);
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(WorkflowSet {
            workflows: workflows.into_iter().map(Arc::new).collect(),
            by_trigger,
            events: Arc::new(events),
        })
    }

    /// Every hosted workflow, in the order given.
    pub fn workflows(&self) -> &[Arc<Workflow>] {
        &self.workflows
    }

    /// The workflow an event of type `event_type` triggers.
    pub fn for_trigger(&self, event_type: &str) -> Option<&Arc<Workflow>> {
        self.by_trigger.get(event_type).map(|&i| &self.workflows[i])
    }

    /// A hosted workflow by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Workflow>> {
        self.workflows.iter().find(|w| w.id.name == name)
    }

    /// Every trigger type, in workflow order.
    pub fn trigger_types(&self) -> Vec<String> {
        self.workflows
            .iter()
            .flat_map(|w| w.contract.triggers.iter().cloned())
            .collect()
    }

    /// The engine's catalogue and every hosted workflow's.
    pub fn events(&self) -> &Arc<EventRegistry> {
        &self.events
    }
}

fn start_up_error(path: &Path, at: Option<&String>, message: String) -> Diagnostic {
    // `at` is `file:line:col`; keep its position, the path is the workflow's.
    let pos = at
        .and_then(|a| {
            let mut it = a.rsplitn(3, ':');
            let col = it.next()?.parse().ok()?;
            let line = it.next()?.parse().ok()?;
            Some(Pos { line, column: col })
        })
        .unwrap_or(Pos { line: 1, column: 1 });
    Diagnostic {
        code: "ONEX109".into(),
        severity: Severity::Error,
        message,
        path: path.to_path_buf(),
        pos,
        pointer: String::new(),
        help: "host the workflows in separate orchestrator groups, or give each its own trigger"
            .into(),
    }
}
