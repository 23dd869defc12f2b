//! The CLI as a person meets it: exit codes, prompt input, help, completions, closed pipes,
//! the queued state and cancellation.

mod common;

use assert_cmd::Command;
use std::path::Path;
use std::time::Duration;

fn onex(state: &Path) -> Command {
    let mut c = Command::cargo_bin("onex").unwrap();
    c.env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state.join("config"))
        .env_remove("ONEX_BUS")
        .env_remove("ONEX_CLI_MODE")
        .env_remove("ONEX_PYTHON")
        .current_dir(state)
        .timeout(Duration::from_secs(120));
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_lists_every_exit_code_including_130() {
    let state = tempfile::tempdir().unwrap();
    let o = onex(state.path()).arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    for code in ["0 ", "1 ", "2 ", "3 ", "4 ", "130"] {
        assert!(
            out.contains(&format!("\n  {code}")),
            "{code} missing:\n{out}"
        );
    }
    assert!(out.contains("interrupted"), "{out}");
}

const PROMPT: &str =
    "Create EFFECT node called OrderWriter in the orders domain that writes orders to PostgreSQL";

/// The NDJSON lines of a `--json` run.
fn ndjson(stdout: &[u8]) -> Vec<serde_json::Value> {
    text(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn a_misspelt_flag_is_a_usage_error_never_the_prompt() {
    let state = tempfile::tempdir().unwrap();
    let o = onex(state.path())
        .args(["generate", "--direct", "--jsno"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("--jsno"), "{err}");
    assert!(
        !text(&o.stdout).contains("PromptSubmitted") && !text(&o.stdout).contains("submitted"),
        "no run started"
    );
    // After `--`, a prompt starting with '-' is the prompt.
    let o = onex(state.path())
        .args([
            "generate",
            "--direct",
            "--json",
            "--no-compile",
            "--",
            "-x not a flag",
        ])
        .output()
        .unwrap();
    let lines = ndjson(&o.stdout);
    assert_eq!(lines[0]["event_type"], "PromptSubmitted");
    assert_eq!(lines[0]["payload"]["prompt_text"], "-x not a flag");
}

#[test]
fn the_prompt_comes_from_a_file_or_standard_input() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("prompt.txt");
    std::fs::write(&file, format!("{PROMPT}\n")).unwrap();
    let out = state.path().join("out");
    let o = onex(state.path())
        .args(["generate", "--direct", "--json", "--no-compile", "-o"])
        .arg(&out)
        .arg("--prompt-file")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines = ndjson(&o.stdout);
    assert_eq!(
        lines[0]["payload"]["prompt_text"], PROMPT,
        "trailing newline dropped"
    );
    assert!(out.join("node_orders_order_writer_effect").is_dir());

    // `-`: standard input; a 1 MB prompt reaches the pipeline (which judges its length)
    // instead of failing at the OS argument limit.
    let big = format!("{PROMPT} {}", "and more ".repeat(1 << 17));
    assert!(big.len() > 1_000_000);
    let o = onex(state.path())
        .args(["generate", "--direct", "--json", "--no-compile", "-"])
        .write_stdin(big.clone())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let lines = ndjson(&o.stdout);
    assert_eq!(
        lines[0]["payload"]["prompt_text"].as_str().map(str::len),
        Some(big.len())
    );
    let result = &lines.last().unwrap()["result"];
    assert_eq!(result["error_code"], "INVALID_PROMPT", "{result}");

    // `--prompt-file -` is standard input too; the prompt and the file exclude each other.
    let o = onex(state.path())
        .args([
            "generate",
            "--direct",
            "--json",
            "--no-compile",
            "--prompt-file",
            "-",
        ])
        .write_stdin("tiny")
        .output()
        .unwrap();
    assert_eq!(ndjson(&o.stdout)[0]["payload"]["prompt_text"], "tiny");
    let o = onex(state.path())
        .args(["generate", "--prompt-file", "x.txt", "a prompt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = onex(state.path()).args(["generate"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = onex(state.path())
        .args(["generate", "--prompt-file", "missing.txt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("missing.txt"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_run_input_value_can_come_from_a_file() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("dir.txt");
    std::fs::write(&file, "some/node/dir").unwrap();
    let o = onex(state.path())
        .args(["run", "node_quality_check", "--direct", "--json", "--input"])
        .arg(format!("node_directory=@{}", file.display()))
        .output()
        .unwrap();
    let lines = ndjson(&o.stdout);
    assert_eq!(lines[0]["payload"]["node_directory"], "some/node/dir");
    let o = onex(state.path())
        .args([
            "run",
            "node_quality_check",
            "--direct",
            "--input",
            "node_directory=@nope.txt",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("nope.txt"));
}

/// Every subcommand's help, recursively.
fn all_help(state: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let o = onex(state).args(&path).arg("--help").output().unwrap();
        let h = text(&o.stdout);
        if let Some(cmds) = h.split("Commands:\n").nth(1) {
            for l in cmds.lines().take_while(|l| l.starts_with("  ")) {
                let name = l.split_whitespace().next().unwrap_or_default();
                if name != "help" && !name.is_empty() {
                    let mut p = path.clone();
                    p.push(name.to_owned());
                    todo.push(p);
                }
            }
        }
        out.push((path.join(" "), h));
    }
    out
}

#[test]
fn help_has_examples_and_named_placeholders() {
    let state = tempfile::tempdir().unwrap();
    let helps = all_help(state.path());
    assert!(helps.len() > 15, "{}", helps.len());
    let bad = regex::Regex::new(r"<[A-Z]>|<SECS>|<UUID>").unwrap();
    for (cmd, h) in &helps {
        assert!(
            !bad.is_match(h),
            "`onex {cmd} --help` has a one-letter placeholder:\n{h}"
        );
    }
    for cmd in [
        "generate",
        "run",
        "validate",
        "graph",
        "orchestrator",
        "status",
        "trace",
        "runs",
        "events",
        "schema",
        "completions",
    ] {
        let (_, h) = helps.iter().find(|(c, _)| c == cmd).unwrap();
        assert!(
            h.contains("Examples:\n  onex "),
            "`onex {cmd} --help`:\n{h}"
        );
    }
    let (_, top) = helps.iter().find(|(c, _)| c.is_empty()).unwrap();
    // The OTLP flag is offered only where it works.
    assert_eq!(
        top.contains("--otlp-endpoint"),
        cfg!(feature = "otlp"),
        "{top}"
    );
}

fn shell_check(shell: &str, flag: &str, script: &Path) -> Option<std::process::Output> {
    match std::process::Command::new(shell)
        .arg(flag)
        .arg(script)
        .output()
    {
        Ok(o) => Some(o),
        Err(e) => {
            eprintln!("SKIPPED: {shell} -n: {e} (syntax check of the {shell} completions)");
            None
        }
    }
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let state = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _onex"),
        ("zsh", "#compdef onex"),
        ("fish", "complete -c onex"),
    ] {
        let o = onex(state.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        let script = text(&o.stdout);
        assert!(script.contains(marker), "{shell}: {marker} missing");
        for sub in ["generate", "orchestrator", "prompt-file"] {
            assert!(script.contains(sub), "{shell}: {sub} missing");
        }
        let file = state.path().join(format!("onex.{shell}"));
        std::fs::write(&file, &script).unwrap();
        let flag = if shell == "fish" {
            "--no-execute"
        } else {
            "-n"
        };
        if let Some(o) = shell_check(shell, flag, &file) {
            assert!(o.status.success(), "{shell} -n: {}", text(&o.stderr));
        }
    }
    // The bash script, sourced, registers the completion of `onex`.
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p onex",
            state.path().join("onex.bash").display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("_onex"));
}

#[test]
fn man_page_is_roff_naming_the_commands() {
    let state = tempfile::tempdir().unwrap();
    let o = onex(state.path()).arg("man").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let page = text(&o.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH onex"),
        "{page}"
    );
    for s in [".SH NAME", ".SH SUBCOMMANDS", "generate", "Exit codes"] {
        assert!(page.contains(s), "{s} missing");
    }
}

/// Runs `onex args` in `state` with standard output a pipe whose reader is already gone (what
/// `| head -1` becomes once head has its line): exit code and stderr.
fn with_closed_stdout(state: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("onex"));
    c.env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state.join("config"))
        .env_remove("ONEX_BUS")
        .current_dir(state)
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (o.status.code(), text(&o.stderr))
}

/// Publishes `n` PromptSubmitted events on `bus`.
fn publish_prompts(state: &Path, bus: &str, n: usize) {
    let payload = state.join("p.json");
    for i in 0..n {
        std::fs::write(
            &payload,
            serde_json::json!({"prompt_text": format!("Create EFFECT node called Writer{i} {}", "x".repeat(80)),
                               "output_directory": "/tmp", "requested_by": "ops"})
            .to_string(),
        )
        .unwrap();
        let o = onex(state)
            .env("ONEX_BUS", bus)
            .args([
                "events",
                "publish",
                "--type",
                "PromptSubmitted",
                "--payload",
            ])
            .arg(&payload)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
}

#[test]
fn a_closed_pipe_ends_listings_quietly() {
    let state = tempfile::tempdir().unwrap();
    let bus = format!("embedded:{}/bus", state.path().display());
    publish_prompts(state.path(), &bus, 3);
    let env = [("ONEX_BUS", bus.as_str())];
    for args in [
        &["schema"][..],
        &["schema", "envelope"],
        &["schema", "events"],
        &["handlers"],
        &["runs"],
        &["events", "tail", "--from-beginning", "--idle-timeout", "5"],
        &[
            "events",
            "tail",
            "--from-beginning",
            "--json",
            "--idle-timeout",
            "5",
        ],
        &["completions", "bash"],
        &["man"],
    ] {
        let (code, err) = with_closed_stdout(state.path(), &env, args);
        assert_eq!(code, Some(0), "onex {}: {err}", args.join(" "));
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "onex {}: {err}",
            args.join(" ")
        );
    }
    // The same through a real `| head`: the first lines arrive, nothing is said on stderr.
    let exe = assert_cmd::cargo::cargo_bin("onex");
    for (args, lines) in [
        ("runs", 3),
        ("schema", 1),
        ("events tail --from-beginning --idle-timeout 3", 1),
    ] {
        let o = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; '{}' {args} 2>err.txt | head -{lines}",
                exe.display()
            ))
            .env("XDG_STATE_HOME", state.path())
            .env("XDG_CONFIG_HOME", state.path().join("config"))
            .env("ONEX_BUS", &bus)
            .current_dir(state.path())
            .output()
            .unwrap();
        let err = std::fs::read_to_string(state.path().join("err.txt")).unwrap();
        assert!(o.status.success(), "onex {args} | head: {err}");
        assert!(err.is_empty(), "onex {args} | head: {err}");
        assert_eq!(text(&o.stdout).lines().count(), lines, "{args}");
    }
}

#[test]
fn runs_has_a_header_and_cuts_long_inputs_with_an_ellipsis() {
    let state = tempfile::tempdir().unwrap();
    let bus = format!("embedded:{}/bus", state.path().display());
    publish_prompts(state.path(), &bus, 1);
    let o = onex(state.path())
        .env("ONEX_BUS", &bus)
        .arg("runs")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    for col in ["RUN", "WORKFLOW", "STARTED", "OUTCOME", "INPUT"] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(row.contains("Create EFFECT node called Writer0"), "{row}");
    assert!(row.ends_with('…'), "{row}");
}

fn slow_job() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slow_job.yaml")
}

/// `onex orchestrator` hosting the slow job on `bus`, ready (it said so on stderr).
fn job_orchestrator(state: &Path, bus: &str, prefix: &str, extra: &[&str]) -> common::Proc {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("onex"))
        .args(["orchestrator", "--bus", bus, "--workflow"])
        .arg(slow_job())
        .args(extra)
        .env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state.join("config"))
        .env("ONEX_TOPIC_PREFIX", prefix)
        .current_dir(state)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "orchestrator ended before ready"
        );
        if line.contains("ready") {
            break;
        }
    }
    // Keep draining so the orchestrator never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while err.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    common::Proc(child)
}

/// `onex status ID --json` as JSON.
fn status(state: &Path, bus: &str, prefix: &str, id: &str) -> serde_json::Value {
    let o = onex(state)
        .env("ONEX_TOPIC_PREFIX", prefix)
        .args(["status", "--json", "--bus", bus, id])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    match v.get("result") {
        Some(r) => r.clone(),
        None => v,
    }
}

fn submit_job(state: &Path, bus: &str, prefix: &str, size: u32) -> String {
    let o = onex(state)
        .env("ONEX_TOPIC_PREFIX", prefix)
        .args([
            "run", "--detach", "--bus", bus, "--input", "job=j", "--input",
        ])
        .arg(format!("size={size}"))
        .arg(slow_job())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    text(&o.stdout).trim().to_owned()
}

fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[test]
fn a_run_in_flight_stops_at_the_next_stage_boundary() {
    let state = tempfile::tempdir().unwrap();
    let bus = format!("embedded:{}/bus", state.path().display());
    let _orch = job_orchestrator(state.path(), &bus, "", &[]);
    let id = submit_job(state.path(), &bus, "", 4);
    // Wait (deadline poll of another process) until the slow stage runs.
    let t0 = std::time::Instant::now();
    while status(state.path(), &bus, "", &id)["last_event"] != "StageStarted" {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the run never started"
        );
    }
    let o = onex(state.path())
        .args(["cancel", "--bus", &bus, "--wait", "30", &id])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).contains("cancelled before stage last"),
        "{}",
        text(&o.stdout)
    );
    let st = status(state.path(), &bus, "", &id);
    assert_eq!(st["status"], "failed", "{st}");
    assert_eq!(st["failure"]["code"], "CANCELLED", "{st}");
    assert_eq!(st["failure"]["stage"], "last", "{st}");
    assert!(
        st["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["stage_id"] != "last" || s["status"] == "skipped"),
        "`last` never ran: {st}"
    );
    // A finished run cannot be cancelled again.
    let o = onex(state.path())
        .args(["cancel", "--bus", &bus, &id])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("already finished"));
}

#[test]
fn a_queued_run_says_no_orchestrator_is_there_and_once_cancelled_never_starts() {
    let Some(url) = common::broker("ONEX_TEST_REDIS_URL") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let prefix = format!("ux{}.", unique());
    // Nobody consumes: the CLI says what it waits for instead of a stale spinner.
    let o = onex(state.path())
        .env("ONEX_TOPIC_PREFIX", &prefix)
        .args([
            "run",
            "--timeout",
            "7",
            "--bus",
            &url,
            "--input",
            "job=q",
            "--input",
            "size=0",
        ])
        .arg(slow_job())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "waiting for an orchestrator on {url} (group onex-orchestrator); none seen for 5 s"
        )),
        "{err}"
    );
    assert!(err.contains("onex orchestrator"), "{err}");
    // Cancel a queued run; the orchestrator that starts later does not run it.
    let id = submit_job(state.path(), &url, &prefix, 0);
    let o = onex(state.path())
        .env("ONEX_TOPIC_PREFIX", &prefix)
        .args(["cancel", "--bus", &url, &id])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("cancelled before it started"));
    let mut orch = job_orchestrator(state.path(), &url, &prefix, &["--exit-when-idle", "4"]);
    let code = orch.0.wait().unwrap();
    assert!(code.success());
    let st = status(state.path(), &url, &prefix, &id);
    assert_eq!(st["failure"]["code"], "CANCELLED", "{st}");
    assert!(
        st["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] != "completed"),
        "no stage ran: {st}"
    );
    // Only the trigger and the cancelled terminal event: no stage event was ever published.
    let o = onex(state.path())
        .env("ONEX_TOPIC_PREFIX", &prefix)
        .args([
            "events",
            "replay",
            "--json",
            "--bus",
            &url,
            "--correlation-id",
            &id,
        ])
        .output()
        .unwrap();
    let types: Vec<String> = ndjson(&o.stdout)
        .iter()
        .filter_map(|l| l["event_type"].as_str().map(str::to_owned))
        .collect();
    assert!(
        types
            .iter()
            .all(|t| t == "JobSubmitted" || t == "RunFailed"),
        "{types:?}"
    );
}

#[test]
fn sigint_with_the_in_process_orchestrator_ends_the_run_with_a_terminal_event() {
    use std::io::BufRead;
    let state = tempfile::tempdir().unwrap();
    let bus = format!("embedded:{}/bus", state.path().display());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("onex"))
        .args([
            "run", "--json", "--bus", &bus, "--input", "job=s", "--input", "size=3",
        ])
        .arg(slow_job())
        .env("XDG_STATE_HOME", state.path())
        .env("XDG_CONFIG_HOME", state.path().join("config"))
        .current_dir(state.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut id = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "ended early");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        id = v["correlation_id"].as_str().unwrap_or(&id).to_owned();
        if v["stage"] == "wait" && v["status"] == "started" {
            break;
        }
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let code = child.wait().unwrap();
    assert_eq!(code.code(), Some(130), "{rest}");
    let st = status(state.path(), &bus, "", &id);
    assert_eq!(st["failure"]["code"], "CANCELLED", "not left running: {st}");
}
