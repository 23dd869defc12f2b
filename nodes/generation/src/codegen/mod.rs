//! Code generation (docs/generation.md §4): the template pack, escaping, rendering of the
//! 12-file ONEX node, the post-validation checks and the staging / atomic placement of the output.
//!
//! - [`escape`]: the one escaping function for user text in Python (docs/generation.md §4.7) and identifier checks;
//! - [`pack`]: template packs (built-in or `--templates DIR`), the omnibase-core symbol table and
//!   the lint keeping user text behind `py_str` / `py_doc` / `py_comment`;
//! - [`context`]: names, actions and the template context derived from a parsed prompt;
//! - [`yaml`]: contract.yaml, node.manifest.yaml and version.manifest.yaml as data trees;
//! - [`render`]: [`render_node`], the 12 files with their sha256 and the manifest hash;
//! - [`pyast`]: the in-process Python 3.12 parser and the facts the gates read;
//! - [`gates`]: G4, G5 (pre_validation) and G9–G12 (post_validation);
//! - [`output`]: staging, G6 and atomic placement; [`compile`]: G13, G14.

pub mod compile;
pub mod context;
pub mod escape;
pub mod gates;
pub mod output;
pub mod pack;
pub mod pyast;
pub mod render;
pub mod yaml;

pub use gates::{
    GateVerdict, files_from_dir, g4_imports_known, g4_probe_script, g4_probe_verdict, g5_templates,
    g9_syntax, g10_naming, g11_imports, g12_models, pack_omnibase_imports,
};
pub use pack::{PackError, SymbolTable, TemplatePack};
pub use render::{
    RenderError, RenderErrorCode, RenderInput, RenderedFile, RenderedNode, node_hash,
    planned_files, render_node,
};
