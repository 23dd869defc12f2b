//! `command`: run a program as a stage or a gate.
//!
//! ```yaml
//! handler: command
//! params:
//!   argv: [python3, -m, py_compile, "{{ trigger.path }}", {expand: "trigger.files"}]
//!   cwd: "{{ trigger.output_path }}"   # optional template; inside the allowed roots
//!   env: [HOME]                         # variables passed through besides PATH and LANG
//!   set_env: {PYTHONDONTWRITEBYTECODE: "1"}
//!   timeout_ms: 60000                   # default 60 000
//!   output_limit: 65536                 # bytes kept per stream, default 65 536
//!   stdout: json                        # text (default) | json: parsed into `json`
//!   ok_codes: [0]                       # exit codes that mean success
//!   when_missing: fail                  # fail | skip | warn: the program is not installed
//! ```
//!
//! The program and argv come from the loaded contract only: `argv[0]` must be a literal, and a
//! template or `{expand: …}` item becomes exactly one (or, for `expand`, one per list element)
//! argument — an event payload can never add a shell, a flag split or another program. The
//! environment is cleared except for an allow-list. The child runs in its own process group,
//! killed on timeout and when the step is cancelled.
//!
//! Outputs (stage, under the stage id) and details (gate): `exit_code`, `stdout`, `stderr`
//! (the last part), `json` (with `stdout: json`), `duration_ms`, `argv`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::contract::executable::{ParamDoc, ParamProblem};
use crate::pipeline::faults::{FaultAction, FaultPlan, FaultTarget};
use crate::pipeline::{GateCtx, GateVerdict, StageCtx, StageError, expr};

pub static PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "argv",
        required: true,
        doc: "list: the program (a literal), then arguments — templates, or {expand: expression} giving a list",
    },
    ParamDoc {
        name: "cwd",
        required: false,
        doc: "template: working directory (inside the orchestrator's allowed roots when it has any)",
    },
    ParamDoc {
        name: "env",
        required: false,
        doc: "list of environment variable names passed through (PATH and LANG always are)",
    },
    ParamDoc {
        name: "set_env",
        required: false,
        doc: "mapping name -> template: variables set for the program",
    },
    ParamDoc {
        name: "timeout_ms",
        required: false,
        doc: "integer > 0: the program is killed after this (default 60000)",
    },
    ParamDoc {
        name: "output_limit",
        required: false,
        doc: "integer > 0: bytes of stdout and of stderr kept (default 65536)",
    },
    ParamDoc {
        name: "stdout",
        required: false,
        doc: "text (default) or json: stdout parsed as JSON into `json`",
    },
    ParamDoc {
        name: "ok_codes",
        required: false,
        doc: "list of exit codes meaning success (default [0])",
    },
    ParamDoc {
        name: "when_missing",
        required: false,
        doc: "fail (default), skip or warn: what a missing program means",
    },
];

/// Codes a `command` step can fail with.
pub static FAILURE_CODES: &[&str] = &[
    "COMMAND_FAILED",
    "COMMAND_TIMEOUT",
    "COMMAND_NOT_FOUND",
    "COMMAND_ARGUMENT_FAILED",
    "COMMAND_OUTPUT_INVALID",
];

const DEFAULT_TIMEOUT_MS: u64 = 60_000;
const DEFAULT_OUTPUT_LIMIT: u64 = 65_536;
/// Variables every command gets (when the orchestrator has them).
const ALWAYS_ENV: &[&str] = &["PATH", "LANG", "LC_ALL"];
/// How much of stderr a failure message and the failure details quote.
const STDERR_TAIL: usize = 2_000;

fn problem(code: &'static str, pointer: &str, message: impl Into<String>) -> ParamProblem {
    ParamProblem {
        code,
        pointer: pointer.into(),
        message: message.into(),
    }
}

fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// The `params:` a contract gives `command` (ONEX103, ONEX108).
pub fn check_params(params: &Value) -> Vec<ParamProblem> {
    let mut out = Vec::new();
    let Some(p) = params.as_object() else {
        out.push(problem("ONEX103", "", "params must be a mapping"));
        return out;
    };
    match p.get("argv").and_then(Value::as_array) {
        None => out.push(problem(
            "ONEX103",
            "/argv",
            "`argv` must be a list: the program, then its arguments",
        )),
        Some(a) if a.is_empty() => out.push(problem("ONEX103", "/argv", "`argv` is empty")),
        Some(a) => {
            match a[0].as_str() {
                Some(program) if !is_template(program) && !program.trim().is_empty() => {
                    let optional = matches!(
                        p.get("when_missing").and_then(Value::as_str),
                        Some("skip" | "warn")
                    );
                    if !optional && crate::process::resolve_program(program).is_none() {
                        out.push(problem(
                            "ONEX108",
                            "/argv/0",
                            format!("program '{program}' is not found (not on PATH here, or not executable)"),
                        ));
                    }
                }
                _ => out.push(problem(
                    "ONEX103",
                    "/argv/0",
                    "the program (argv[0]) must be a literal name or path: it comes from the contract, never from an event",
                )),
            }
            for (i, item) in a.iter().enumerate().skip(1) {
                let ok = item.is_string()
                    || item.is_number()
                    || item.as_object().is_some_and(|m| {
                        m.len() == 1 && m.get("expand").is_some_and(Value::is_string)
                    });
                if !ok {
                    out.push(problem(
                        "ONEX103",
                        &format!("/argv/{i}"),
                        "an argument is a string (a template) or {expand: expression}",
                    ));
                }
            }
        }
    }
    if let Some(v) = p.get("cwd")
        && !v.is_string()
    {
        out.push(problem("ONEX103", "/cwd", "`cwd` is a string (a template)"));
    }
    if let Some(v) = p.get("env") {
        let ok = v.as_array().is_some_and(|a| {
            a.iter().all(|n| {
                n.as_str()
                    .is_some_and(|s| !s.is_empty() && !s.contains('='))
            })
        });
        if !ok {
            out.push(problem(
                "ONEX103",
                "/env",
                "`env` is a list of variable names",
            ));
        }
    }
    if let Some(v) = p.get("set_env") {
        let ok = v.as_object().is_some_and(|m| {
            m.iter()
                .all(|(k, v)| !k.is_empty() && !k.contains('=') && v.is_string())
        });
        if !ok {
            out.push(problem(
                "ONEX103",
                "/set_env",
                "`set_env` maps variable names to strings (templates)",
            ));
        }
    }
    for key in ["timeout_ms", "output_limit"] {
        if let Some(v) = p.get(key)
            && v.as_u64().is_none_or(|n| n == 0)
        {
            out.push(problem(
                "ONEX103",
                &format!("/{key}"),
                format!("`{key}` is an integer > 0"),
            ));
        }
    }
    if let Some(v) = p.get("stdout")
        && !matches!(v.as_str(), Some("text" | "json"))
    {
        out.push(problem(
            "ONEX103",
            "/stdout",
            "`stdout` is `text` or `json`",
        ));
    }
    if let Some(v) = p.get("when_missing")
        && !matches!(v.as_str(), Some("fail" | "skip" | "warn"))
    {
        out.push(problem(
            "ONEX103",
            "/when_missing",
            "`when_missing` is `fail`, `skip` or `warn`",
        ));
    }
    if let Some(v) = p.get("ok_codes") {
        let ok = v
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|c| c.as_i64().is_some()));
        if !ok {
            out.push(problem(
                "ONEX103",
                "/ok_codes",
                "`ok_codes` is a list of integers",
            ));
        }
    }
    out
}

/// The expressions and templates of `command`'s params, for ONEX102.
pub fn expressions(params: &Value) -> Vec<crate::contract::executable::ParamExpr> {
    use crate::contract::executable::ParamExpr;
    let mut out = Vec::new();
    if let Some(a) = params.get("argv").and_then(Value::as_array) {
        for (i, item) in a.iter().enumerate() {
            if let Some(s) = item.as_str() {
                out.push(ParamExpr::template(format!("/argv/{i}"), s));
            } else if let Some(e) = item.get("expand").and_then(Value::as_str) {
                out.push(ParamExpr::expression(format!("/argv/{i}/expand"), e));
            }
        }
    }
    if let Some(s) = params.get("cwd").and_then(Value::as_str) {
        out.push(ParamExpr::template("/cwd".into(), s));
    }
    if let Some(m) = params.get("set_env").and_then(Value::as_object) {
        for (k, v) in m {
            if let Some(s) = v.as_str() {
                out.push(ParamExpr::template(format!("/set_env/{k}"), s));
            }
        }
    }
    out
}

/// A command as the contract and the run context make it.
#[derive(Debug)]
struct Invocation {
    program: String,
    args: Vec<String>,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
    timeout: Duration,
    limit: usize,
    json: bool,
    ok_codes: Vec<i64>,
    when_missing: String,
}

/// What a step reports besides pass/fail.
enum Outcome {
    /// The program ran (whatever its exit code).
    Ran {
        ok: bool,
        exit: Option<i32>,
        details: Value,
        summary: String,
    },
    /// It is not installed, and the contract says what that means.
    Missing { when: String, message: String },
}

fn build(
    params: &Value,
    scope: &expr::Scope,
    roots: &[PathBuf],
    at: &str,
) -> Result<Invocation, StageError> {
    let arg_error =
        |what: String| StageError::failed("COMMAND_ARGUMENT_FAILED", format!("{what} (at {at})"));
    let argv = params
        .get("argv")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| arg_error("`argv` is missing".into()))?;
    let program = argv[0]
        .as_str()
        .filter(|p| !is_template(p))
        .ok_or_else(|| arg_error("argv[0] must be a literal program".into()))?
        .to_owned();
    let mut args = Vec::new();
    for (i, item) in argv.iter().enumerate().skip(1) {
        if let Some(t) = item.as_str() {
            let v = expr::render_in(t, scope)
                .map_err(|e| arg_error(format!("argv[{i}] `{t}`: {e}")))?;
            args.push(v);
        } else if let Some(e) = item.get("expand").and_then(Value::as_str) {
            let v = expr::eval_in(e, scope)
                .map_err(|err| arg_error(format!("argv[{i}] expand `{e}`: {err}")))?;
            match v {
                Value::Array(items) => {
                    for x in items {
                        args.push(match x {
                            Value::String(s) => s,
                            other => other.to_string(),
                        });
                    }
                }
                Value::Null => {}
                other => {
                    return Err(arg_error(format!(
                        "argv[{i}] expand `{e}` gave {other}, not a list"
                    )));
                }
            }
        } else if item.is_number() {
            args.push(item.to_string());
        } else {
            return Err(arg_error(format!(
                "argv[{i}] is neither a string nor {{expand: …}}"
            )));
        }
    }
    let cwd = match params.get("cwd").and_then(Value::as_str) {
        Some(t) => {
            let dir =
                expr::render_in(t, scope).map_err(|e| arg_error(format!("cwd `{t}`: {e}")))?;
            let dir = PathBuf::from(dir);
            confine(&dir, roots).map_err(arg_error)?;
            Some(dir)
        }
        None => None,
    };
    let mut env: Vec<(String, String)> = Vec::new();
    let pass: Vec<String> = ALWAYS_ENV
        .iter()
        .map(|s| s.to_string())
        .chain(
            params
                .get("env")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned)),
        )
        .collect();
    for name in pass {
        if let Ok(v) = std::env::var(&name) {
            env.push((name, v));
        }
    }
    if let Some(m) = params.get("set_env").and_then(Value::as_object) {
        for (k, v) in m {
            let t = v.as_str().unwrap_or_default();
            let v =
                expr::render_in(t, scope).map_err(|e| arg_error(format!("set_env.{k}: {e}")))?;
            env.push((k.clone(), v));
        }
    }
    let num = |k: &str, d: u64| {
        params
            .get(k)
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
            .unwrap_or(d)
    };
    Ok(Invocation {
        program,
        args,
        cwd,
        env,
        timeout: Duration::from_millis(num("timeout_ms", DEFAULT_TIMEOUT_MS)),
        limit: num("output_limit", DEFAULT_OUTPUT_LIMIT) as usize,
        json: params.get("stdout").and_then(Value::as_str) == Some("json"),
        ok_codes: params
            .get("ok_codes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_else(|| vec![0]),
        when_missing: params
            .get("when_missing")
            .and_then(Value::as_str)
            .unwrap_or("fail")
            .to_owned(),
    })
}

/// A working directory inside the allowed roots (when there are any).
fn confine(dir: &Path, roots: &[PathBuf]) -> Result<(), String> {
    if roots.is_empty() {
        return Ok(());
    }
    let real = dir
        .canonicalize()
        .map_err(|e| format!("cwd '{}': {e}", dir.display()))?;
    let inside = roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .any(|r| real.starts_with(&r));
    if inside {
        Ok(())
    } else {
        Err(format!(
            "cwd '{}' is outside the allowed roots ({})",
            dir.display(),
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut start = s.len() - n;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// An injected exit code (contract tests, [`crate::pipeline::faults`]) for the step `target`:
/// the program is not run, its result is made up from the fault.
fn injected(
    services: &crate::pipeline::Services,
    target: FaultTarget,
) -> Option<crate::process::Ran> {
    match services.get::<FaultPlan>()?.take_exit_code(&target)? {
        FaultAction::ExitCode {
            code,
            stdout,
            stderr,
        } => Some(crate::process::Ran {
            code: Some(*code),
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            timed_out: false,
            truncated: false,
        }),
        _ => None,
    }
}

async fn execute(
    inv: Invocation,
    at: &str,
    fake: Option<crate::process::Ran>,
) -> Result<Outcome, StageError> {
    let shown = std::iter::once(inv.program.as_str())
        .chain(inv.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let t0 = Instant::now();
    let ran = match fake {
        Some(r) => r,
        None => match spawn(&inv, &shown).await? {
            Some(r) => r,
            None => {
                return Ok(Outcome::Missing {
                    message: format!(
                        "program '{}' is not installed (not on PATH, or not executable; declared at {at})",
                        inv.program
                    ),
                    when: inv.when_missing,
                });
            }
        },
    };
    interpret(inv, ran, t0, &shown)
}

/// Runs the program; `None` when it is not installed.
async fn spawn(inv: &Invocation, shown: &str) -> Result<Option<crate::process::Ran>, StageError> {
    let Some(program) = crate::process::resolve_program(&inv.program) else {
        return Ok(None);
    };
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&inv.args)
        .env_clear()
        .envs(inv.env.iter().cloned());
    if let Some(d) = &inv.cwd {
        cmd.current_dir(d);
    }
    crate::process::run(cmd, inv.timeout, inv.limit)
        .await
        .map(Some)
        .map_err(|e| StageError::failed("COMMAND_FAILED", format!("`{shown}` did not start: {e}")))
}

/// What the program's exit says, for a stage or a gate.
fn interpret(
    inv: Invocation,
    ran: crate::process::Ran,
    t0: Instant,
    shown: &str,
) -> Result<Outcome, StageError> {
    let duration_ms = t0.elapsed().as_millis() as u64;
    if ran.timed_out {
        return Err(StageError::failed(
            "COMMAND_TIMEOUT",
            format!(
                "`{shown}` timed out after {} ms and was killed",
                inv.timeout.as_millis()
            ),
        )
        .with_details(json!({"argv": shown, "stderr": tail(&ran.stderr, STDERR_TAIL)})));
    }
    let mut details = json!({
        "argv": std::iter::once(inv.program.clone()).chain(inv.args.iter().cloned()).collect::<Vec<_>>(),
        "exit_code": ran.code,
        "stdout": ran.stdout,
        "stderr": tail(&ran.stderr, STDERR_TAIL),
        "duration_ms": duration_ms,
        "truncated": ran.truncated,
    });
    let ok = ran
        .code
        .is_some_and(|c| inv.ok_codes.contains(&i64::from(c)));
    if inv.json && ok {
        match serde_json::from_str::<Value>(&ran.stdout) {
            Ok(v) => details["json"] = v,
            Err(e) => {
                return Err(StageError::failed(
                    "COMMAND_OUTPUT_INVALID",
                    format!(
                        "`{shown}` printed no JSON on stdout ({e}{})",
                        if ran.truncated {
                            "; it was cut at output_limit"
                        } else {
                            ""
                        }
                    ),
                )
                .with_details(details));
            }
        }
    }
    let last_line = |s: &str| {
        s.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let said = {
        let e = last_line(&ran.stderr);
        if e.is_empty() {
            last_line(&ran.stdout)
        } else {
            e
        }
    };
    let summary = if ok {
        format!("`{shown}` succeeded")
    } else if said.is_empty() {
        format!("`{shown}` failed with {}", ran.describe_exit())
    } else {
        format!("`{shown}` failed with {}: {said}", ran.describe_exit())
    };
    Ok(Outcome::Ran {
        ok,
        exit: ran.code,
        details,
        summary,
    })
}

/// `command` as a stage: completes when the exit code is ok; its result goes under the stage
/// id.
pub async fn stage(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let inv = build(
        &ctx.stage.params,
        &ctx.scope(),
        &ctx.run.services.allowed_roots,
        &ctx.stage.location,
    )?;
    let fake = injected(&ctx.run.services, FaultTarget::Stage(ctx.stage.id.clone()));
    match execute(inv, &ctx.stage.location, fake).await? {
        Outcome::Ran {
            ok: true, details, ..
        } => Ok(details),
        Outcome::Ran {
            ok: false,
            details,
            summary,
            exit,
        } => Err(StageError::failed("COMMAND_FAILED", summary).with_details(
            json!({"exit_code": exit, "stderr": details["stderr"], "argv": details["argv"]}),
        )),
        Outcome::Missing { when, message } => match when.as_str() {
            // A stage has no "skipped with a warning" of its own: its result says so.
            "skip" | "warn" => Ok(json!({"skipped": true, "reason": message})),
            _ => Err(
                StageError::failed("COMMAND_NOT_FOUND", message).with_suggestions(vec![
                    "Install the program or set `when_missing: skip`".into(),
                ]),
            ),
        },
    }
}

/// `command` as a gate: passes when the exit code is ok.
pub async fn gate(ctx: &GateCtx<'_>) -> Result<GateVerdict, StageError> {
    let inv = build(
        &ctx.gate.params,
        &ctx.scope(),
        &ctx.run.services.allowed_roots,
        &ctx.gate.location,
    )?;
    let fake = injected(&ctx.run.services, FaultTarget::Gate(ctx.gate.id.clone()));
    Ok(match execute(inv, &ctx.gate.location, fake).await? {
        Outcome::Ran {
            ok: true,
            details,
            summary,
            ..
        } => GateVerdict::pass(summary).details(details),
        Outcome::Ran {
            ok: false,
            details,
            summary,
            ..
        } => GateVerdict::fail(summary).details(details),
        Outcome::Missing { when, message } => match when.as_str() {
            "skip" => GateVerdict::skipped(message),
            "warn" => GateVerdict::warning(message),
            _ => GateVerdict::fail(message).code("COMMAND_NOT_FOUND"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(p: Value) -> Vec<(&'static str, String)> {
        check_params(&p)
            .into_iter()
            .map(|p| (p.code, p.pointer))
            .collect()
    }

    #[test]
    fn the_program_is_a_literal_and_must_exist() {
        assert!(codes(json!({"argv": ["sh", "-c", "true"]})).is_empty());
        assert_eq!(
            codes(json!({"argv": ["{{ trigger.program }}", "x"]})),
            [("ONEX103", "/argv/0".to_string())]
        );
        assert_eq!(
            codes(json!({"argv": ["no-such-tool-onex"]})),
            [("ONEX108", "/argv/0".to_string())]
        );
        assert!(codes(json!({"argv": ["no-such-tool-onex"], "when_missing": "skip"})).is_empty());
        assert_eq!(
            codes(json!({"argv": []})),
            [("ONEX103", "/argv".to_string())]
        );
    }

    #[test]
    fn bad_values_are_located() {
        let got = codes(
            json!({"argv": ["sh", ["x"]], "timeout_ms": 0, "stdout": "yaml",
                               "when_missing": "maybe", "env": ["A=B"], "ok_codes": []}),
        );
        let pointers: Vec<&str> = got.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/argv/1",
                "/env",
                "/timeout_ms",
                "/stdout",
                "/when_missing",
                "/ok_codes"
            ]
        );
    }

    #[test]
    fn payload_values_stay_single_arguments() {
        let scope =
            expr::Scope::new(&json!({"trigger": {"name": "a b; rm -rf /", "files": ["x y", "z"]}}));
        let inv = build(
            &json!({"argv": ["echo", "{{ trigger.name }}", {"expand": "trigger.files"}]}),
            &scope,
            &[],
            "t:1:1",
        )
        .unwrap();
        assert_eq!(inv.program, "echo");
        assert_eq!(inv.args, ["a b; rm -rf /", "x y", "z"]);
    }

    #[tokio::test]
    async fn exit_codes_output_and_environment() {
        let scope = expr::Scope::new(&json!({}));
        // SAFETY-free: the variable is read by the child only.
        let inv = build(
            &json!({"argv": ["sh", "-c", "echo \"{\\\"n\\\": $N}\"; echo oops >&2; exit 3"],
                    "set_env": {"N": "7"}, "stdout": "json", "ok_codes": [3]}),
            &scope,
            &[],
            "t:1:1",
        )
        .unwrap();
        let Outcome::Ran { ok, details, .. } = execute(inv, "t:1:1", None).await.unwrap() else {
            panic!("ran")
        };
        assert!(ok);
        assert_eq!(details["json"], json!({"n": 7}));
        assert_eq!(details["exit_code"], json!(3));
        assert_eq!(details["stderr"].as_str().unwrap().trim(), "oops");

        let inv = build(
            &json!({"argv": ["sh", "-c", "echo \"[$HOME]\""]}),
            &scope,
            &[],
            "t:1:1",
        )
        .unwrap();
        let Outcome::Ran { details, .. } = execute(inv, "t:1:1", None).await.unwrap() else {
            panic!("ran")
        };
        assert_eq!(
            details["stdout"].as_str().unwrap().trim(),
            "[]",
            "HOME is not passed unless allowed"
        );
    }

    #[tokio::test]
    async fn timeouts_and_missing_programs() {
        let scope = expr::Scope::new(&json!({}));
        let inv = build(
            &json!({"argv": ["sleep", "10"], "timeout_ms": 100}),
            &scope,
            &[],
            "c.yaml:3:5",
        )
        .unwrap();
        let err = execute(inv, "c.yaml:3:5", None).await.err().unwrap();
        assert!(
            matches!(&err, StageError::Failed(f) if f.code == "COMMAND_TIMEOUT"),
            "{err}"
        );
        let inv = build(
            &json!({"argv": ["no-such-tool-onex"]}),
            &scope,
            &[],
            "c.yaml:3:5",
        )
        .unwrap();
        let Outcome::Missing { message, .. } = execute(inv, "c.yaml:3:5", None).await.unwrap()
        else {
            panic!("missing")
        };
        assert!(message.contains("c.yaml:3:5"), "{message}");
    }

    #[test]
    fn cwd_is_confined_to_the_allowed_roots() {
        let root = tempfile::tempdir().unwrap();
        let inner = root.path().join("in");
        std::fs::create_dir(&inner).unwrap();
        assert!(confine(&inner, &[root.path().to_path_buf()]).is_ok());
        let err = confine(Path::new("/etc"), &[root.path().to_path_buf()]).unwrap_err();
        assert!(err.contains("outside the allowed roots"), "{err}");
    }
}
