//! Showing a run as it happens: on a terminal, a live tree like cargo's or `gh run watch`
//! (indicatif MultiProgress: a line per running stage with its position N/M, elapsed time, the
//! gates it will check and its progress steps, above a total line counting queue time; each
//! stage and its gates ✓/✗/⚠ once resolved); plain lines when standard output is not a
//! terminal (or TERM=dumb); one envelope per line with `--json` (NDJSON); then the result.
//! Colour follows NO_COLOR / CLICOLOR / CLICOLOR_FORCE; `ONEX_ASCII=1` (or TERM=dumb) uses
//! ASCII marks. Used by direct and bus mode alike; events arrive ordered by seq.

use onex_engine::events::{Envelope, EventStatus};
use onex_engine::pipeline::{GateRecord, GateStatus, RunResult};
use onex_generation::PipelineResult;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the run is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Text,
    Json,
}

/// Marks and colour, from the environment.
#[derive(Debug, Clone, Copy)]
struct Look {
    ascii: bool,
    color: bool,
}

fn env_set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Look {
    fn from_env(tty: bool) -> Look {
        let dumb = env_set("TERM").as_deref() == Some("dumb");
        let ascii = dumb || env_set("ONEX_ASCII").is_some_and(|v| v != "0");
        // https://no-color.org and the CLICOLOR convention: NO_COLOR wins, then
        // CLICOLOR_FORCE, then CLICOLOR=0; otherwise colour on a terminal only.
        let color = if env_set("NO_COLOR").is_some() {
            false
        } else if env_set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
            true
        } else if env_set("CLICOLOR").as_deref() == Some("0") {
            false
        } else {
            tty && !dumb
        };
        Look { ascii, color }
    }

    /// The mark of a stage or gate status, coloured when colour is on.
    fn mark(&self, status: &str) -> String {
        let (uni, asc, code) = match status {
            "pass" | "completed" => ("✓", "ok", "32"),
            "warning" => ("⚠", "!!", "33"),
            "fail" | "failed" => ("✗", "XX", "31"),
            _ => ("-", "--", "2"),
        };
        let m = if self.ascii { asc } else { uni };
        if self.color {
            format!("\x1b[{code}m{m}\x1b[0m")
        } else {
            m.to_owned()
        }
    }

    fn branch(&self, last: bool) -> &'static str {
        match (self.ascii, last) {
            (false, false) => "├─",
            (false, true) => "└─",
            (true, false) => "|-",
            (true, true) => "`-",
        }
    }
}

/// The live tree on a terminal.
struct Live {
    mp: indicatif::MultiProgress,
    /// The bottom line: the run, its stage count and the total time (queue included).
    total: indicatif::ProgressBar,
    running: Mutex<HashMap<String, indicatif::ProgressBar>>,
    style: indicatif::ProgressStyle,
}

pub struct Display {
    style: Style,
    out: std::io::Stdout,
    look: Look,
    live: Option<Live>,
    /// The workflow's stages in order, for "N/M".
    stage_ids: Vec<String>,
    started: Instant,
    /// How long the trigger waited for an orchestrator (bus mode).
    queued: Mutex<Option<Duration>>,
    stages_done: Mutex<usize>,
}

fn spinner_style(look: Look, template: &str) -> indicatif::ProgressStyle {
    let style = indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    if look.ascii {
        style.tick_chars("-\\|/ ")
    } else {
        style
    }
}

impl Display {
    pub fn new(style: Style) -> Self {
        Self::for_stages(style, Vec::new())
    }

    /// A display for a run of a workflow with these stages (in order).
    pub fn for_stages(style: Style, stage_ids: Vec<String>) -> Self {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        let look = Look::from_env(tty);
        let dumb = env_set("TERM").as_deref() == Some("dumb");
        // indicatif draws on stderr: without a terminal there, lines printed through it would
        // be lost.
        let live =
            (style == Style::Text && tty && !dumb && std::io::stderr().is_terminal()).then(|| {
                let mp = indicatif::MultiProgress::new();
                let total = mp.add(indicatif::ProgressBar::new_spinner());
                let (stage_t, total_t) = if look.color {
                    (
                        "  {spinner:.cyan} {prefix:.bold} {msg} {elapsed:.dim}",
                        "{spinner:.cyan} {msg} {elapsed:.dim}",
                    )
                } else {
                    (
                        "  {spinner} {prefix} {msg} {elapsed}",
                        "{spinner} {msg} {elapsed}",
                    )
                };
                total.set_style(spinner_style(look, total_t));
                total.set_message("starting");
                total.enable_steady_tick(Duration::from_millis(100));
                Live {
                    mp,
                    total,
                    running: Mutex::new(HashMap::new()),
                    style: spinner_style(look, stage_t),
                }
            });
        Display {
            style,
            out: std::io::stdout(),
            look,
            live,
            stage_ids,
            started: Instant::now(),
            queued: Mutex::new(None),
            stages_done: Mutex::new(0),
        }
    }

    fn line(&self, s: &str) {
        if let Some(l) = self.live.as_ref().filter(|l| !l.total.is_finished()) {
            let _ = l.mp.println(s);
            return;
        }
        let mut out = self.out.lock();
        // A closed stdout (`| head`) must not abort the run.
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    }

    /// "N/M" of a stage (M unknown: "N").
    fn position(&self, stage: &str) -> String {
        match self.stage_ids.iter().position(|s| s == stage) {
            Some(i) => format!("{}/{}", i + 1, self.stage_ids.len()),
            None => String::new(),
        }
    }

    fn total_message(&self) -> String {
        let done = *self.stages_done.lock().unwrap_or_else(|p| p.into_inner());
        let queued = *self.queued.lock().unwrap_or_else(|p| p.into_inner());
        let of = if self.stage_ids.is_empty() {
            format!("{done} stages done")
        } else {
            format!("{done}/{} stages done", self.stage_ids.len())
        };
        match queued {
            Some(q) => format!("run · {of} · {:.1} s queued · total", q.as_secs_f64()),
            None => format!("run · {of} · waiting for an orchestrator"),
        }
    }

    /// An orchestrator took the run, `queued` after its trigger went out.
    pub fn picked_up(&self, queued: Duration) {
        *self.queued.lock().unwrap_or_else(|p| p.into_inner()) = Some(queued);
        if let Some(l) = &self.live {
            l.total.set_message(self.total_message());
        }
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

    /// The live line of a running stage.
    fn live_stage(&self, e: &Envelope) {
        let Some(l) = &self.live else { return };
        let mut running = l.running.lock().unwrap_or_else(|p| p.into_inner());
        match e.status {
            EventStatus::Started => {
                let pb =
                    l.mp.insert_before(&l.total, indicatif::ProgressBar::new_spinner());
                pb.set_style(l.style.clone());
                let pos = self.position(&e.stage);
                pb.set_prefix(if pos.is_empty() {
                    e.stage.clone()
                } else {
                    format!("[{pos}] {}", e.stage)
                });
                let gates: Vec<&str> = e
                    .payload
                    .get("gates_planned")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                pb.set_message(if gates.is_empty() {
                    "running".to_owned()
                } else {
                    format!("running, then gates {}", gates.join(" "))
                });
                pb.enable_steady_tick(Duration::from_millis(100));
                running.insert(e.stage.clone(), pb);
            }
            EventStatus::InProgress => {
                if let Some(pb) = running.get(&e.stage) {
                    let n = |k: &str| e.payload.get(k).and_then(Value::as_u64);
                    let step = match (
                        n("files_completed").or(n("files_written")),
                        n("total_files"),
                    ) {
                        (Some(d), Some(t)) => format!("step {d}/{t} "),
                        _ => String::new(),
                    };
                    let file = e
                        .payload
                        .get("current_file")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    pb.set_message(format!("{step}{file}"));
                }
            }
            _ => {
                if let Some(pb) = running.remove(&e.stage) {
                    pb.finish_and_clear();
                    l.mp.remove(&pb);
                }
            }
        }
    }

    fn text_event(&self, e: &Envelope) {
        if e.stage == onex_engine::events::catalog::PIPELINE_STAGE {
            if e.starts_own_run() {
                self.line(&format!(
                    "run {} submitted ({})",
                    e.correlation_id, e.event_type
                ));
                if let Some(l) = &self.live {
                    l.total.set_message(self.total_message());
                }
            }
            return;
        }
        self.live_stage(e);
        let finished = matches!(
            e.status,
            EventStatus::Completed | EventStatus::Warning | EventStatus::Failed
        );
        if !finished {
            return;
        }
        *self.stages_done.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        if let Some(l) = &self.live {
            l.total.set_message(self.total_message());
        }
        let status = match e.status {
            EventStatus::Completed => "completed",
            EventStatus::Warning => "warning",
            _ => "failed",
        };
        let took = onex_engine::pipeline::replay::duration_ms(&e.payload)
            .map(|ms| format!(" ({ms} ms)"))
            .unwrap_or_default();
        let pos = self.position(&e.stage);
        let pos = if pos.is_empty() {
            pos
        } else {
            format!(" [{pos}]")
        };
        let mut head = format!("{} {}{pos}{took}", self.look.mark(status), e.stage);
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
        let gates: Vec<&Value> = e
            .payload
            .get("gates_checked")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        for (i, g) in gates.iter().enumerate() {
            let s = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("");
            self.line(&format!(
                "  {} {} {} {}: {}",
                self.look.branch(i + 1 == gates.len()),
                self.look.mark(s("status")),
                s("gate_id"),
                s("gate_name"),
                s("message")
            ));
        }
    }

    /// Clears the live tree (the result goes to standard output).
    fn finish_live(&self) {
        if let Some(l) = &self.live {
            for (_, pb) in l.running.lock().unwrap_or_else(|p| p.into_inner()).drain() {
                pb.finish_and_clear();
            }
            l.total.finish_and_clear();
            let _ = l.mp.clear();
        }
    }

    /// The wall time since the CLI started, with the part spent queued (bus mode).
    fn total_line(&self) {
        if self.stage_ids.is_empty() {
            return; // not a run followed live (status, replay)
        }
        let total = self.started.elapsed().as_secs_f64();
        match *self.queued.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(q) if q >= Duration::from_millis(500) => self.line(&format!(
                "total {total:.1} s ({:.1} s queued)",
                q.as_secs_f64()
            )),
            _ => self.line(&format!("total {total:.1} s")),
        }
    }

    /// Prints `{"result": …}` (JSON style); true when it did.
    fn json_result(&self, r: &impl serde::Serialize) -> bool {
        self.finish_live();
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
        self.total_line();
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
        self.total_line();
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
                    "    {} {} {}: {} [{}]",
                    self.look.mark("warning"),
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
