//! The gates over the template pack (G4, G5, pre_validation) and over the rendered files (G9–G12,
//! post_validation), as plain functions returning a [`GateVerdict`] with the pass/problem
//! messages of docs/generation.md §2. The error codes and recovery suggestions live in the generation contract; the
//! executor adds them.
//!
//! The post-validation checks take the files as [`RenderedFile`]s; [`files_from_dir`] reads a
//! staged node directory into that form.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

use crate::codegen::compile::{GateOutcome, GateStatus};
use crate::codegen::context::NodeContext;
use crate::codegen::pack::TemplatePack;
use crate::codegen::pyast::{self, Import};
use crate::codegen::render::RenderedFile;
use crate::prompt::{NodeType, ParsedPrompt};

/// The result of one gate check: status (never `Skipped` here), the docs/generation.md §2 message and details
/// (`file`, `line`, `column`, `excerpt` of the first problem, `problems` = all of them).
#[derive(Debug, Clone, PartialEq)]
pub struct GateVerdict {
    pub status: GateStatus,
    pub message: String,
    pub details: Value,
}

impl GateVerdict {
    fn pass(message: String, details: Value) -> GateVerdict {
        GateVerdict {
            status: GateStatus::Pass,
            message,
            details,
        }
    }

    pub fn is_pass(&self) -> bool {
        self.status == GateStatus::Pass
    }

    /// The verdict as a [`GateOutcome`], with the contract's error code and suggestions (used on
    /// warning and fail only).
    pub fn into_outcome(
        self,
        gate_id: &str,
        error_code: &str,
        recovery_suggestions: Vec<String>,
        duration_ms: u64,
    ) -> GateOutcome {
        let problem = matches!(self.status, GateStatus::Warning | GateStatus::Fail);
        GateOutcome {
            gate_id: gate_id.to_string(),
            status: self.status,
            message: self.message,
            error_code: problem.then(|| error_code.to_string()),
            recovery_suggestions: if problem {
                recovery_suggestions
            } else {
                Vec::new()
            },
            skip_reason: None,
            details: self.details,
            duration_ms,
        }
    }
}

/// One positioned problem found by a check.
#[derive(Debug, Clone)]
struct Problem {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    excerpt: Option<String>,
    text: String,
}

impl Problem {
    fn at(file: &str, src: &str, line: usize, column: usize, text: String) -> Problem {
        Problem {
            file: file.to_string(),
            line: Some(line),
            column: Some(column),
            excerpt: Some(pyast::source_line(src, line)),
            text,
        }
    }

    fn file(file: &str, text: String) -> Problem {
        Problem {
            file: file.to_string(),
            line: None,
            column: None,
            excerpt: None,
            text,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "excerpt": self.excerpt,
            "message": self.text,
        })
    }
}

/// A fail/warning verdict: `message` is about the first problem; details carry all of them.
fn verdict(status: GateStatus, message: String, problems: &[Problem]) -> GateVerdict {
    let first = problems.first();
    GateVerdict {
        status,
        message,
        details: json!({
            "file": first.map(|p| p.file.clone()),
            "line": first.and_then(|p| p.line),
            "column": first.and_then(|p| p.column),
            "excerpt": first.and_then(|p| p.excerpt.clone()),
            "problems": problems.iter().map(Problem::to_json).collect::<Vec<_>>(),
        }),
    }
}

fn is_py(f: &RenderedFile) -> bool {
    f.rel_path.ends_with(".py")
}

fn is_yaml(f: &RenderedFile) -> bool {
    f.rel_path.ends_with(".yaml") || f.rel_path.ends_with(".yml")
}

/// Reads every file below a (staged) node directory, skipping `__pycache__`, sorted by path.
pub fn files_from_dir(dir: &Path) -> Result<Vec<RenderedFile>, String> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_name() != "__pycache__")
    {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .map_err(|e| e.to_string())?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let bytes =
            std::fs::read(entry.path()).map_err(|e| format!("{}: {e}", entry.path().display()))?;
        files.push(RenderedFile::new(rel, bytes));
    }
    files.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    Ok(files)
}

/// A parsed Python file: its source (for excerpts) and its facts.
struct PyFile<'f> {
    src: &'f str,
    facts: std::sync::Arc<pyast::ModuleFacts>,
}

impl PyFile<'_> {
    fn facts(&self) -> &pyast::ModuleFacts {
        &self.facts
    }
}

/// Parses every .py file (memoised); syntax errors and non-UTF-8 files become
/// problems, the rest is returned.
fn parse_all<'f>(
    files: &'f [RenderedFile],
    problems: &mut Vec<Problem>,
) -> Vec<(&'f RenderedFile, PyFile<'f>)> {
    let mut out = Vec::new();
    for f in files.iter().filter(|f| is_py(f)) {
        match std::str::from_utf8(&f.bytes) {
            Err(e) => problems.push(Problem {
                file: f.rel_path.clone(),
                line: Some(1),
                column: Some(1),
                excerpt: None,
                text: format!("syntax error: not UTF-8 ({e})"),
            }),
            Ok(src) => match pyast::analyze_cached(src) {
                Ok(facts) => out.push((f, PyFile { src, facts })),
                Err(e) => problems.push(Problem::at(
                    &f.rel_path,
                    src,
                    e.line,
                    e.column,
                    format!("syntax error: {}", e.message),
                )),
            },
        }
    }
    out
}

// ---------------------------------------------------------------- G4, G5 (pre_validation)

/// G4 Critical Imports Exist (static): every omnibase_core symbol the pack's Python files import
/// for type `t` (read from a trial render of the pack) is in the pack's symbol table. Needs no
/// Python.
pub fn g4_imports_known(pack: &TemplatePack, t: NodeType) -> GateVerdict {
    // A pack never changes once loaded: its verdict per type is computed once.
    if let Some(hit) = pack.g4.lock().ok().and_then(|c| c.get(&t).cloned()) {
        return hit;
    }
    let verdict = g4_uncached(pack, t);
    if let Ok(mut c) = pack.g4.lock() {
        c.insert(t, verdict.clone());
    }
    verdict
}

fn g4_uncached(pack: &TemplatePack, t: NodeType) -> GateVerdict {
    let table = pack.symbols();
    let trial = pack.trial_render(t);
    let files = match &trial.result {
        Ok(files) => files,
        Err(e) => {
            let p = Problem::file(
                e.failed_file.as_deref().unwrap_or("?"),
                format!("cannot render to read its imports: {}", e.message),
            );
            return verdict(
                GateStatus::Fail,
                format!(
                    "Pack imports unknown symbols: (cannot render {}: {})",
                    p.file, e.message
                ),
                &[p],
            );
        }
    };
    let mut problems = Vec::new();
    let parsed = parse_all(files, &mut problems);
    let mut known = BTreeSet::new();
    let mut unknown: Vec<String> = Vec::new();
    for (f, m) in &parsed {
        for imp in m.facts().imports.iter().cloned() {
            if imp.level != 0
                || !(imp.module == "omnibase_core" || imp.module.starts_with("omnibase_core."))
            {
                continue;
            }
            let symbol = imp.display();
            if table.contains(&symbol) || table.has_module(&symbol) {
                known.insert(symbol);
            } else if !unknown.contains(&symbol) {
                problems.push(Problem::at(
                    &f.rel_path,
                    m.src,
                    imp.line,
                    imp.column,
                    format!(
                        "'{symbol}' is not in the omnibase-core {} symbol table",
                        table.version
                    ),
                ));
                unknown.push(symbol);
            }
        }
    }
    if !problems.is_empty() {
        let shown = if unknown.is_empty() {
            problems[0].text.clone()
        } else {
            unknown
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        return verdict(
            GateStatus::Fail,
            format!("Pack imports unknown symbols: {shown}"),
            &problems,
        );
    }
    GateVerdict::pass(
        format!(
            "{} imports known for omnibase-core {}",
            known.len(),
            table.version
        ),
        json!({"symbols": known, "omnibase_core_version": table.version}),
    )
}

/// The omnibase_core names the pack's Python files import for type `t` (dotted, sorted), read
/// from its trial render: what G4's live probe imports.
pub fn pack_omnibase_imports(pack: &TemplatePack, t: NodeType) -> Result<Vec<String>, String> {
    let trial = pack.trial_render(t);
    let files = trial.result.as_ref().map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    let parsed = parse_all(files, &mut problems);
    if let Some(p) = problems.first() {
        return Err(format!("{}: {}", p.file, p.text));
    }
    let mut out = BTreeSet::new();
    for (_, m) in &parsed {
        for imp in &m.facts().imports {
            if imp.level == 0
                && (imp.module == "omnibase_core" || imp.module.starts_with("omnibase_core."))
            {
                out.insert(imp.display());
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Python source for G4's live probe (`gates.G4 = "probe"` or `$ONEX_PYTHON` set; one run,
/// 15 s): imports every symbol and prints one JSON line `{"python": [major, minor],
/// "omnibase_core": version or null, "missing": ["symbol: error", …]}`. Runs on any Python 3.
pub fn g4_probe_script(symbols: &[String]) -> String {
    let list = serde_json::to_string(symbols).unwrap_or_else(|_| "[]".to_string());
    let list = crate::codegen::escape::py_str(&list);
    format!(
        r#"import importlib, json, sys
symbols = json.loads({list})
missing = []
try:
    import importlib.metadata as md
    version = md.version("omnibase-core")
except Exception:
    version = None
for s in symbols:
    module, _, name = s.rpartition(".")
    try:
        m = importlib.import_module(module)
        if not hasattr(m, name):
            importlib.import_module(s)
    except Exception as e:
        missing.append(s + ": " + type(e).__name__ + ": " + str(e)[:200])
print(json.dumps({{"python": list(sys.version_info[:2]), "omnibase_core": version, "missing": missing}}))
"#
    )
}

/// G4's verdict from the live probe's stdout: the static verdict when the interpreter is
/// ≥ 3.12 and imported everything; otherwise a **warning** (never a fail: `onex generate` works
/// where omnibase_core is not installed) with the docs/generation.md §2 message. `interpreter` names the Python.
pub fn g4_probe_verdict(
    pack: &TemplatePack,
    t: NodeType,
    probe_stdout: &str,
    interpreter: &str,
) -> GateVerdict {
    let static_verdict = g4_imports_known(pack, t);
    if static_verdict.status != GateStatus::Pass {
        return static_verdict;
    }
    let pin = &pack.symbols().version;
    let parsed: Option<Value> = probe_stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok());
    let python = parsed.as_ref().and_then(|v| {
        let p = v.get("python")?.as_array()?;
        Some((p.first()?.as_u64()?, p.get(1)?.as_u64()?))
    });
    let installed = parsed
        .as_ref()
        .and_then(|v| v.get("omnibase_core")?.as_str().map(str::to_string));
    let missing: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v.get("missing")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    let ok = parsed.is_some()
        && python.is_some_and(|v| v >= (3, 12))
        && installed.is_some()
        && missing.is_empty();
    let details = json!({
        "interpreter": interpreter,
        "python": python.map(|(a, b)| format!("{a}.{b}")),
        "omnibase_core": installed,
        "pinned": pin,
        "missing": missing,
        "probe_output": if parsed.is_none() { Some(probe_stdout.chars().take(500).collect::<String>()) } else { None },
    });
    if ok {
        let mut v = static_verdict;
        v.details = json!({"static": v.details, "probe": details});
        return v;
    }
    GateVerdict {
        status: GateStatus::Warning,
        message: format!(
            "Install omnibase-core {pin} into a Python ≥ 3.12 ({interpreter}) to run the generated node"
        ),
        details,
    }
}

/// G5 Templates Available: the pack has every template of the type, all compile, use only known
/// variables, keep user text behind the escaping filters and render a sample prompt.
pub fn g5_templates(pack: &TemplatePack, t: NodeType) -> GateVerdict {
    match pack.check(t) {
        Ok(()) => GateVerdict::pass(
            format!("Templates for {t} available"),
            json!({"template_pack": pack.name()}),
        ),
        Err(problems) => {
            let files: BTreeSet<&str> = problems
                .iter()
                .map(|p| p.split_once(':').map_or(p.as_str(), |(f, _)| f))
                .collect();
            let list: Vec<Problem> = problems
                .iter()
                .map(|p| {
                    let (f, text) = p.split_once(": ").unwrap_or(("?", p));
                    Problem::file(f, text.to_string())
                })
                .collect();
            verdict(
                GateStatus::Fail,
                format!(
                    "Pack lacks or cannot compile: {}",
                    files.into_iter().collect::<Vec<_>>().join(", ")
                ),
                &list,
            )
        }
    }
}

// ---------------------------------------------------------------- G9–G12 (post_validation)

/// G9 Syntax Valid: every .py parses as Python 3.12 (in process); every .yaml is checked by
/// `yaml_check` (the `onex validate` loader and rules, supplied by the caller), which returns one
/// message per problem, ideally `line:col: message`.
pub fn g9_syntax(
    files: &[RenderedFile],
    yaml_check: &dyn Fn(&str, &[u8]) -> Vec<String>,
) -> GateVerdict {
    let mut problems = Vec::new();
    // Only the syntax problems matter here (the parsed facts are memoised for G10–G12).
    parse_all(files, &mut problems);
    let n_py = files.iter().filter(|f| is_py(f)).count();
    let mut n_yaml = 0;
    for f in files.iter().filter(|f| is_yaml(f)) {
        n_yaml += 1;
        for msg in yaml_check(&f.rel_path, &f.bytes) {
            // `line:col: text` from the callback → positioned problem.
            let mut parts = msg.splitn(3, ':');
            let pos = (
                parts.next().and_then(|l| l.trim().parse::<usize>().ok()),
                parts.next().and_then(|c| c.trim().parse::<usize>().ok()),
            );
            let problem = match (pos, parts.next()) {
                ((Some(line), Some(column)), Some(text)) => {
                    let src = String::from_utf8_lossy(&f.bytes);
                    Problem::at(&f.rel_path, &src, line, column, text.trim().to_string())
                }
                _ => Problem::file(&f.rel_path, msg.clone()),
            };
            problems.push(problem);
        }
    }
    if let Some(p) = problems.first() {
        let message = match (p.line, p.column) {
            (Some(l), Some(c)) if p.text.starts_with("syntax error") => {
                format!("{}:{l}:{c}: {}", p.file, p.text)
            }
            (Some(l), Some(c)) => format!("{}:{l}:{c}: syntax error: {}", p.file, p.text),
            _ => format!("{}: syntax error: {}", p.file, p.text),
        };
        return verdict(GateStatus::Fail, message, &problems);
    }
    GateVerdict::pass(
        format!("{n_py} .py and {n_yaml} .yaml valid"),
        json!({"py_files": n_py, "yaml_files": n_yaml}),
    )
}

fn base_matches(base: &str, wanted: &str) -> bool {
    base == wanted || base.rsplit('.').next() == Some(wanted)
}

/// G10 ONEX Naming Convention: exactly the files of docs/generation.md §4.1 named per §4.2; node.py defines
/// `Node{P}{Type}(Node{Type})`; each model and enum file defines its class.
pub fn g10_naming(files: &[RenderedFile], parsed: &ParsedPrompt) -> GateVerdict {
    let ctx = match NodeContext::new(parsed) {
        Ok(c) => c,
        Err(e) => {
            let p = Problem::file("node", e.clone());
            return verdict(
                GateStatus::Fail,
                format!("node: expected valid identifiers, found {e}"),
                &[p],
            );
        }
    };
    let n = &ctx.names;
    let mut problems = Vec::new();
    let expected = crate::codegen::render::planned_files(parsed);
    let present: BTreeSet<&str> = files.iter().map(|f| f.rel_path.as_str()).collect();
    for path in &expected {
        if !present.contains(path.as_str()) {
            problems.push(Problem::file(
                path,
                format!("expected {path}, found no such file"),
            ));
        }
    }
    for f in files {
        if !expected.contains(&f.rel_path) {
            problems.push(Problem::file(
                &f.rel_path,
                format!(
                    "expected only the files of docs/generation.md §4.1, found {}",
                    f.rel_path
                ),
            ));
        }
    }
    let mut parse_problems = Vec::new();
    let modules = parse_all(files, &mut parse_problems);
    problems.extend(parse_problems);
    let class_checks: Vec<(String, String, Option<String>)> = vec![
        (
            "v1_0_0/node.py".into(),
            n.node_class.clone(),
            Some(n.base_class.clone()),
        ),
        (
            format!("v1_0_0/models/{}", n.input_model_file),
            n.input_model.clone(),
            None,
        ),
        (
            format!("v1_0_0/models/{}", n.output_model_file),
            n.output_model.clone(),
            None,
        ),
        (
            format!("v1_0_0/models/{}", n.config_model_file),
            n.config_model.clone(),
            None,
        ),
        (
            format!("v1_0_0/models/{}", n.contract_model_file),
            n.contract_model.clone(),
            None,
        ),
        (
            format!("v1_0_0/enums/{}", n.operation_enum_file),
            n.operation_enum.clone(),
            None,
        ),
    ];
    for (path, class, base) in class_checks {
        let Some((f, m)) = modules.iter().find(|(f, _)| f.rel_path == path) else {
            continue; // missing or unparsable: already reported
        };
        let facts = m.facts();
        let top: Vec<&pyast::ClassInfo> = facts.classes.iter().collect();
        let expected_desc = match &base {
            Some(b) => format!("class {class}({b})"),
            None => format!("class {class}"),
        };
        match top.iter().find(|c| c.name == class) {
            Some(c) => {
                if let Some(b) = &base
                    && !c.bases.iter().any(|x| base_matches(x, b))
                {
                    problems.push(Problem::at(
                        &f.rel_path,
                        m.src,
                        c.line,
                        c.column,
                        format!(
                            "expected {expected_desc}, found class {}({})",
                            c.name,
                            c.bases.join(", ")
                        ),
                    ));
                }
            }
            None => {
                // Show the class that most likely was meant: one with the expected base, else
                // the first class of the file.
                let likely = base
                    .as_ref()
                    .and_then(|b| {
                        top.iter()
                            .find(|c| c.bases.iter().any(|x| base_matches(x, b)))
                    })
                    .or(top.first());
                let found = likely
                    .map(|c| format!("class {}({})", c.name, c.bases.join(", ")))
                    .unwrap_or_else(|| "no class".to_string());
                let (line, column) = likely.map_or((1, 1), |c| (c.line, c.column));
                problems.push(Problem::at(
                    &f.rel_path,
                    m.src,
                    line,
                    column,
                    format!("expected {expected_desc}, found {found}"),
                ));
            }
        }
    }
    if let Some(p) = problems.first() {
        return verdict(
            GateStatus::Fail,
            format!("{}: {}", p.file, p.text),
            &problems,
        );
    }
    GateVerdict::pass(
        "Names follow ONEX conventions".to_string(),
        json!({"node_dir": n.node_dir, "node_class": n.node_class}),
    )
}

/// Dotted module name of a generated file relative to the node directory
/// (`v1_0_0/models/__init__.py` → `v1_0_0.models`), and whether it is a package.
fn module_of(rel_path: &str) -> (String, bool) {
    let stem = rel_path.strip_suffix(".py").unwrap_or(rel_path);
    match stem.strip_suffix("/__init__") {
        Some(pkg) => (pkg.replace('/', "."), true),
        None => (stem.replace('/', "."), false),
    }
}

/// G11 Import Resolution: relative imports name generated modules (and names they define);
/// absolute imports are in the pack's stdlib allow-list, its third-party allow-list (pydantic)
/// or its omnibase-core symbol table; no `omnibase_core.core.node_*`, no `import *`.
pub fn g11_imports(files: &[RenderedFile], pack: &TemplatePack) -> GateVerdict {
    let table = pack.symbols();
    let manifest = pack.manifest();
    let mut problems = Vec::new();
    let modules = parse_all(files, &mut problems);
    let mut bound: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (f, m) in &modules {
        bound.insert(module_of(&f.rel_path).0, m.facts().top_level.clone());
    }
    let mut count = 0usize;
    for (f, m) in &modules {
        let (this, is_pkg) = module_of(&f.rel_path);
        for imp in m.facts().imports.iter().cloned() {
            count += 1;
            let shown = imp.display();
            let mut report = |problem: String| {
                problems.push(Problem::at(
                    &f.rel_path,
                    m.src,
                    imp.line,
                    imp.column,
                    format!("'{shown}' {problem}"),
                ));
            };
            if imp.is_star() {
                report("import * is not allowed".to_string());
                continue;
            }
            if imp.level > 0 {
                if let Err(why) = resolve_relative(&this, is_pkg, &imp, &bound) {
                    report(why);
                }
                continue;
            }
            let module = imp.module.as_str();
            let top = module.split('.').next().unwrap_or("");
            if top == "omnibase_core" {
                if module.starts_with("omnibase_core.core.node_")
                    || shown.starts_with("omnibase_core.core.node_")
                {
                    report("is a pre-0.47 path; use omnibase_core.nodes.node_<type>".to_string());
                } else if !(table.contains(&shown) || table.has_module(&shown)) {
                    report(format!(
                        "is not in the omnibase-core {} symbol table",
                        table.version
                    ));
                }
            } else {
                let in_stdlib = manifest
                    .stdlib_allow
                    .iter()
                    .any(|a| module == a || module.starts_with(&format!("{a}.")));
                let third_party = manifest.third_party_allow.iter().any(|a| a == top);
                if !in_stdlib && !third_party {
                    report(format!(
                        "is not allowed (stdlib allow-list: {}; also {} and omnibase_core)",
                        manifest.stdlib_allow.join(", "),
                        manifest.third_party_allow.join(", ")
                    ));
                }
            }
        }
    }
    if let Some(p) = problems.first() {
        let message = match p.line {
            Some(l) => format!("{}:{l}: {}", p.file, p.text),
            None => format!("{}: {}", p.file, p.text),
        };
        return verdict(GateStatus::Fail, message, &problems);
    }
    GateVerdict::pass(
        format!("{count} imports resolve"),
        json!({"imports": count}),
    )
}

/// Resolves a relative import inside the node directory.
fn resolve_relative(
    this: &str,
    is_pkg: bool,
    imp: &Import,
    bound: &BTreeMap<String, BTreeSet<String>>,
) -> Result<(), String> {
    let mut parts: Vec<&str> = this.split('.').collect();
    if !is_pkg {
        parts.pop(); // a module's package is its parent
    }
    for _ in 1..imp.level {
        if parts.pop().is_none() {
            return Err("goes above the node directory".to_string());
        }
    }
    if parts.is_empty() {
        return Err("goes above the generated package".to_string());
    }
    let mut target = parts.join(".");
    if !imp.module.is_empty() {
        target = format!("{target}.{}", imp.module);
    }
    let Some(names) = bound.get(&target) else {
        return Err(format!("names no generated module ({target})"));
    };
    if let Some(name) = &imp.name {
        let submodule = format!("{target}.{name}");
        if !names.contains(name) && !bound.contains_key(&submodule) {
            return Err(format!(
                "names nothing defined in generated module {target}"
            ));
        }
    }
    Ok(())
}

/// Required fields per model kind (docs/generation.md §4.6), keyed by the file-name suffix.
const MODEL_KINDS: &[(&str, &str, &[&str])] = &[
    ("_input.py", "Input", &["operation_type"]),
    ("_output.py", "Output", &["success"]),
    (
        "_config.py",
        "Config",
        &["timeout_seconds", "retry_attempts", "debug_mode"],
    ),
    (
        "_contract.py",
        "Contract",
        &["node_type", "input_model", "output_model"],
    ),
];

/// G12 Pydantic Model Structure: each of the 4 model files (`v1_0_0/models/model_*.py`) defines
/// a `Model…{Input,Output,Config,Contract}` class deriving BaseModel with
/// `model_config = ConfigDict(…)` and the required fields; fail otherwise. Pydantic v1 idioms
/// anywhere (`.dict()`, `.json()`, `parse_obj`, `class Config`) → warning.
pub fn g12_models(files: &[RenderedFile]) -> GateVerdict {
    let mut problems = Vec::new();
    let model_files: Vec<&RenderedFile> = files
        .iter()
        .filter(|f| f.rel_path.starts_with("v1_0_0/models/model_") && f.rel_path.ends_with(".py"))
        .collect();
    let owned: Vec<RenderedFile> = files.iter().filter(|f| is_py(f)).cloned().collect();
    let modules = parse_all(&owned, &mut problems);
    for (suffix, kind, required) in MODEL_KINDS {
        let Some(file) = model_files.iter().find(|f| f.rel_path.ends_with(suffix)) else {
            problems.push(Problem::file(
                "v1_0_0/models",
                format!("model file model_*{suffix} missing"),
            ));
            continue;
        };
        let Some((f, m)) = modules.iter().find(|(f, _)| f.rel_path == file.rel_path) else {
            continue; // unparsable: reported
        };
        let facts = m.facts();
        let Some(class) = facts
            .classes
            .iter()
            .find(|c| c.name.starts_with("Model") && c.name.ends_with(kind))
        else {
            problems.push(Problem::file(
                &f.rel_path,
                format!("model class Model…{kind} missing"),
            ));
            continue;
        };
        let at = |text: String| Problem::at(&f.rel_path, m.src, class.line, class.column, text);
        if !class.bases.iter().any(|b| base_matches(b, "BaseModel")) {
            problems.push(at(format!("{} does not derive from BaseModel", class.name)));
        }
        if !class.has_config_dict {
            problems.push(at(format!(
                "{} has no model_config = ConfigDict(…)",
                class.name
            )));
        }
        for field in *required {
            if !class.fields.iter().any(|x| x == field) {
                problems.push(at(format!("{} lacks required field {field}", class.name)));
            }
        }
    }
    if let Some(p) = problems.first() {
        return verdict(
            GateStatus::Fail,
            format!("{}: {}", p.file, p.text),
            &problems,
        );
    }
    let mut idioms = Vec::new();
    for (f, m) in &modules {
        for v in &m.facts().v1_idioms {
            idioms.push(Problem::at(
                &f.rel_path,
                m.src,
                v.line,
                v.column,
                format!("Pydantic v1 idiom {} at line {}", v.what, v.line),
            ));
        }
    }
    if let Some(p) = idioms.first() {
        return verdict(
            GateStatus::Warning,
            format!("{}: {}", p.file, p.text),
            &idioms,
        );
    }
    GateVerdict::pass(
        format!("{} model files valid", model_files.len()),
        json!({"model_files": model_files.iter().map(|f| f.rel_path.clone()).collect::<Vec<_>>()}),
    )
}
