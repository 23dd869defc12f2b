//! Stage 6 "compilation" (docs/generation.md §1, §2): the Python environment probe, gates
//! G13 (mypy) and G14 (py_compile + import test against the real omnibase_core), and the
//! run's `compilation_status`.
//!
//! Both gates are WARNING gates: they never fail a run. They never write into the node directory:
//! every Python process runs in a private temp dir as working directory, with
//! `PYTHONPYCACHEPREFIX=<temp dir>` and `PYTHONDONTWRITEBYTECODE=1` (plus `-B`, which old Pythons
//! without the prefix variable also honour), py_compile writes its `.pyc` files into the temp dir,
//! and mypy gets `--cache-dir <temp dir>`. Every process runs in its own process group with a
//! timeout; on timeout the whole group is killed.
//!
//! This file also defines [`GateOutcome`], the result of one gate as the executor turns it into a
//! GateSummary (docs/generation.md §5.3): G6 ([`super::output`]) returns it too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::process::Command;

/// Gate status (docs/generation.md §2): only BLOCKING gates return `Fail`; `Skipped` always has a reason. The
/// executor's type, so gate outcomes need no conversion.
pub use onex_engine::pipeline::GateStatus;

/// What one gate found: the material of a GateSummary (docs/generation.md §5.3) minus what the contract supplies
/// (gate name, gate type) and the start time the executor records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateOutcome {
    /// `G6`, `G13`, `G14`.
    pub gate_id: String,
    pub status: GateStatus,
    pub message: String,
    /// Set on warning and fail.
    pub error_code: Option<String>,
    /// At least one on warning and fail.
    pub recovery_suggestions: Vec<String>,
    /// Set on skipped.
    pub skip_reason: Option<String>,
    /// Gate-specific: file, line, column, tool output excerpt, …
    pub details: serde_json::Value,
    pub duration_ms: u64,
}

impl GateOutcome {
    fn new(gate_id: &str, status: GateStatus, message: String) -> Self {
        GateOutcome {
            gate_id: gate_id.to_string(),
            status,
            message,
            error_code: None,
            recovery_suggestions: Vec::new(),
            skip_reason: None,
            details: json!({}),
            duration_ms: 0,
        }
    }

    fn skipped(gate_id: &str, reason: String) -> Self {
        let mut g = GateOutcome::new(gate_id, GateStatus::Skipped, format!("skipped: {reason}"));
        g.skip_reason = Some(reason);
        g
    }

    fn warning(gate_id: &str, code: &str, message: String, suggestions: Vec<String>) -> Self {
        let mut g = GateOutcome::new(gate_id, GateStatus::Warning, message);
        g.error_code = Some(code.to_string());
        g.recovery_suggestions = suggestions;
        g
    }

    fn timed(mut self, started: Instant) -> Self {
        self.duration_ms = started.elapsed().as_millis() as u64;
        self
    }
}

/// docs/generation.md §1: `passed` when every compilation gate that ran passed and at least one ran; `skipped` when
/// none ran (`--no-compile`, no interpreter); `warnings` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompilationStatus {
    Passed,
    Warnings,
    Skipped,
}

/// `compilation_status` of a run from its compilation gates (empty for `--no-compile`).
/// `compilation_passed` = `compilation_status(..) == CompilationStatus::Passed`.
pub fn compilation_status(gates: &[GateOutcome]) -> CompilationStatus {
    let ran: Vec<&GateOutcome> = gates
        .iter()
        .filter(|g| g.status != GateStatus::Skipped)
        .collect();
    if ran.is_empty() {
        CompilationStatus::Skipped
    } else if ran.iter().all(|g| g.status == GateStatus::Pass) {
        CompilationStatus::Passed
    } else {
        CompilationStatus::Warnings
    }
}

/// The tool fields of CompilationCompleted (docs/generation.md §5.3) derived from the G13 and G14 outcomes; the
/// executor adds `gates_checked` and `compilation_duration_ms`. A gate that is absent (not in
/// the contract, `--no-compile`) counts as skipped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompilationSummary {
    pub mypy_status: GateStatus,
    pub import_status: GateStatus,
    pub mypy_passed: bool,
    pub import_passed: bool,
    /// mypy's output (≤ 4 KiB), when mypy ran.
    pub mypy_output: Option<String>,
    pub mypy_error_count: Option<u64>,
    /// Why the import test failed (py_compile or import), when it did.
    pub import_error: Option<String>,
    /// gate id → skip reason, for the skipped gates.
    pub skip_reasons: BTreeMap<String, String>,
    pub compilation_status: CompilationStatus,
    pub compilation_passed: bool,
}

/// See [`CompilationSummary`]; `gates` are the compilation stage's outcomes (G13 and G14 are
/// picked by id).
pub fn compilation_summary(gates: &[GateOutcome]) -> CompilationSummary {
    let find = |id: &str| gates.iter().find(|g| g.gate_id == id);
    let status = |g: Option<&GateOutcome>| g.map_or(GateStatus::Skipped, |g| g.status);
    let (g13, g14) = (find("G13"), find("G14"));
    let mypy_ran = g13.is_some_and(|g| g.status != GateStatus::Skipped);
    let import_error = g14
        .filter(|g| g.error_code.as_deref() == Some("IMPORT_TEST_FAILED"))
        .map(|g| {
            g.details
                .get("import_error")
                .and_then(|v| v.as_str())
                .map_or_else(|| g.message.clone(), str::to_string)
        });
    let skip_reasons = gates
        .iter()
        .filter(|g| g.status == GateStatus::Skipped)
        .filter_map(|g| Some((g.gate_id.clone(), g.skip_reason.clone()?)))
        .collect();
    let compilation_status = compilation_status(gates);
    CompilationSummary {
        mypy_status: status(g13),
        import_status: status(g14),
        mypy_passed: status(g13) == GateStatus::Pass,
        import_passed: status(g14) == GateStatus::Pass,
        mypy_output: g13
            .filter(|_| mypy_ran)
            .and_then(|g| g.details.get("tool_output")?.as_str().map(str::to_string)),
        mypy_error_count: g13
            .filter(|_| mypy_ran)
            .and_then(|g| g.details.get("error_count")?.as_u64()),
        import_error,
        skip_reasons,
        compilation_status,
        compilation_passed: compilation_status == CompilationStatus::Passed,
    }
}

impl PythonEnv {
    /// The CompilationStarted payload (docs/generation.md §5.3): interpreter (or null), mypy_available,
    /// mypy_version (or null).
    pub fn started_payload(&self) -> serde_json::Value {
        json!({
            "interpreter": self.interpreter.as_ref().map(|p| p.display().to_string()),
            "mypy_available": self.mypy_version.is_some(),
            "mypy_version": self.mypy_version,
        })
    }
}

/// Timeouts and the omnibase-core version named in suggestions.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Each probe process (docs/generation.md §2 G4 probe: 15 s).
    pub probe_timeout: Duration,
    /// G13 (60 s).
    pub mypy_timeout: Duration,
    /// G14, py_compile and import together (30 s).
    pub import_timeout: Duration,
    /// The pinned omnibase-core release the template pack targets (docs/generation.md §4.9), for "Install
    /// omnibase-core {v} …".
    pub omnibase_core_version: String,
}

/// Release line the shipped template pack targets (docs/generation.md §4.9); callers with the pack's exact pin pass
/// it in [`CompileOptions::omnibase_core_version`].
pub const DEFAULT_OMNIBASE_CORE_VERSION: &str = "0.47.x";

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            probe_timeout: Duration::from_secs(15),
            mypy_timeout: Duration::from_secs(60),
            import_timeout: Duration::from_secs(30),
            omnibase_core_version: DEFAULT_OMNIBASE_CORE_VERSION.to_string(),
        }
    }
}

/// The Python the compilation gates run with, probed once per run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PythonEnv {
    /// The interpreter to run (`$ONEX_PYTHON` made absolute if it was a relative path, or
    /// `python3`), if it ran and is a Python 3.
    pub interpreter: Option<PathBuf>,
    /// `(major, minor)`.
    pub version: Option<(u32, u32)>,
    /// `mypy --version`'s number, if `py -m mypy --version` works.
    pub mypy_version: Option<String>,
    /// `omnibase_core` is importable (found on the interpreter's path).
    pub has_omnibase_core: bool,
    /// Its installed distribution version.
    pub omnibase_core_version: Option<String>,
    /// What was asked for, for messages (`{py}`).
    pub requested: PathBuf,
    /// `sys.executable` (a pyenv shim resolves to the real interpreter here).
    pub executable: Option<PathBuf>,
    /// Why `interpreter` is `None` ("python3 not found", "… is not a working Python 3: …").
    pub problem: Option<String>,
}

const PROBE_SCRIPT: &str = r#"
import sys, json
r = {"version": [sys.version_info[0], sys.version_info[1]], "executable": sys.executable,
     "omnibase_core": False, "omnibase_core_version": None}
try:
    import importlib.util
    r["omnibase_core"] = importlib.util.find_spec("omnibase_core") is not None
except Exception:
    pass
if r["omnibase_core"]:
    try:
        import importlib.metadata
        r["omnibase_core_version"] = importlib.metadata.version("omnibase-core")
    except Exception:
        pass
print("ONEX-PROBE " + json.dumps(r))
"#;

impl PythonEnv {
    /// Probes `py` (`$ONEX_PYTHON`, passed in by the caller) or `python3`: version, omnibase_core,
    /// mypy. Never fails: what is missing is recorded.
    pub async fn probe(py: Option<&Path>) -> PythonEnv {
        PythonEnv::probe_with(py, &CompileOptions::default()).await
    }

    pub async fn probe_with(py: Option<&Path>, opts: &CompileOptions) -> PythonEnv {
        let requested = py.map_or_else(|| PathBuf::from("python3"), Path::to_path_buf);
        let mut env = PythonEnv {
            interpreter: None,
            version: None,
            mypy_version: None,
            has_omnibase_core: false,
            omnibase_core_version: None,
            requested: requested.clone(),
            executable: None,
            problem: None,
        };
        let tmp = match tempfile::Builder::new().prefix("onex-py-probe-").tempdir() {
            Ok(t) => t,
            Err(e) => {
                env.problem = Some(format!(
                    "cannot create a temp dir for the Python probe: {e}"
                ));
                return env;
            }
        };
        // The gates run Python with a temp dir as working directory, where a relative path such
        // as `.venv/bin/python` would name something else: anchor it here. A bare name
        // (`python3`) stays a PATH lookup.
        let program = if requested.is_relative() && requested.components().count() > 1 {
            std::path::absolute(&requested).unwrap_or_else(|_| requested.clone())
        } else {
            requested.clone()
        };
        let mut info = py_command(&program, tmp.path());
        info.arg("-c").arg(PROBE_SCRIPT);
        let mut mypy = py_command(&program, tmp.path());
        mypy.args(["-m", "mypy", "--version"]);
        let (info, mypy) =
            tokio::join!(run(info, opts.probe_timeout), run(mypy, opts.probe_timeout));
        let name = requested.display().to_string();
        let info = match info {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                env.problem = Some(format!("{name} not found"));
                return env;
            }
            Err(e) => {
                env.problem = Some(format!("{name} cannot be run: {e}"));
                return env;
            }
            Ok(r) => r,
        };
        let parsed = info
            .stdout
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("ONEX-PROBE "))
            .and_then(|j| serde_json::from_str::<ProbeReply>(j).ok());
        let Some(reply) = parsed.filter(|_| info.success()) else {
            env.problem = Some(format!(
                "{name} is not a working Python 3: {}",
                describe_failure(&info, opts.probe_timeout)
            ));
            return env;
        };
        env.interpreter = Some(program);
        env.version = Some((reply.version[0], reply.version[1]));
        env.executable = Some(PathBuf::from(reply.executable));
        env.has_omnibase_core = reply.omnibase_core;
        env.omnibase_core_version = reply.omnibase_core_version;
        if let Ok(m) = mypy
            && m.success()
        {
            // "mypy 1.13.0 (compiled: yes)"
            env.mypy_version = m
                .stdout
                .split_whitespace()
                .nth(1)
                .map(str::to_string)
                .or_else(|| Some(m.stdout.trim().to_string()));
        }
        env
    }

    /// `{py}` in messages.
    pub fn display_name(&self) -> String {
        self.requested.display().to_string()
    }

    fn missing_reason(&self) -> String {
        self.problem
            .clone()
            .unwrap_or_else(|| format!("{} not found", self.display_name()))
    }
}

#[derive(Deserialize)]
struct ProbeReply {
    version: [u32; 2],
    executable: String,
    omnibase_core: bool,
    omnibase_core_version: Option<String>,
}

const TYPECHECK_SUGGESTION: &str = "Review; stubs are meant to be completed";

/// G13 MyPy Type Checking with the default options (60 s).
pub async fn g13_mypy(env: &PythonEnv, node_dir: &Path) -> GateOutcome {
    g13_mypy_with(env, node_dir, &CompileOptions::default()).await
}

/// G13: `py -m mypy --ignore-missing-imports --no-error-summary --cache-dir <temp dir> <node dir>`.
/// No issues → pass; issues, a mypy crash or the timeout → warning TYPECHECK_WARNINGS; no
/// interpreter or no mypy → skipped.
pub async fn g13_mypy_with(env: &PythonEnv, node_dir: &Path, opts: &CompileOptions) -> GateOutcome {
    const ID: &str = "G13";
    let started = Instant::now();
    let Some(py) = &env.interpreter else {
        return GateOutcome::skipped(ID, env.missing_reason()).timed(started);
    };
    let Some(mypy_version) = &env.mypy_version else {
        return GateOutcome::skipped(ID, format!("mypy not installed for {}", env.display_name()))
            .timed(started);
    };
    let tmp = match private_tmp("onex-g13-") {
        Ok(t) => t,
        Err(m) => {
            return warn_infra(ID, "TYPECHECK_WARNINGS", m, TYPECHECK_SUGGESTION).timed(started);
        }
    };
    let mut cmd = py_command(py, tmp.path());
    cmd.args([
        "-m",
        "mypy",
        "--ignore-missing-imports",
        "--no-error-summary",
        "--cache-dir",
    ])
    .arg(tmp.path().join("mypy-cache"))
    .arg(node_dir);
    let ran = match run(cmd, opts.mypy_timeout).await {
        Ok(r) => r,
        Err(e) => {
            return warn_infra(
                ID,
                "TYPECHECK_WARNINGS",
                format!("mypy could not be started: {e}"),
                TYPECHECK_SUGGESTION,
            )
            .timed(started);
        }
    };
    // Paths relative to the node dir keep the 200-character excerpt about the problems.
    let prefix = format!("{}/", node_dir.display());
    let output = format!("{}{}", ran.stdout, ran.stderr).replace(&prefix, "");
    let output = output.trim();
    let error_count = output.lines().filter(|l| l.contains(": error:")).count();
    let mut details = json!({
        "mypy_version": mypy_version,
        "exit_code": ran.code,
        "error_count": error_count,
        "tool_output": tool_output(output),
    });
    let outcome = if ran.timed_out {
        details["timed_out"] = json!(true);
        GateOutcome::warning(
            ID,
            "TYPECHECK_WARNINGS",
            format!("mypy: timed out after {}", secs(opts.mypy_timeout)),
            vec![TYPECHECK_SUGGESTION.to_string()],
        )
    } else if ran.code == Some(0) {
        GateOutcome::new(ID, GateStatus::Pass, "mypy: no issues".to_string())
    } else if ran.code == Some(1) {
        // Exit 1 = type errors found. Count error lines; a bare non-empty output counts per line.
        let n = if error_count > 0 {
            error_count
        } else {
            output.lines().count().max(1)
        };
        GateOutcome::warning(
            ID,
            "TYPECHECK_WARNINGS",
            format!("mypy: {n} issues: {}", excerpt(output, 200)),
            vec![TYPECHECK_SUGGESTION.to_string()],
        )
    } else {
        GateOutcome::warning(
            ID,
            "TYPECHECK_WARNINGS",
            format!(
                "mypy: did not finish ({}): {}",
                ran.describe_exit(),
                excerpt(output, 200)
            ),
            vec![TYPECHECK_SUGGESTION.to_string()],
        )
    };
    GateOutcome { details, ..outcome }.timed(started)
}

const PY_COMPILE_SCRIPT: &str = r#"
import sys, json, os, py_compile
out, cache = sys.argv[1], sys.argv[2]
results = []
for i, f in enumerate(sys.argv[3:]):
    try:
        py_compile.compile(f, cfile=os.path.join(cache, "%d.pyc" % i), doraise=True)
        results.append({"file": f, "ok": True})
    except py_compile.PyCompileError as e:
        v = e.exc_value
        results.append({"file": f, "ok": False, "error": e.msg,
                        "line": getattr(v, "lineno", None), "column": getattr(v, "offset", None)})
with open(out, "w") as fh:
    json.dump(results, fh)
"#;

const IMPORT_SCRIPT: &str = r#"
import sys, json, os, importlib, traceback
out, parent, pkg, cls = sys.argv[1:5]
# Appended, not prepended: files beside the node dir must not shadow the stdlib or omnibase_core.
sys.path.append(parent)
res = {"ok": False}
try:
    name = pkg + ".v1_0_0.node"
    mod = importlib.import_module(name)
    where = os.path.realpath(getattr(mod, "__file__", "") or "")
    expected = os.path.realpath(os.path.join(parent, pkg))
    obj = getattr(mod, cls, None)
    if not where.startswith(expected + os.sep):
        res["error"] = "%s was imported from %s, not from the node directory" % (name, where)
    elif obj is None:
        res["error"] = "%s defines no %s" % (name, cls)
    elif not isinstance(obj, type):
        res["error"] = "%s.%s is not a class" % (name, cls)
    else:
        res = {"ok": True, "bases": [b.__module__ + "." + b.__qualname__ for b in obj.__mro__[1:4]]}
except BaseException as e:
    res["error"] = "%s: %s" % (type(e).__name__, e)
    res["traceback"] = traceback.format_exc()[-4000:]
with open(out, "w") as fh:
    json.dump(res, fh)
"#;

#[derive(Deserialize)]
struct CompileReply {
    file: String,
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    line: Option<u64>,
    #[serde(default)]
    column: Option<u64>,
}

#[derive(Deserialize)]
struct ImportReply {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    traceback: Option<String>,
    #[serde(default)]
    bases: Vec<String>,
}

/// G14 Import Test with the default options (30 s).
pub async fn g14_import(env: &PythonEnv, node_dir: &Path, node_class: &str) -> GateOutcome {
    g14_import_with(env, node_dir, node_class, &CompileOptions::default()).await
}

/// How to get the Python G13/G14 need: the one command that sets it up (scripts/python-env.sh,
/// README "Set-up"); the interpreter that lacks it is named in the gate's message.
pub fn setup_suggestion(omnibase_core_version: &str) -> String {
    format!(
        "Set up a Python 3.12 with omnibase-core {omnibase_core_version}: \
         export ONEX_PYTHON=\"$(scripts/python-env.sh)\" (in the onex repository)"
    )
}

/// G14: py_compile every `.py` of the node dir, then import `<node dir name>.v1_0_0.node` (with
/// the node dir's parent on `sys.path`) and look up `node_class`. Pass only if that import works;
/// a Python older than 3.12 or without omnibase_core → warning MISSING_DEPENDENCY with
/// `details.import = "not_tested"`; no interpreter → skipped.
pub async fn g14_import_with(
    env: &PythonEnv,
    node_dir: &Path,
    node_class: &str,
    opts: &CompileOptions,
) -> GateOutcome {
    const ID: &str = "G14";
    let started = Instant::now();
    let deadline = started + opts.import_timeout;
    let Some(py) = &env.interpreter else {
        return GateOutcome::skipped(ID, env.missing_reason()).timed(started);
    };
    let pyname = env.display_name();
    let install = setup_suggestion(&opts.omnibase_core_version);
    let fail = |message: String, details: serde_json::Value| {
        let mut g = GateOutcome::warning(
            ID,
            "IMPORT_TEST_FAILED",
            message,
            vec![
                "Report a template bug with the correlation id".to_string(),
                install.clone(),
            ],
        );
        g.details = details;
        g
    };
    let (Some(pkg), Some(parent)) = (
        node_dir.file_name().and_then(|n| n.to_str()),
        node_dir.parent(),
    ) else {
        return fail(
            format!(
                "import failed: '{}' has no usable directory name",
                node_dir.display()
            ),
            json!({}),
        )
        .timed(started);
    };
    let files = match python_files(node_dir) {
        Ok(f) if f.is_empty() => {
            return fail(
                format!(
                    "py_compile failed: no .py files in '{}'",
                    node_dir.display()
                ),
                json!({"py_compile": "fail", "import": "not_tested"}),
            )
            .timed(started);
        }
        Ok(f) => f,
        Err(e) => {
            return fail(
                format!(
                    "py_compile failed: cannot list '{}': {e}",
                    node_dir.display()
                ),
                json!({"py_compile": "fail", "import": "not_tested"}),
            )
            .timed(started);
        }
    };
    let tmp = match private_tmp("onex-g14-") {
        Ok(t) => t,
        Err(m) => return fail(m, json!({"import": "not_tested"})).timed(started),
    };
    let n = files.len();

    // Step 1: py_compile, .pyc files into the temp dir.
    let result_file = tmp.path().join("py_compile.json");
    let cache = tmp.path().join("pyc");
    if let Err(e) = std::fs::create_dir(&cache) {
        return fail(format!("py_compile failed: temp dir: {e}"), json!({})).timed(started);
    }
    let mut cmd = py_command(py, tmp.path());
    cmd.arg("-c")
        .arg(PY_COMPILE_SCRIPT)
        .arg(&result_file)
        .arg(&cache)
        .args(&files);
    let ran = run(cmd, remaining(deadline)).await;
    let replies: Vec<CompileReply> = match &ran {
        Ok(r) if r.timed_out => {
            return fail(
                format!("py_compile timed out after {}", secs(opts.import_timeout)),
                json!({"py_compile": "timeout", "import": "not_tested"}),
            )
            .timed(started);
        }
        Ok(r) => match read_json(&result_file) {
            Some(v) => v,
            None => {
                return fail(
                    format!(
                        "py_compile failed: {}",
                        describe_failure(r, opts.import_timeout)
                    ),
                    json!({"py_compile": "fail", "import": "not_tested"}),
                )
                .timed(started);
            }
        },
        Err(e) => {
            return fail(
                format!("py_compile failed: cannot run {pyname}: {e}"),
                json!({"py_compile": "fail", "import": "not_tested"}),
            )
            .timed(started);
        }
    };
    if let Some(bad) = replies.iter().find(|r| !r.ok) {
        let rel = relative(node_dir, Path::new(&bad.file));
        let error = bad.error.clone().unwrap_or_default();
        return fail(
            format!("py_compile failed: {rel}"),
            json!({
                "file": rel,
                "line": bad.line,
                "column": bad.column,
                "tool_output": tool_output(&error.replace(&format!("{}/", node_dir.display()), "")),
                "py_compile": "fail",
                "import": "not_tested",
            }),
        )
        .timed(started);
    }

    // Step 2: the import needs the real omnibase_core, which needs Python ≥ 3.12.
    let old_python = env.version.is_some_and(|v| v < (3, 12));
    if old_python || !env.has_omnibase_core {
        let mut message = format!("import not tested: no omnibase_core in {pyname}");
        if let Some((maj, min)) = env.version.filter(|_| old_python) {
            message.push_str(&format!(
                " (Python {maj}.{min}; omnibase-core needs ≥ 3.12)"
            ));
        }
        let mut g = GateOutcome::warning(ID, "MISSING_DEPENDENCY", message, vec![install.clone()]);
        g.details = json!({
            "files_compiled": n,
            "py_compile": "pass",
            "import": "not_tested",
            "python_version": env.version.map(|(a, b)| format!("{a}.{b}")),
        });
        return g.timed(started);
    }

    // Step 3: the import test.
    let result_file = tmp.path().join("import.json");
    let mut cmd = py_command(py, tmp.path());
    cmd.arg("-c")
        .arg(IMPORT_SCRIPT)
        .arg(&result_file)
        .arg(parent)
        .arg(pkg)
        .arg(node_class);
    let ran = match run(cmd, remaining(deadline)).await {
        Ok(r) => r,
        Err(e) => {
            return fail(
                format!("import failed: cannot run {pyname}: {e}"),
                json!({"py_compile": "pass", "import": "fail"}),
            )
            .timed(started);
        }
    };
    if ran.timed_out {
        return fail(
            format!(
                "import failed: timed out after {}",
                secs(opts.import_timeout)
            ),
            json!({"py_compile": "pass", "import": "timeout"}),
        )
        .timed(started);
    }
    let module = format!("{pkg}.v1_0_0.node");
    match read_json::<ImportReply>(&result_file) {
        Some(r) if r.ok => {
            let mut g = GateOutcome::new(
                ID,
                GateStatus::Pass,
                format!("{n} files compile; {node_class} imports"),
            );
            g.details = json!({
                "files_compiled": n,
                "py_compile": "pass",
                "import": "pass",
                "module": module,
                "bases": r.bases,
                "omnibase_core_version": env.omnibase_core_version,
            });
            g.timed(started)
        }
        Some(r) => {
            let err = r.error.unwrap_or_else(|| "unknown error".to_string());
            fail(
                format!("import failed: {}", excerpt(&err, 300)),
                json!({
                    "py_compile": "pass",
                    "import": "fail",
                    "module": module,
                    "import_error": err,
                    "tool_output": tool_output(&r.traceback.unwrap_or_default()),
                }),
            )
            .timed(started)
        }
        None => fail(
            format!(
                "import failed: {}",
                describe_failure(&ran, opts.import_timeout)
            ),
            json!({"py_compile": "pass", "import": "fail", "module": module}),
        )
        .timed(started),
    }
}

fn warn_infra(id: &str, code: &str, message: String, suggestion: &str) -> GateOutcome {
    GateOutcome::warning(id, code, message, vec![suggestion.to_string()])
}

fn private_tmp(prefix: &str) -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))
}

/// `60 s`, `0.4 s`.
fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

fn read_json<T: for<'de> Deserialize<'de>>(p: &Path) -> Option<T> {
    let text = std::fs::read_to_string(p).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every regular `.py` file under `dir`, sorted (symlinks are not followed).
fn python_files(dir: &Path) -> Result<Vec<PathBuf>, walkdir::Error> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "py") {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

/// Tool output kept in details: at most 4 KiB (CompilationCompleted `mypy_output`), cut on a
/// character boundary; the start is kept (the first problems).
pub const TOOL_OUTPUT_LIMIT: usize = 4096;

fn tool_output(s: &str) -> String {
    let s = s.trim();
    if s.len() <= TOOL_OUTPUT_LIMIT {
        return s.to_string();
    }
    let mut end = TOOL_OUTPUT_LIMIT - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The first `max` characters (not bytes) of `s`, `…` appended when cut.
fn excerpt(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A Python command that cannot write into the node dir: cwd = private temp dir, no bytecode
/// written by imports, any bytecode cache redirected to the temp dir.
fn py_command(py: &Path, tmp: &Path) -> Command {
    let mut cmd = Command::new(py);
    cmd.arg("-B")
        .current_dir(tmp)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONPYCACHEPREFIX", tmp.join("pycache"))
        .env("MYPY_CACHE_DIR", tmp.join("mypy-cache"));
    cmd
}

use onex_engine::process::Ran;

/// `timed out after 15 s` / `exit code 2: <last stderr line>`.
fn describe_failure(ran: &Ran, timeout: Duration) -> String {
    if ran.timed_out {
        return format!("timed out after {}", secs(timeout));
    }
    let err = excerpt(ran.stderr.lines().last().unwrap_or(""), 300);
    if err.is_empty() {
        format!("{} without a result", ran.describe_exit())
    } else {
        format!("{}: {err}", ran.describe_exit())
    }
}

/// Output kept per stream; a runaway tool cannot fill memory.
const OUTPUT_LIMIT: usize = 1 << 20;

/// Runs `cmd` in its own process group (the engine's runner: killed on timeout and when the
/// gate is cancelled).
async fn run(cmd: Command, timeout: Duration) -> std::io::Result<Ran> {
    onex_engine::process::run(cmd, timeout, OUTPUT_LIMIT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(status: GateStatus) -> GateOutcome {
        GateOutcome::new("G13", status, String::new())
    }

    #[test]
    fn compilation_status_per_spec() {
        use GateStatus::*;
        assert_eq!(compilation_status(&[]), CompilationStatus::Skipped);
        assert_eq!(
            compilation_status(&[gate(Skipped), gate(Skipped)]),
            CompilationStatus::Skipped
        );
        assert_eq!(
            compilation_status(&[gate(Pass), gate(Pass)]),
            CompilationStatus::Passed
        );
        assert_eq!(
            compilation_status(&[gate(Pass), gate(Skipped)]),
            CompilationStatus::Passed
        );
        assert_eq!(
            compilation_status(&[gate(Pass), gate(Warning)]),
            CompilationStatus::Warnings
        );
        assert_eq!(
            compilation_status(&[gate(Skipped), gate(Warning)]),
            CompilationStatus::Warnings
        );
        assert_eq!(
            compilation_status(&[gate(Fail)]),
            CompilationStatus::Warnings
        );
    }

    #[test]
    fn compilation_summary_fields() {
        let mut g13 = gate(GateStatus::Warning);
        g13.details = json!({"tool_output": "v1_0_0/node.py:3: error: x", "error_count": 1});
        let g14 = GateOutcome::skipped("G14", "python3 not found".to_string());
        let s = compilation_summary(&[g13, g14]);
        assert_eq!(s.mypy_status, GateStatus::Warning);
        assert_eq!(s.import_status, GateStatus::Skipped);
        assert!(!s.mypy_passed && !s.import_passed);
        assert_eq!(s.mypy_output.as_deref(), Some("v1_0_0/node.py:3: error: x"));
        assert_eq!(s.mypy_error_count, Some(1));
        assert_eq!(s.import_error, None);
        assert_eq!(s.skip_reasons["G14"], "python3 not found");
        assert_eq!(s.compilation_status, CompilationStatus::Warnings);

        let mut g14 = GateOutcome::warning(
            "G14",
            "IMPORT_TEST_FAILED",
            "import failed: ModuleNotFoundError: x".into(),
            vec![],
        );
        g14.details = json!({"import_error": "ModuleNotFoundError: x"});
        let s = compilation_summary(&[g14]);
        assert_eq!(
            s.mypy_status,
            GateStatus::Skipped,
            "absent G13 counts as skipped"
        );
        assert_eq!(s.import_error.as_deref(), Some("ModuleNotFoundError: x"));
        assert_eq!(s.mypy_output, None);

        let s = compilation_summary(&[gate(GateStatus::Pass)]);
        assert!(s.mypy_passed && s.compilation_passed);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["mypy_status"], "pass");
        assert_eq!(v["compilation_status"], "passed");

        let env = PythonEnv {
            interpreter: None,
            version: None,
            mypy_version: None,
            has_omnibase_core: false,
            omnibase_core_version: None,
            requested: PathBuf::from("python3"),
            executable: None,
            problem: Some("python3 not found".into()),
        };
        assert_eq!(
            env.started_payload(),
            json!({"interpreter": null, "mypy_available": false, "mypy_version": null})
        );
    }

    #[test]
    fn tool_output_is_at_most_4_kib() {
        let long = "é".repeat(5000);
        let t = tool_output(&long);
        assert!(t.len() <= TOOL_OUTPUT_LIMIT, "{}", t.len());
        assert!(t.ends_with('…'));
        assert_eq!(tool_output(" short "), "short");
    }

    #[test]
    fn excerpt_cuts_on_characters() {
        assert_eq!(excerpt("  héllo  ", 3), "hél…");
        assert_eq!(excerpt("abc", 3), "abc");
    }
}
