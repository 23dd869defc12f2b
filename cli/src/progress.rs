//! Showing a run as it happens: one line per finished stage and gate (text), or one envelope per
//! line (`--json`, NDJSON), then the result. Used by direct and bus mode alike, so both look
//! the same; events arrive ordered by seq.

use onex_engine::events::{Envelope, EventStatus};
use onex_engine::pipeline::{GateRecord, GateStatus, RunResult};
use onex_generation::PipelineResult;
use serde_json::Value;
use std::io::Write;

/// How the run is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Text,
    Json,
}

pub struct Display {
    style: Style,
    out: std::io::Stdout,
    /// A spinner naming the running stage, on a terminal only (plain lines otherwise).
    spinner: Option<indicatif::ProgressBar>,
}

fn mark(status: &str) -> &'static str {
    match status {
        "pass" | "completed" => "✓",
        "warning" => "!",
        "fail" | "failed" => "✗",
        _ => "-",
    }
}

impl Display {
    pub fn new(style: Style) -> Self {
        use std::io::IsTerminal;
        let spinner = (style == Style::Text && std::io::stdout().is_terminal()).then(|| {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.enable_steady_tick(std::time::Duration::from_millis(80));
            pb
        });
        Display {
            style,
            out: std::io::stdout(),
            spinner,
        }
    }

    fn line(&self, s: &str) {
        if let Some(pb) = self.spinner.as_ref().filter(|pb| !pb.is_finished()) {
            pb.println(s);
            return;
        }
        let mut out = self.out.lock();
        // A closed stdout (`| head`) must not abort the run.
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    }

    /// Shows one event.
    pub fn event(&self, e: &Envelope) {
        match self.style {
            Style::Json => {
                if let Ok(s) = serde_json::to_string(e) {
                    self.line(&s);
                }
            }
            Style::Text => self.text_event(e),
        }
    }

    fn text_event(&self, e: &Envelope) {
        if let Some(pb) = &self.spinner {
            match e.status {
                EventStatus::Started => pb.set_message(format!("{} …", e.stage)),
                EventStatus::InProgress => {
                    if let Some(f) = e.payload.get("current_file").and_then(Value::as_str) {
                        pb.set_message(format!("{} … {f}", e.stage));
                    }
                }
                _ => {}
            }
        }
        if e.stage == onex_engine::events::catalog::PIPELINE_STAGE {
            if e.starts_own_run() {
                self.line(&format!(
                    "run {} submitted ({})",
                    e.correlation_id, e.event_type
                ));
            }
            return;
        }
        let finished = matches!(
            e.status,
            EventStatus::Completed | EventStatus::Warning | EventStatus::Failed
        );
        if !finished {
            return;
        }
        let status = match e.status {
            EventStatus::Completed => "completed",
            EventStatus::Warning => "warning",
            _ => "failed",
        };
        let took = onex_engine::pipeline::replay::duration_ms(&e.payload)
            .map(|ms| format!(" ({ms} ms)"))
            .unwrap_or_default();
        let mut head = format!("{} {}{took}", mark(status), e.stage);
        if e.status == EventStatus::Failed
            && let Some(code) = e.payload.get("error_code").and_then(Value::as_str)
        {
            let msg = e
                .payload
                .get("error_message")
                .and_then(Value::as_str)
                .unwrap_or("");
            head.push_str(&format!(": {code}: {msg}"));
        }
        self.line(&head);
        for g in e
            .payload
            .get("gates_checked")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let s = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("");
            self.line(&format!(
                "    {} {} {}: {}",
                mark(s("status")),
                s("gate_id"),
                s("gate_name"),
                s("message")
            ));
        }
    }

    /// Prints `{"result": …}` (JSON style); true when it did.
    fn json_result(&self, r: &impl serde::Serialize) -> bool {
        if let Some(pb) = &self.spinner {
            pb.finish_and_clear();
        }
        if self.style != Style::Json {
            return false;
        }
        let v = serde_json::json!({ "result": r });
        if let Ok(s) = serde_json::to_string(&v) {
            self.line(&s);
        }
        true
    }

    /// Shows the final result of any workflow's run.
    pub fn run_result(&self, r: &RunResult) {
        if self.json_result(r) {
            return;
        }
        let workflow = r
            .workflow
            .as_ref()
            .map_or_else(String::new, |w| format!(" {w}"));
        match &r.failure {
            None => self.line(&format!(
                "\nRun {}{workflow} succeeded in {} ms",
                r.correlation_id, r.total_duration_ms
            )),
            Some(f) => {
                self.line(&format!(
                    "\nRun {}{workflow} failed in stage {}{}: {} — {}",
                    r.correlation_id,
                    f.stage,
                    f.failed_gate
                        .as_deref()
                        .map(|g| format!(" (gate {g})"))
                        .unwrap_or_default(),
                    f.code,
                    f.message
                ));
                for s in &f.recovery_suggestions {
                    self.line(&format!("    → {s}"));
                }
            }
        }
        if let Some(c) = r.caused_by {
            self.line(&format!("triggered by run {c}"));
        }
        for (k, v) in &r.outputs {
            let shown = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let shown: String = if shown.chars().count() > 120 {
                shown
                    .chars()
                    .take(119)
                    .chain(std::iter::once('…'))
                    .collect()
            } else {
                shown
            };
            self.line(&format!("    {k}: {shown}"));
        }
        self.warnings(&r.warnings);
    }

    /// Shows the final result of a node generation run.
    pub fn generation_result(&self, r: &PipelineResult) {
        if self.json_result(r) {
            return;
        }
        self.text_result(r);
    }

    fn text_result(&self, r: &PipelineResult) {
        if r.success() {
            self.line(&format!(
                "\nGenerated {} in {} ms (correlation id {})",
                r.output_path.as_deref().unwrap_or("?"),
                r.total_duration_ms,
                r.correlation_id
            ));
            for f in &r.generated_files {
                self.line(&format!("    {f}"));
            }
            self.line(&format!(
                "validation passed: {}; compilation: {}",
                r.validation_passed,
                r.compilation_status.as_deref().unwrap_or("skipped")
            ));
        } else {
            self.line(&format!(
                "\nFailed in stage {}{}: {} — {}",
                r.failed_stage.as_deref().unwrap_or("?"),
                r.failed_gate
                    .as_deref()
                    .map(|g| format!(" (gate {g})"))
                    .unwrap_or_default(),
                r.error_code.as_deref().unwrap_or("?"),
                r.error_summary.as_deref().unwrap_or("")
            ));
            for s in &r.recovery_suggestions {
                self.line(&format!("    → {s}"));
            }
            self.line(&format!("correlation id {}", r.correlation_id));
        }
        self.warnings(&r.warnings);
    }

    fn warnings(&self, all: &[GateRecord]) {
        let warnings: Vec<_> = all
            .iter()
            .filter(|w| w.status == GateStatus::Warning)
            .collect();
        if !warnings.is_empty() {
            self.line("warnings:");
            for w in warnings {
                self.line(&format!(
                    "    ! {} {}: {} [{}]",
                    w.gate_id,
                    w.gate_name,
                    w.message,
                    w.error_code.as_deref().unwrap_or("")
                ));
                for s in &w.recovery_suggestions {
                    self.line(&format!("        → {s}"));
                }
            }
        }
    }
}
