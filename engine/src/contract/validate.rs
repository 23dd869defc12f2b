//! The one validation path shared by start-up, reload and `onex validate` (docs/dialects.md §1):
//! discovery → read → parse → classify → envelope → dialect detection and rules → topics.
//! Every problem of every file is collected; nothing stops at the first finding.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::executable::{self, EngineKnowledge};
use super::ir::NormalizedNodeType;
use super::rules::manifest::ManifestKind;
use super::rules::{self, Ctx};
use super::source::{LoadOptions, Loaded, Location, SourceDoc, load_file, load_str};
use super::{codes, graph, schema};
use crate::diag::{Diagnostic, Pos, Severity};

/// Options of a validation run.
#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions {
    /// `--strict`: ONEX015 becomes an error.
    pub strict: bool,
    /// `!include` / `$ref` support (`--no-include` = false).
    pub include: bool,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self {
            strict: false,
            include: true,
        }
    }
}

/// The contract dialects of docs/dialects.md §2 (B and G are `Generic`), plus manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Dialect {
    A,
    C,
    D,
    E,
    F,
    X,
    #[serde(rename = "generic")]
    Generic,
    #[serde(rename = "node.manifest")]
    NodeManifest,
    #[serde(rename = "tool.manifest")]
    ToolManifest,
    #[serde(rename = "version.manifest")]
    VersionManifest,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::A => "A",
            Dialect::C => "C",
            Dialect::D => "D",
            Dialect::E => "E",
            Dialect::F => "F",
            Dialect::X => "X",
            Dialect::Generic => "generic",
            Dialect::NodeManifest => "node.manifest",
            Dialect::ToolManifest => "tool.manifest",
            Dialect::VersionManifest => "version.manifest",
        }
    }

    pub fn is_manifest(self) -> bool {
        matches!(
            self,
            Dialect::NodeManifest | Dialect::ToolManifest | Dialect::VersionManifest
        )
    }
}

/// ok | warning | error of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Error => "error",
        }
    }
}

/// The outcome for one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    /// `None` when the file could not be parsed or is not contract-like.
    pub dialect: Option<Dialect>,
    pub node_type: Option<NormalizedNodeType>,
    pub diagnostics: Vec<Diagnostic>,
    /// The loaded document (absent when the file did not parse).
    pub doc: Option<SourceDoc>,
    /// Not contract-like (ONEX004): skipped after classification.
    pub skipped: bool,
}

impl FileReport {
    /// Worst severity that counts (info never does).
    pub fn status(&self) -> Status {
        if self.errors() > 0 {
            Status::Error
        } else if self.warnings() > 0 {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// The normalised view (docs/dialects.md §11) of a loaded contract; `None` when the file did not load or was
    /// skipped.
    pub fn view(&self) -> Option<super::ir::ContractView> {
        let (Some(doc), Some(dialect)) = (&self.doc, self.dialect) else {
            return None;
        };
        Some(super::ir::view(dialect, &doc.value))
    }

    /// True when the file has a finding with `code`.
    pub fn has(&self, code: &str) -> bool {
        self.diagnostics.iter().any(|d| d.code == code)
    }
}

/// The outcome of a run over several paths.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub files: Vec<FileReport>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.files.iter().map(FileReport::errors).sum()
    }

    pub fn warnings(&self) -> usize {
        self.files.iter().map(FileReport::warnings).sum()
    }

    /// 0 = no error; 1 = errors (or warnings with `deny_warnings`).
    pub fn exit_code(&self, deny_warnings: bool) -> u8 {
        u8::from(self.errors() > 0 || (deny_warnings && self.warnings() > 0))
    }
}

/// The tool could not run (exit code 2): no path, or a path that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Directory entries never descended into (docs/dialects.md §1.1).
const SKIP_DIRS: &[&str] = &["archived", "__pycache__", ".git", "node_modules"];

fn skipped_name(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_') || SKIP_DIRS.contains(&name)
}

/// Expands the command-line paths to files: directories are walked for `*.yaml`/`*.yml`
/// (skipping hidden and `_` entries and archived/__pycache__/.git/node_modules), files named
/// explicitly are always kept. Sorted per argument for a stable order.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, UsageError> {
    if paths.is_empty() {
        return Err(UsageError(
            "no path given: name at least one contract file or directory".into(),
        ));
    }
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| UsageError(format!("{}: {e}", p.display())))?;
        if !meta.is_dir() {
            out.push(p.clone());
            continue;
        }
        let mut found = Vec::new();
        let walker = walkdir::WalkDir::new(p)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !skipped_name(&e.file_name().to_string_lossy()));
        for entry in walker {
            // An unreadable directory entry is reported as an unreadable file (ONEX001) later.
            let (path, is_file) = match entry {
                Ok(e) => {
                    let is_file = e.file_type().is_file()
                        || (e.file_type().is_symlink() && e.path().is_file());
                    (e.into_path(), is_file)
                }
                Err(e) => match e.path() {
                    Some(path) => (path.to_path_buf(), true),
                    None => continue,
                },
            };
            let yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
            if is_file && yaml {
                found.push(path);
            }
        }
        out.extend(found);
    }
    Ok(out)
}

/// Validates every file under `paths` (all problems of all files), in discovery order.
///
/// Sequential on purpose: spreading files over both cores of the development machine measured
/// slower (73.7 ms vs 61.2 ms median for 1,000 contracts with one other build running,
/// docs/BENCHMARKS.md), and 1,000 contracts already take ~60 ms on one thread.
pub fn validate_paths(
    paths: &[PathBuf],
    opts: &ValidateOptions,
    engine: Option<&dyn EngineKnowledge>,
) -> Result<Report, UsageError> {
    let files = discover(paths)?;
    Ok(Report {
        files: files
            .iter()
            .map(|f| validate_file(f, opts, engine))
            .collect(),
    })
}

/// Validates one file.
pub fn validate_file(
    path: &Path,
    opts: &ValidateOptions,
    engine: Option<&dyn EngineKnowledge>,
) -> FileReport {
    let loaded = load_file(
        path,
        LoadOptions {
            include: opts.include,
        },
    );
    finish(path, loaded, opts, engine)
}

/// Validates YAML `text` as if it were the file `path` (e.g. a file about to be written).
pub fn validate_str(
    path: &Path,
    text: &str,
    opts: &ValidateOptions,
    engine: Option<&dyn EngineKnowledge>,
) -> FileReport {
    let loaded = load_str(
        path,
        text,
        LoadOptions {
            include: opts.include,
        },
    );
    finish(path, loaded, opts, engine)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The keys that make a file contract-like: ONEX's own contract indicators (its pre-commit
/// check, docs/rules.md "ONEX parity") and `handler_id` (a handler contract).
pub const CONTRACT_KEYS: &[&str] = &[
    "handler_id",
    "contract_version",
    "node_type",
    "metadata",
    "inputs",
    "outputs",
    "configuration",
    "description",
];

fn finish(
    path: &Path,
    loaded: Loaded,
    opts: &ValidateOptions,
    engine: Option<&dyn EngineKnowledge>,
) -> FileReport {
    let Loaded {
        doc,
        empty,
        mut diagnostics,
    } = loaded;
    let mut report = FileReport {
        path: path.to_path_buf(),
        dialect: None,
        node_type: None,
        diagnostics: Vec::new(),
        doc: None,
        skipped: false,
    };
    let name = file_name(path);
    let manifest = ManifestKind::from_file_name(&name);
    let named_contract = name == "contract.yaml" || name == "contract.yml";
    let at_root = |doc: Option<&SourceDoc>| -> Location {
        doc.map_or_else(
            || Location {
                path: path.to_path_buf(),
                pos: Pos { line: 1, column: 1 },
            },
            |d| d.locate(""),
        )
    };
    let Some(doc) = doc else {
        if empty && diagnostics.is_empty() {
            if manifest.is_some() || named_contract {
                diagnostics.push(codes::make(
                    "ONEX003",
                    &at_root(None),
                    "",
                    format!("{name} is empty; its root must be a mapping"),
                ));
            } else {
                diagnostics.push(codes::make(
                    "ONEX004",
                    &at_root(None),
                    "",
                    "empty file: not a contract, skipped",
                ));
                report.skipped = true;
            }
        }
        report.diagnostics = sorted(diagnostics, path);
        return report;
    };
    // Classify.
    let is_map = doc.value.is_object();
    let contract_like = is_map && CONTRACT_KEYS.iter().any(|k| doc.value.get(*k).is_some());
    if manifest.is_some() || named_contract {
        if !is_map {
            diagnostics.push(codes::make(
                "ONEX003",
                &at_root(Some(&doc)),
                "",
                format!(
                    "the root of {name} must be a mapping, not {}",
                    kind_name(&doc.value)
                ),
            ));
            report.diagnostics = sorted(diagnostics, path);
            report.doc = Some(doc);
            return report;
        }
    } else if !contract_like {
        let why = if empty || doc.value.is_null() {
            "empty document".to_string()
        } else if is_map {
            format!("none of the keys {}", CONTRACT_KEYS.join(", "))
        } else {
            format!("root is {}", kind_name(&doc.value))
        };
        diagnostics.push(codes::make(
            "ONEX004",
            &at_root(Some(&doc)),
            "",
            format!("not contract-like ({why}): skipped"),
        ));
        report.skipped = true;
        skipped_duplicates(&mut diagnostics, opts.strict);
        report.diagnostics = sorted(diagnostics, path);
        report.doc = Some(doc);
        return report;
    }
    let mut ctx = Ctx {
        doc: &doc,
        out: &mut diagnostics,
        strict: opts.strict,
    };
    if let Some(kind) = manifest {
        let (dialect, schema_name) = match kind {
            ManifestKind::Node => (Dialect::NodeManifest, "onex-node-manifest"),
            ManifestKind::Tool => (Dialect::ToolManifest, "onex-tool-manifest"),
            ManifestKind::Version => (Dialect::VersionManifest, "onex-version-manifest"),
        };
        schema::check(&mut ctx, schema_name);
        rules::manifest::semvers(&mut ctx, kind);
        rules::manifest::referenced_files(&mut ctx, kind, path);
        report.dialect = Some(dialect);
        // Manifests are loosely structured: a tool manifest's node_type is reported, not checked.
        report.node_type = doc
            .value
            .get("node_type")
            .and_then(Value::as_str)
            .and_then(super::ir::normalize_node_type);
    } else {
        let dialect = detect(&doc.value);
        report.dialect = Some(dialect);
        report.node_type = contract_rules(&mut ctx, dialect, engine);
    }
    report.diagnostics = sorted(diagnostics, path);
    report.doc = Some(doc);
    report
}

/// ONEX005 in a skipped (not contract-like) file is a warning (an error under `--strict`): ONEX's
/// loader keeps the last of duplicate keys and checks nothing in such a file, so it must not fail
/// CI here either.
fn skipped_duplicates(diagnostics: &mut [Diagnostic], strict: bool) {
    if strict {
        return;
    }
    for d in diagnostics.iter_mut().filter(|d| d.code == "ONEX005") {
        d.severity = Severity::Warning;
        d.help = "the file is not a contract, so this only warns; remove or rename one of the duplicate keys".into();
    }
}

/// Dialect detection, first match wins (docs/dialects.md §2).
pub fn detect(v: &Value) -> Dialect {
    let has = |k: &str| v.get(k).is_some();
    if has("handler_id") {
        return Dialect::E;
    }
    let workflow_type = v
        .get("node_type")
        .and_then(Value::as_str)
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("workflow"));
    if workflow_type || has("event_flow") {
        return Dialect::F;
    }
    if v.get("onex").is_some_and(Value::is_object) {
        return Dialect::X;
    }
    if [
        "workflow_coordination",
        "state_machine",
        "state_transitions",
        "effect_operations",
        "effect",
        "compute",
    ]
    .iter()
    .any(|k| has(k))
    {
        return Dialect::C;
    }
    if has("descriptor") && has("handler_routing") {
        return Dialect::D;
    }
    if [
        "tool_specification",
        "main_tool_class",
        "contract_name",
        "version",
    ]
    .iter()
    .any(|k| has(k))
    {
        return Dialect::A;
    }
    Dialect::Generic
}

/// Is this dialect X document the event catalogue (no graph, no node_type needed)?
fn is_x_catalogue(v: &Value) -> bool {
    executable::is_catalog(v) || v.get("workflow_coordination").is_none()
}

/// Envelope, dialect and topic rules of a contract (not a manifest).
fn contract_rules(
    ctx: &mut Ctx,
    dialect: Dialect,
    engine: Option<&dyn EngineKnowledge>,
) -> Option<NormalizedNodeType> {
    use rules::{effect, envelope, fsm, handler, topics, workflow};
    // Envelope (docs/dialects.md §3).
    schema::check(ctx, "onex-envelope");
    envelope::semver_keys(ctx, dialect == Dialect::E);
    envelope::description_type(ctx);
    envelope::key_typos(ctx);
    let node_type_required = match dialect {
        Dialect::E => false,
        Dialect::X => !is_x_catalogue(&ctx.doc.value),
        _ => true,
    };
    let nt = envelope::node_type(ctx, node_type_required);
    envelope::top_level_version(ctx);
    envelope::fingerprint(ctx);
    envelope::model_prefix(ctx);
    envelope::orchestrator_output(ctx, nt.as_ref());
    if dialect != Dialect::E {
        envelope::name_style(ctx);
    }
    if ctx.get("/descriptor").is_some() {
        // A handler contract's enums are checked by ONEX038 (an error there).
        if dialect != Dialect::E {
            handler::descriptor_enums(ctx);
        }
        handler::archetype_matches_kind(ctx, nt.as_ref());
    }
    // Dialect rules (docs/dialects.md §6–§9).
    match dialect {
        Dialect::A => schema::check(ctx, "onex-dialect-a"),
        Dialect::C | Dialect::X => {
            if dialect == Dialect::C {
                schema::check(ctx, "onex-dialect-c");
                effect::http_methods(ctx);
                if let Some(p) = fsm::fsm_pointer(&ctx.doc.value) {
                    fsm::check(ctx, p);
                    fsm::terminal_not_recoverable(ctx, p);
                }
            }
            graph::check(ctx);
            if dialect == Dialect::X {
                schema::check(ctx, "onex-executable");
                executable::check_value(ctx.doc, engine, ctx.out);
            }
        }
        Dialect::D => schema::check(ctx, "onex-dialect-d"),
        Dialect::E => {
            schema::check(ctx, "onex-dialect-e");
            handler::handler_prefix(ctx);
            handler::minimal_contract(ctx);
        }
        Dialect::F => {
            schema::check(ctx, "onex-dialect-f");
            workflow::check(ctx);
        }
        Dialect::Generic => schema::check(ctx, "onex-generic"),
        Dialect::NodeManifest | Dialect::ToolManifest | Dialect::VersionManifest => {}
    }
    // Topics (docs/dialects.md §9.3).
    topics::check(ctx);
    nt
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// Findings of the top-level file first, then included files; by line, column, code.
fn sorted(mut d: Vec<Diagnostic>, top: &Path) -> Vec<Diagnostic> {
    d.sort_by(|a, b| {
        (a.path != top, &a.path, a.pos.line, a.pos.column, &a.code).cmp(&(
            b.path != top,
            &b.path,
            b.pos.line,
            b.pos.column,
            &b.code,
        ))
    });
    d
}
