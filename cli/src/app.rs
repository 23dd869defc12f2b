//! What every command starts from: the configuration, the handlers this binary links (the
//! engine's built-ins and node generation's), and the workflows to load — given on the command
//! line, in `orchestrator.workflows`, or the shipped ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use onex_engine::config::Config;
use onex_engine::diag::Diagnostic;
use onex_engine::events::EventRegistry;
use onex_engine::pipeline::{Handlers, Services};
use onex_engine::workflow::{Workflow, WorkflowSet};
use onex_generation::GenerationSettings;

use crate::error::{CliError, Kind};

pub struct App {
    pub config: Config,
    pub handlers: Handlers,
}

impl App {
    pub fn new(config: Config) -> Result<App, String> {
        use onex_generation::request::{CONFIG_KEYS, CONFIG_SECTIONS};
        config
            .check_keys(CONFIG_SECTIONS, CONFIG_KEYS)
            .map_err(|e| format!("configuration error: {e}"))?;
        let handlers = Handlers::builtin()
            .with(onex_generation::HANDLERS)
            .map_err(|e| e.to_string())?;
        Ok(App { config, handlers })
    }

    /// The workflow files to host: `paths` when given, else `orchestrator.workflows`, else the
    /// shipped node generation and node quality check.
    pub fn workflow_paths(&self, paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
        let given: &[PathBuf] = if !paths.is_empty() {
            paths
        } else {
            &self.config.orchestrator.workflows
        };
        if given.is_empty() {
            return [
                onex_generation::shipped::GENERATION_CONTRACT,
                onex_generation::shipped::QUALITY_CONTRACT,
            ]
            .iter()
            .map(|rel| onex_generation::shipped::path(rel))
            .collect();
        }
        onex_engine::workflow::discover(given)
    }

    /// Loads one workflow file through the one validation path; problems are printed.
    pub fn load_workflow(&self, path: &Path) -> Result<Workflow, CliError> {
        Workflow::load(path, &self.handlers).map_err(|d| {
            eprintln!("onex: the workflow {} does not validate:", path.display());
            crate::print_diagnostics(&d);
            CliError::reported(Kind::Usage)
        })
    }

    /// Loads the workflows to host (see [`App::workflow_paths`]); problems are printed.
    pub fn load_workflows(&self, paths: &[PathBuf]) -> Result<WorkflowSet, CliError> {
        let files = self
            .workflow_paths(paths)
            .map_err(|e| CliError::usage(format!("onex: {e}")))?;
        if files.is_empty() {
            return Err(CliError::usage(format!(
                "onex: no workflow contract under {}",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut loaded = Vec::new();
        let mut problems: Vec<Diagnostic> = Vec::new();
        for f in &files {
            match Workflow::load(f, &self.handlers) {
                Ok(w) => loaded.push(w),
                Err(d) => problems.extend(d),
            }
        }
        if !problems.is_empty() {
            eprintln!("onex: the workflows do not validate:");
            crate::print_diagnostics(&problems);
            return Err(CliError::reported(Kind::Usage));
        }
        WorkflowSet::new(loaded).map_err(|d| {
            eprintln!("onex: the workflows cannot be hosted together:");
            crate::print_diagnostics(&d);
            CliError::reported(Kind::Usage)
        })
    }

    /// The event catalogues of the default workflows (for commands that read the bus without
    /// running anything: status, trace, runs, events).
    pub fn events(&self, workflows: &[PathBuf]) -> Result<Arc<EventRegistry>, CliError> {
        Ok(self.load_workflows(workflows)?.events().clone())
    }

    /// Handler settings from configuration and flags.
    pub fn services(
        &self,
        templates: Option<PathBuf>,
        keep_failed: bool,
    ) -> Result<Services, CliError> {
        let generation = GenerationSettings::from_config(&self.config, templates)
            .map_err(|e| CliError::usage(format!("onex: configuration error: {e}")))?;
        let mut s = Services::default();
        s.fsync = true;
        s.keep_failed = keep_failed;
        s.insert(generation);
        Ok(s)
    }
}
