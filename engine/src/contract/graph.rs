//! Execution graphs (docs/dialects.md §8.1): `workflow_coordination.workflow_definition` of dialect C
//! orchestrators and of our dialect X contracts, as a petgraph DAG ([`WorkflowGraph`]), its
//! topological order and execution waves, and the graph rules ONEX040–051.
//!
//! `depends_on` is the source of truth; `edges` are only cross-checked (ONEX047).

use std::collections::{HashMap, HashSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::Value;

use super::ir::normalize_node_type;
use super::rules::{Ctx, idx, ptr, show};

/// Where the workflow definition lives in a contract.
pub const WORKFLOW_DEFINITION: &str = "/workflow_coordination/workflow_definition";

/// How a workflow runs (docs/dialects.md §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionMode {
    Sequential,
    Parallel,
    Batch,
}

/// One graph node (a stage for dialect X).
#[derive(Debug, Clone, PartialEq)]
pub struct GraphNode {
    pub id: String,
    /// `node_type` as written.
    pub node_type: Option<String>,
    pub depends_on: Vec<String>,
    /// JSON pointer of the node in the document.
    pub pointer: String,
}

/// A workflow's execution graph. Edges run from a dependency to its dependent.
#[derive(Debug, Clone)]
pub struct WorkflowGraph {
    pub name: Option<String>,
    pub mode: ExecutionMode,
    pub nodes: Vec<GraphNode>,
    graph: DiGraph<String, ()>,
}

impl WorkflowGraph {
    /// Builds the graph from a document root value. `None` when the document has no
    /// `workflow_coordination.workflow_definition.execution_graph.nodes` list. Nodes without an id
    /// and dependencies on unknown ids are left out (the rules report them).
    pub fn from_document(root: &Value) -> Option<Self> {
        let def = root.pointer(WORKFLOW_DEFINITION)?;
        let Value::Array(raw) = def.pointer("/execution_graph/nodes")? else {
            return None;
        };
        let meta = def.get("workflow_metadata");
        let mode = match meta
            .and_then(|m| m.get("execution_mode"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("parallel") => ExecutionMode::Parallel,
            Some("batch") => ExecutionMode::Batch,
            _ => ExecutionMode::Sequential,
        };
        let mut nodes: Vec<GraphNode> = Vec::new();
        let mut seen = HashSet::new();
        for (i, n) in raw.iter().enumerate() {
            let Some(id) = n
                .get("node_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            if !seen.insert(id.to_string()) {
                continue;
            }
            nodes.push(GraphNode {
                id: id.to_string(),
                node_type: n
                    .get("node_type")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                depends_on: deps_of(n).into_iter().map(|(d, _)| d).collect(),
                pointer: format!("{WORKFLOW_DEFINITION}/execution_graph/nodes/{i}"),
            });
        }
        let mut graph = DiGraph::new();
        let index: HashMap<String, NodeIndex> = nodes
            .iter()
            .map(|n| (n.id.clone(), graph.add_node(n.id.clone())))
            .collect();
        for n in &nodes {
            for d in &n.depends_on {
                if let Some(&from) = index.get(d) {
                    graph.add_edge(from, index[&n.id], ());
                }
            }
        }
        Some(Self {
            name: meta
                .and_then(|m| m.get("workflow_name"))
                .and_then(Value::as_str)
                .map(str::to_string),
            mode,
            nodes,
            graph,
        })
    }

    /// The petgraph graph (node weights are node ids, edges dependency → dependent).
    pub fn graph(&self) -> &DiGraph<String, ()> {
        &self.graph
    }

    /// Waves by dependency depth (Kahn's algorithm): wave N+1 starts when wave N is done; inside
    /// a wave, declaration order. `Err` carries one cycle (`a`, `b`, …, `a`; each depends on the next).
    pub fn waves(&self) -> Result<Vec<Vec<String>>, Vec<String>> {
        let n = self.nodes.len();
        let mut indeg: Vec<usize> = (0..n)
            .map(|i| {
                self.graph
                    .neighbors_directed(NodeIndex::new(i), petgraph::Incoming)
                    .count()
            })
            .collect();
        let mut current: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut waves = Vec::new();
        let mut done = 0;
        while !current.is_empty() {
            done += current.len();
            let mut next = Vec::new();
            for &i in &current {
                for s in self
                    .graph
                    .neighbors_directed(NodeIndex::new(i), petgraph::Outgoing)
                {
                    indeg[s.index()] -= 1;
                    if indeg[s.index()] == 0 {
                        next.push(s.index());
                    }
                }
            }
            next.sort_unstable();
            next.dedup();
            waves.push(current.iter().map(|&i| self.nodes[i].id.clone()).collect());
            current = next;
        }
        if done < n {
            return Err(self.find_cycle().unwrap_or_default());
        }
        Ok(waves)
    }

    /// Topological order: the waves flattened (declaration order inside a wave).
    pub fn topo_order(&self) -> Result<Vec<String>, Vec<String>> {
        self.waves().map(|w| w.into_iter().flatten().collect())
    }

    /// One cycle, in "depends on" direction: `[a, b, a]` = a depends on b, b on a.
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        for scc in tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let members: HashSet<NodeIndex> = scc.iter().copied().collect();
            let start = *scc.iter().min()?;
            // Walk dependency edges (Incoming = "depends on") inside the SCC until a repeat.
            let mut path = vec![start];
            let mut pos: HashMap<NodeIndex, usize> = HashMap::from([(start, 0)]);
            let mut cur = start;
            loop {
                let next = self
                    .graph
                    .neighbors_directed(cur, petgraph::Incoming)
                    .filter(|n| members.contains(n))
                    .min()?;
                if let Some(&at) = pos.get(&next) {
                    let mut cycle: Vec<String> =
                        path[at..].iter().map(|i| self.graph[*i].clone()).collect();
                    cycle.push(self.graph[next].clone());
                    return Some(cycle);
                }
                pos.insert(next, path.len());
                path.push(next);
                cur = next;
            }
        }
        None
    }
}

/// `depends_on` entries of a raw node, with their index.
fn deps_of(n: &Value) -> Vec<(String, usize)> {
    match n.get("depends_on") {
        Some(Value::Array(d)) => d
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_str().map(|s| (s.to_string(), i)))
            .collect(),
        Some(Value::String(s)) => vec![(s.clone(), 0)],
        _ => Vec::new(),
    }
}

const STRATEGIES: &[&str] = &[
    "retry",
    "abort",
    "fail_fast",
    "continue",
    "rollback",
    "compensate",
];

/// The graph rules ONEX040–051 on the document's workflow definition (when it has one).
pub fn check(ctx: &mut Ctx) {
    let base = WORKFLOW_DEFINITION;
    let Some(def) = ctx.get(base).cloned() else {
        return;
    };
    let meta_p = ptr(base, "workflow_metadata");
    let meta = def.get("workflow_metadata").cloned().unwrap_or(Value::Null);
    // ONEX040 before everything else: a reserved mode stops the graph rules.
    let mode_p = ptr(&meta_p, "execution_mode");
    if let Some(mode) = meta.get("execution_mode") {
        let m = mode.as_str().map(|s| s.trim().to_ascii_lowercase());
        match m.as_deref() {
            Some("conditional" | "streaming") => {
                ctx.emit(
                    "ONEX040",
                    &mode_p,
                    format!(
                        "execution_mode {} is reserved and not supported",
                        show(mode)
                    ),
                );
                return;
            }
            Some("sequential" | "parallel" | "batch") => {}
            _ => ctx.emit(
                "ONEX041",
                &mode_p,
                format!(
                    "execution_mode {} is not sequential, parallel or batch",
                    show(mode)
                ),
            ),
        }
    }
    // ONEX042.
    let wf_name = meta
        .get("workflow_name")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    if wf_name.is_empty() {
        let p = if meta.is_object() {
            meta_p.clone()
        } else {
            base.to_string()
        };
        ctx.emit(
            "ONEX042",
            &p,
            "workflow_metadata.workflow_name is missing or empty",
        );
    }
    // ONEX050.
    for (p, v) in [
        (ptr(&meta_p, "timeout_ms"), meta.get("timeout_ms")),
        (
            ptr(&ptr(base, "coordination_rules"), "timeout_ms"),
            def.pointer("/coordination_rules/timeout_ms"),
        ),
    ] {
        if let Some(v) = v {
            let ok = v.as_f64().is_some_and(|t| t > 0.0);
            if !ok {
                ctx.emit(
                    "ONEX050",
                    &p,
                    format!("timeout_ms {} must be a number > 0", show(v)),
                );
            }
        }
    }
    // ONEX051.
    if let Some(s) = def.pointer("/coordination_rules/failure_recovery_strategy") {
        let ok = s
            .as_str()
            .is_some_and(|s| STRATEGIES.iter().any(|k| k.eq_ignore_ascii_case(s.trim())));
        if !ok {
            ctx.emit(
                "ONEX051",
                &format!("{base}/coordination_rules/failure_recovery_strategy"),
                format!(
                    "failure_recovery_strategy {} is not one of {}",
                    show(s),
                    STRATEGIES.join(", ")
                ),
            );
        }
    }
    // ONEX043.
    let nodes_p = format!("{base}/execution_graph/nodes");
    let raw_nodes = match def.pointer("/execution_graph/nodes") {
        Some(Value::Array(n)) if !n.is_empty() => n.clone(),
        _ => {
            let p = if def.pointer("/execution_graph/nodes").is_some() {
                nodes_p.clone()
            } else {
                base.to_string()
            };
            ctx.emit("ONEX043", &p, "execution_graph.nodes is missing or empty");
            return;
        }
    };
    // ONEX044 / ONEX049.
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (i, n) in raw_nodes.iter().enumerate() {
        let p = idx(&nodes_p, i);
        match n
            .get("node_id")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
        {
            Some(id) => {
                if let Some(first) = ids.get(id) {
                    ctx.emit(
                        "ONEX044",
                        &ptr(&p, "node_id"),
                        format!("node_id `{id}` is already used by node #{first}"),
                    );
                } else {
                    ids.insert(id.to_string(), i);
                }
            }
            None => ctx.emit("ONEX044", &p, "graph node without a `node_id`"),
        }
        let Some(t) = n.get("node_type") else {
            // ONEX's graph model (ModelContractWorkflowNode) requires it.
            ctx.emit("ONEX049", &p, "graph node without a `node_type`");
            continue;
        };
        {
            let ok = t.as_str().and_then(normalize_node_type).is_some();
            if !ok {
                ctx.emit(
                    "ONEX049",
                    &ptr(&p, "node_type"),
                    format!("graph node_type {} is not a known node type", show(t)),
                );
            }
        }
    }
    // ONEX045 (depends_on).
    let mut dep_pairs: HashSet<(String, String)> = HashSet::new();
    let mut dep_ptrs: Vec<(String, String, String)> = Vec::new();
    for (i, n) in raw_nodes.iter().enumerate() {
        let Some(id) = n.get("node_id").and_then(Value::as_str) else {
            continue;
        };
        let p = idx(&nodes_p, i);
        // ONEX's graph model types depends_on as a list of strings.
        match n.get("depends_on") {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(Value::Array(items)) => {
                for (j, d) in items.iter().enumerate() {
                    if !d.is_string() {
                        ctx.emit(
                            "ONEX045",
                            &idx(&ptr(&p, "depends_on"), j),
                            format!(
                                "depends_on entry {} of node `{id}` is not a node id",
                                show(d)
                            ),
                        );
                    }
                }
            }
            Some(other) => ctx.emit(
                "ONEX045",
                &ptr(&p, "depends_on"),
                format!(
                    "depends_on of node `{id}` must be a list of node ids, not {}",
                    show(other)
                ),
            ),
        }
        for (d, j) in deps_of(n) {
            let dp = if matches!(n.get("depends_on"), Some(Value::Array(_))) {
                idx(&ptr(&p, "depends_on"), j)
            } else {
                ptr(&p, "depends_on")
            };
            if !ids.contains_key(&d) {
                ctx.emit(
                    "ONEX045",
                    &dp,
                    format!("node `{id}` depends on `{d}`, which is not a node of this graph"),
                );
            } else {
                dep_pairs.insert((d.clone(), id.to_string()));
                dep_ptrs.push((d, id.to_string(), dp));
            }
        }
    }
    // ONEX045 (edges) and ONEX047.
    let edges_p = format!("{base}/execution_graph/edges");
    let mut edge_pairs: HashSet<(String, String)> = HashSet::new();
    let has_edges =
        matches!(def.pointer("/execution_graph/edges"), Some(Value::Array(e)) if !e.is_empty());
    if let Some(Value::Array(edges)) = def.pointer("/execution_graph/edges") {
        for (i, e) in edges.iter().enumerate() {
            let p = idx(&edges_p, i);
            let from = e.get("from_node").and_then(Value::as_str);
            let to = e.get("to_node").and_then(Value::as_str);
            let mut ok = true;
            for (k, v) in [("from_node", from), ("to_node", to)] {
                match v {
                    Some(n) if ids.contains_key(n) => {}
                    Some(n) => {
                        ctx.emit(
                            "ONEX045",
                            &ptr(&p, k),
                            format!("edge {k} `{n}` is not a node of this graph"),
                        );
                        ok = false;
                    }
                    None => {
                        ctx.emit("ONEX045", &p, format!("edge without `{k}`"));
                        ok = false;
                    }
                }
            }
            if let (true, Some(f), Some(t)) = (ok, from, to) {
                edge_pairs.insert((f.to_string(), t.to_string()));
                if !dep_pairs.contains(&(f.to_string(), t.to_string())) {
                    ctx.emit(
                        "ONEX047",
                        &p,
                        format!("edge `{f}` → `{t}` has no matching `depends_on: [{f}]` on `{t}`"),
                    );
                }
            }
        }
    }
    if has_edges {
        for (d, n, p) in &dep_ptrs {
            if !edge_pairs.contains(&(d.clone(), n.clone())) {
                ctx.emit(
                    "ONEX047",
                    p,
                    format!("`{n}` depends on `{d}` but no edge `{d}` → `{n}` is declared"),
                );
            }
        }
    }
    // ONEX046.
    if let Some(g) = WorkflowGraph::from_document(&ctx.doc.value)
        && let Some(cycle) = g.find_cycle()
    {
        let first = &cycle[0];
        let p = g
            .nodes
            .iter()
            .find(|n| &n.id == first)
            .map(|n| ptr(&n.pointer, "depends_on"))
            .unwrap_or_else(|| nodes_p.clone());
        ctx.emit(
            "ONEX046",
            &p,
            format!(
                "dependency cycle: {} (each depends on the next)",
                cycle.join(" → ")
            ),
        );
    }
    // ONEX048.
    if ids.len() >= 2 {
        let connected: HashSet<&str> = dep_pairs
            .iter()
            .flat_map(|(a, b)| [a.as_str(), b.as_str()])
            .collect();
        let mut isolated: Vec<(usize, String)> = ids
            .iter()
            .filter(|(id, _)| !connected.contains(id.as_str()))
            .map(|(id, i)| (*i, id.clone()))
            .collect();
        isolated.sort();
        for (i, id) in isolated {
            ctx.emit(
                "ONEX048",
                &ptr(&idx(&nodes_p, i), "node_id"),
                format!("node `{id}` has no dependency and no dependent"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(nodes: Value) -> Value {
        json!({"workflow_coordination": {"workflow_definition": {
            "workflow_metadata": {"workflow_name": "w", "execution_mode": "parallel"},
            "execution_graph": {"nodes": nodes}}}})
    }

    #[test]
    fn waves_and_cycles() {
        let g = WorkflowGraph::from_document(&doc(json!([
            {"node_id": "a"}, {"node_id": "b", "depends_on": ["a"]}, {"node_id": "c", "depends_on": ["a"]},
            {"node_id": "d", "depends_on": ["b", "c"]}
        ])))
        .unwrap();
        assert_eq!(
            g.waves().unwrap(),
            vec![vec!["a"], vec!["b", "c"], vec!["d"]]
        );
        assert_eq!(g.mode, ExecutionMode::Parallel);
        let g = WorkflowGraph::from_document(&doc(json!([
            {"node_id": "a", "depends_on": ["c"]}, {"node_id": "b", "depends_on": ["a"]}, {"node_id": "c", "depends_on": ["b"]}
        ])))
        .unwrap();
        assert_eq!(g.waves().unwrap_err(), vec!["a", "c", "b", "a"]);
        let g = WorkflowGraph::from_document(&doc(json!([{"node_id": "a", "depends_on": ["a"]}])))
            .unwrap();
        assert_eq!(g.find_cycle().unwrap(), vec!["a", "a"]);
    }
}
