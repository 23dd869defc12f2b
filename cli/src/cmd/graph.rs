//! `onex graph PATH [--format mermaid|dot]`: draws a contract's execution graph (workflow nodes;
//! for our dialect X also each stage's gates, read from `onex.stages[i].gates`).

use crate::error::{CliError, CliResult, Kind};
use std::fmt::Write as _;
use std::path::PathBuf;

use onex_engine::contract::executable::EngineKnowledge;
use onex_engine::contract::{Dialect, ValidateOptions, WorkflowGraph, validate_file};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

/// Arguments of `onex graph`.
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {
    /// The contract file.
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

/// A gate of a stage (dialect X).
struct Gate {
    id: String,
    name: String,
    kind: String,
    /// Gates of the same stage this gate waits for (`depends_on`).
    depends_on: Vec<String>,
}

fn gates_of(root: &Value, stage: &str) -> Vec<Gate> {
    let Some(Value::Array(stages)) = root.pointer("/onex/stages") else {
        return Vec::new();
    };
    let Some(s) = stages
        .iter()
        .find(|s| s.get("id").and_then(Value::as_str) == Some(stage))
    else {
        return Vec::new();
    };
    let Some(Value::Array(gates)) = s.get("gates") else {
        return Vec::new();
    };
    gates
        .iter()
        .filter_map(|g| {
            Some(Gate {
                id: g.get("id")?.as_str()?.to_string(),
                name: g
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                kind: g
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                depends_on: match g.get("depends_on") {
                    Some(Value::Array(d)) => d
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                    Some(Value::String(d)) => vec![d.clone()],
                    _ => Vec::new(),
                },
            })
        })
        .collect()
}

/// Identifiers safe in both Mermaid and DOT.
fn ident(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn label(s: &str) -> String {
    s.replace('"', "'")
}

/// Renders the graph of `root` (errors as text when there is none).
pub fn render(
    root: &Value,
    dialect: Option<Dialect>,
    format: GraphFormat,
) -> Result<String, String> {
    let g = WorkflowGraph::from_document(root).ok_or(
        "the contract has no workflow_coordination.workflow_definition.execution_graph.nodes",
    )?;
    let with_gates = dialect == Some(Dialect::X);
    let mut out = String::new();
    match format {
        GraphFormat::Mermaid => {
            out.push_str("flowchart TD\n");
            for n in &g.nodes {
                let t = n
                    .node_type
                    .as_deref()
                    .map(|t| format!("<br/>{t}"))
                    .unwrap_or_default();
                let gates = if with_gates {
                    gates_of(root, &n.id)
                } else {
                    Vec::new()
                };
                if gates.is_empty() {
                    let _ = writeln!(
                        out,
                        "    {}[\"{}{}\"]",
                        ident(&n.id),
                        label(&n.id),
                        label(&t)
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "    subgraph {}[\"{}{}\"]",
                        ident(&n.id),
                        label(&n.id),
                        label(&t)
                    );
                    for gate in &gates {
                        let _ = writeln!(
                            out,
                            "        {}__{}{{{{\"{} {} ({})\"}}}}",
                            ident(&n.id),
                            ident(&gate.id),
                            label(&gate.id),
                            label(&gate.name),
                            label(&gate.kind)
                        );
                    }
                    for gate in &gates {
                        for d in &gate.depends_on {
                            let _ = writeln!(
                                out,
                                "        {}__{} -.-> {}__{}",
                                ident(&n.id),
                                ident(d),
                                ident(&n.id),
                                ident(&gate.id)
                            );
                        }
                    }
                    out.push_str("    end\n");
                }
            }
            for n in &g.nodes {
                for d in &n.depends_on {
                    let _ = writeln!(out, "    {} --> {}", ident(d), ident(&n.id));
                }
            }
        }
        GraphFormat::Dot => {
            let _ = writeln!(
                out,
                "digraph \"{}\" {{",
                label(g.name.as_deref().unwrap_or("workflow"))
            );
            out.push_str("    rankdir=TB;\n    node [shape=box];\n");
            for n in &g.nodes {
                let t = n
                    .node_type
                    .as_deref()
                    .map(|t| format!("\\n{t}"))
                    .unwrap_or_default();
                let gates = if with_gates {
                    gates_of(root, &n.id)
                } else {
                    Vec::new()
                };
                let _ = writeln!(
                    out,
                    "    \"{}\" [label=\"{}{}\"];",
                    label(&n.id),
                    label(&n.id),
                    label(&t)
                );
                if !gates.is_empty() {
                    let _ = writeln!(
                        out,
                        "    subgraph \"cluster_{}\" {{\n        label=\"{} gates\";",
                        ident(&n.id),
                        label(&n.id)
                    );
                    for gate in &gates {
                        let _ = writeln!(
                            out,
                            "        \"{}/{}\" [shape=diamond, label=\"{} {}\\n{}\"];",
                            label(&n.id),
                            label(&gate.id),
                            label(&gate.id),
                            label(&gate.name),
                            label(&gate.kind)
                        );
                    }
                    out.push_str("    }\n");
                    for gate in &gates {
                        let _ = writeln!(
                            out,
                            "    \"{}\" -> \"{}/{}\" [style=dotted, arrowhead=none];",
                            label(&n.id),
                            label(&n.id),
                            label(&gate.id)
                        );
                        for d in &gate.depends_on {
                            let _ = writeln!(
                                out,
                                "    \"{}/{}\" -> \"{}/{}\" [style=dashed];",
                                label(&n.id),
                                label(d),
                                label(&n.id),
                                label(&gate.id)
                            );
                        }
                    }
                }
            }
            for n in &g.nodes {
                for d in &n.depends_on {
                    let _ = writeln!(out, "    \"{}\" -> \"{}\";", label(d), label(&n.id));
                }
            }
            out.push_str("}\n");
        }
    }
    Ok(out)
}

/// Runs `onex graph`: 0 = drawn, 1 = the contract has errors or no graph, 2 = unreadable path.
pub fn run(args: &GraphArgs, engine: Option<&dyn EngineKnowledge>) -> CliResult {
    if !args.path.exists() {
        return Err(CliError::usage(format!(
            "onex graph: error: {}: no such file",
            args.path.display()
        )));
    }
    let rep = validate_file(&args.path, &ValidateOptions::default(), engine);
    let Some(doc) = rep.doc.as_ref() else {
        crate::print_diagnostics(&rep.diagnostics);
        return Err(CliError::reported(Kind::Failed));
    };
    match render(&doc.value, rep.dialect, args.format) {
        Ok(s) => crate::outln!("{}", s.strip_suffix('\n').unwrap_or(&s)),
        Err(e) => Err(CliError::failed(format!(
            "onex graph: error: {}: {e}",
            args.path.display()
        ))),
    }
}
