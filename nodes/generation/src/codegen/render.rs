//! Rendering a node (docs/generation.md §4.1–4.6): the nine Python files from the template pack, the three YAML
//! files from data trees, sha256 of each and the node.manifest hash.
//!
//! Same input ⇒ byte-identical files except the run-dependent fields of docs/generation.md §4.6, all in the YAML
//! files (uuid, created_at/last_modified_at, release_date, correlation_id, hash): the Python
//! files depend only on the parsed prompt, the pack and the engine version.

use sha2::{Digest, Sha256};

use crate::codegen::context::{NodeContext, RAW_USER_TEXT_MARKER};
use crate::codegen::pack::{TemplatePack, error_chain, node_template};
use crate::codegen::yaml::{self, RunInfo};
use crate::prompt::naming::NodeNames;
use crate::prompt::{DomainSource, NameSource, NodeType, ParsedPrompt};

/// What the executor passes to [`render_node`].
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    pub parsed: &'a ParsedPrompt,
    pub correlation_id: uuid::Uuid,
    pub run_started_at: jiff::Timestamp,
    pub engine_version: &'a str,
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Relative to the node directory, `/`-separated (`v1_0_0/node.py`).
    pub rel_path: String,
    pub bytes: Vec<u8>,
    /// Lowercase hex sha256 of `bytes`.
    pub sha256: String,
}

impl RenderedFile {
    pub fn new(rel_path: impl Into<String>, bytes: Vec<u8>) -> RenderedFile {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        RenderedFile {
            rel_path: rel_path.into(),
            bytes,
            sha256,
        }
    }
}

/// The rendered node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedNode {
    /// `node_{domain}_{svc}_{type}`
    pub dir_name: String,
    /// The 12 files, in docs/generation.md §4.1 order (node.manifest.yaml first).
    pub files: Vec<RenderedFile>,
}

/// GenerationFailed error codes (docs/generation.md §5.3) the renderer can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderErrorCode {
    /// A template failed: missing, undefined variable, raw user text, serializer error.
    TemplateRenderError,
    /// The parsed prompt is unusable: an identifier fails G3's patterns.
    ContextInvalid,
}

impl RenderErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RenderErrorCode::TemplateRenderError => "TEMPLATE_RENDER_ERROR",
            RenderErrorCode::ContextInvalid => "CONTEXT_INVALID",
        }
    }
}

/// Why a render failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}{}", code.as_str(), failed_file.as_ref().map(|f| format!(" ({f})")).unwrap_or_default())]
pub struct RenderError {
    pub code: RenderErrorCode,
    pub message: String,
    /// The file being rendered (relative path), when the error belongs to one.
    pub failed_file: Option<String>,
}

/// Where each output file comes from.
enum Source {
    Template(String),
    Contract,
    VersionManifest,
    NodeManifest,
}

/// The 12 files of docs/generation.md §4.1, in order, with their sources.
fn layout(n: &NodeNames, t: NodeType) -> Vec<(String, Source)> {
    let tpl = |s: &str| Source::Template(s.to_string());
    vec![
        ("node.manifest.yaml".into(), Source::NodeManifest),
        ("v1_0_0/__init__.py".into(), tpl("init.py.j2")),
        ("v1_0_0/node.py".into(), Source::Template(node_template(t))),
        ("v1_0_0/contract.yaml".into(), Source::Contract),
        (
            "v1_0_0/version.manifest.yaml".into(),
            Source::VersionManifest,
        ),
        ("v1_0_0/models/__init__.py".into(), tpl("models_init.py.j2")),
        (
            format!("v1_0_0/models/{}", n.input_model_file),
            tpl("model_input.py.j2"),
        ),
        (
            format!("v1_0_0/models/{}", n.output_model_file),
            tpl("model_output.py.j2"),
        ),
        (
            format!("v1_0_0/models/{}", n.config_model_file),
            tpl("model_config.py.j2"),
        ),
        (
            format!("v1_0_0/models/{}", n.contract_model_file),
            tpl("model_contract.py.j2"),
        ),
        ("v1_0_0/enums/__init__.py".into(), tpl("enums_init.py.j2")),
        (
            format!("v1_0_0/enums/{}", n.operation_enum_file),
            tpl("enum_operation_type.py.j2"),
        ),
    ]
}

/// The relative paths of the 12 files a render of `parsed` writes, in docs/generation.md §4.1 order (node.manifest
/// first). Cheap and infallible: for GenerationStarted's `total_files` and G10's expectations.
pub fn planned_files(parsed: &ParsedPrompt) -> Vec<String> {
    let names = NodeNames::new(
        &parsed.node_name,
        &parsed.service_name,
        &parsed.domain,
        parsed.node_type,
    );
    layout(&names, parsed.node_type)
        .into_iter()
        .map(|(rel, _)| rel)
        .collect()
}

/// node.manifest `hash`: sha256 over the files sorted by path, each contributing its path, a NUL
/// byte and its bytes (docs/generation.md §4.4). `files` must not include node.manifest.yaml itself.
pub fn node_hash(files: &[RenderedFile]) -> String {
    let mut sorted: Vec<&RenderedFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    let mut h = Sha256::new();
    for f in sorted {
        h.update(f.rel_path.as_bytes());
        h.update([0u8]);
        h.update(&f.bytes);
    }
    hex::encode(h.finalize())
}

/// RFC 3339 UTC with milliseconds, the timestamp format of events and manifests.
pub fn rfc3339_millis(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn render_template(
    pack: &TemplatePack,
    name: &str,
    ctx: &minijinja::Value,
    rel_path: &str,
) -> Result<Vec<u8>, RenderError> {
    let fail = |message: String| RenderError {
        code: RenderErrorCode::TemplateRenderError,
        message,
        failed_file: Some(rel_path.to_string()),
    };
    let tpl = pack
        .environment()
        .get_template(name)
        .map_err(|e| fail(format!("template {name}: {}", error_chain(&e))))?;
    let text = tpl
        .render(ctx)
        .map_err(|e| fail(format!("template {name}: {}", error_chain(&e))))?;
    if text.contains(RAW_USER_TEXT_MARKER) {
        return Err(fail(format!(
            "template {name}: user text reached the output without py_str, py_doc or py_comment (or the template holds a NUL byte)"
        )));
    }
    Ok(text.into_bytes())
}

fn yaml_file(rel_path: &str, value: &serde_json::Value) -> Result<RenderedFile, RenderError> {
    let text = yaml::to_yaml(value).map_err(|e| RenderError {
        code: RenderErrorCode::TemplateRenderError,
        message: format!("YAML serializer: {e}"),
        failed_file: Some(rel_path.to_string()),
    })?;
    Ok(RenderedFile::new(rel_path, text.into_bytes()))
}

/// Renders the 12 files of a node. `on_file` is called once per file as soon as it is complete
/// (node.manifest.yaml last, since its hash covers the other 11); the returned files are in docs/generation.md §4.1
/// order. Errors: CONTEXT_INVALID for identifiers that fail G3's patterns, TEMPLATE_RENDER_ERROR
/// for a template or serializer failure (with the file). Never panics on any input.
pub fn render_node(
    input: &RenderInput<'_>,
    pack: &TemplatePack,
    on_file: &mut dyn FnMut(&RenderedFile),
) -> Result<RenderedNode, RenderError> {
    let ctx = NodeContext::new(input.parsed).map_err(|message| RenderError {
        code: RenderErrorCode::ContextInvalid,
        message,
        failed_file: None,
    })?;
    let run = RunInfo {
        correlation_id: input.correlation_id,
        started_at: rfc3339_millis(input.run_started_at),
        release_date: input.run_started_at.strftime("%Y-%m-%d").to_string(),
        engine_version: input.engine_version,
    };
    let tctx = ctx.template_context(input.engine_version, &pack.symbols().version);
    let plan = layout(&ctx.names, ctx.node_type);
    let mut done: Vec<Option<RenderedFile>> = vec![None; plan.len()];
    let mut manifest_slot = None;
    for (i, (rel, source)) in plan.iter().enumerate() {
        let file = match source {
            Source::Template(name) => {
                RenderedFile::new(rel.clone(), render_template(pack, name, &tctx, rel)?)
            }
            Source::Contract => yaml_file(rel, &yaml::contract(&ctx, &run))?,
            Source::VersionManifest => yaml_file(rel, &yaml::version_manifest(&ctx, &run))?,
            Source::NodeManifest => {
                manifest_slot = Some(i);
                continue;
            }
        };
        on_file(&file);
        done[i] = Some(file);
    }
    let others: Vec<RenderedFile> = done.iter().flatten().cloned().collect();
    let hash = node_hash(&others);
    if let Some(i) = manifest_slot {
        let file = yaml_file(&plan[i].0, &yaml::node_manifest(&ctx, &run, &hash))?;
        on_file(&file);
        done[i] = Some(file);
    }
    Ok(RenderedNode {
        dir_name: ctx.names.node_dir.clone(),
        files: done.into_iter().flatten().collect(),
    })
}

/// The fixed prompt a pack is trial-rendered with (G4, G5): every list non-empty, so every
/// loop body of the templates runs.
pub fn sample_prompt(t: NodeType) -> ParsedPrompt {
    ParsedPrompt {
        prompt: "Create a sample node".to_string(),
        node_type: t,
        type_confidence: 1.0,
        node_name: "SampleService".to_string(),
        service_name: "sample_service".to_string(),
        name_confidence: 1.0,
        name_source: NameSource::Explicit,
        domain: "general".to_string(),
        domain_confidence: 1.0,
        domain_source: DomainSource::Explicit,
        description: "Sample node used to check a template pack".to_string(),
        functional_requirements: vec!["Handle sample records".to_string()],
        external_systems: vec!["PostgreSQL".to_string()],
        confidence_score: 1.0,
    }
}

/// The Python files of `pack` for the sample prompt of type `t` (YAML files do not depend on
/// the pack).
pub(crate) fn render_python_sample(
    pack: &TemplatePack,
    t: NodeType,
) -> Result<Vec<RenderedFile>, RenderError> {
    let parsed = sample_prompt(t);
    let ctx = NodeContext::new(&parsed).map_err(|message| RenderError {
        code: RenderErrorCode::ContextInvalid,
        message,
        failed_file: None,
    })?;
    let tctx = ctx.template_context(onex_engine::ENGINE_VERSION, &pack.symbols().version);
    let mut files = Vec::new();
    for (rel, source) in layout(&ctx.names, ctx.node_type) {
        if let Source::Template(name) = source {
            files.push(RenderedFile::new(
                rel.clone(),
                render_template(pack, &name, &tctx, &rel)?,
            ));
        }
    }
    Ok(files)
}
