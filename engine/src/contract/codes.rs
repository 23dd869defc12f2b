//! The rule registry: every stable `ONEX…` code the contract validator emits, with its default
//! severity, a one-line summary (the line in docs/rules.md) and a one-line default help text.
//! Rules never hard-code a severity: they look it up here, so `--strict` and the SARIF rule list
//! stay consistent with the documentation.

use crate::diag::{Diagnostic, Severity};

use super::source::Location;

/// One rule of the registry.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub help: &'static str,
}

const fn r(
    code: &'static str,
    severity: Severity,
    summary: &'static str,
    help: &'static str,
) -> RuleInfo {
    RuleInfo {
        code,
        severity,
        summary,
        help,
    }
}

use Severity::{Error as E, Info as I, Warning as W};

/// All rules, in code order (docs/dialects.md §3–§10).
pub static RULES: &[RuleInfo] = &[
    r(
        "ONEX001",
        E,
        "file readable, UTF-8, at most 10 MiB",
        "save the file as UTF-8 text under 10 MiB",
    ),
    r(
        "ONEX002",
        E,
        "YAML syntax valid, one document; only core tags and `!include`",
        "fix the YAML syntax at the marked position",
    ),
    r(
        "ONEX003",
        E,
        "root of a contract.yaml / manifest is a mapping",
        "make the document a mapping of keys to values",
    ),
    r(
        "ONEX004",
        I,
        "not contract-like (or empty): skipped",
        "add contract_version and node_type if this file is meant to be a contract",
    ),
    r(
        "ONEX005",
        E,
        "no duplicate keys in any mapping",
        "remove or rename one of the duplicate keys",
    ),
    r(
        "ONEX010",
        E,
        "`contract_version` present",
        "add `contract_version: {major: 1, minor: 0, patch: 0}`",
    ),
    r(
        "ONEX011",
        E,
        "semver keys are `{major, minor, patch}` ints >= 0 (optional prerelease/build) or an `X.Y.Z` string",
        "write the version as `{major: 1, minor: 0, patch: 0}`",
    ),
    r(
        "ONEX012",
        W,
        "semver key written as a string (accepted, converted)",
        "write the version as `{major: X, minor: Y, patch: Z}`",
    ),
    r(
        "ONEX013",
        E,
        "`node_type` present (not for dialect E or an X event catalogue)",
        "add `node_type:` (compute, effect, reducer or orchestrator)",
    ),
    r(
        "ONEX014",
        E,
        "`node_type` in the vocabulary of docs/dialects.md §4",
        "use one of COMPUTE_GENERIC, EFFECT_GENERIC, REDUCER_GENERIC, ORCHESTRATOR_GENERIC or another spelling of docs/dialects.md §4",
    ),
    r(
        "ONEX015",
        W,
        "no top-level `version` key (renamed `contract_version`; `node_version` added)",
        "rename `version` to `node_version` (and keep `contract_version`)",
    ),
    r(
        "ONEX016",
        W,
        "semver `prerelease` / `build` not an empty string",
        "drop the empty `prerelease`/`build` or make it a list",
    ),
    r(
        "ONEX017",
        W,
        "`node_type: UNKNOWN` has no kind",
        "declare the real node_type",
    ),
    r(
        "ONEX018",
        E,
        "`description` is a string",
        "write the description as a (quoted or block) string",
    ),
    r(
        "ONEX019",
        W,
        "semver key in a shape ONEX reads leniently (`{major: \"1\"}`, `1.0`, `true`, an extra key); error with --strict",
        "write the version as `{major: 1, minor: 0, patch: 0}` with integers and no other key",
    ),
    r(
        "ONEX020",
        W,
        "`name` is PascalCase or snake_case (not dialect E)",
        "rename to snake_case, e.g. `my_node`",
    ),
    r(
        "ONEX021",
        I,
        "model class name starts with `Model`",
        "name the model class `Model…`",
    ),
    r(
        "ONEX022",
        I,
        "an orchestrator declares no `output_model` (it emits events/intents)",
        "drop `output_model` from the orchestrator",
    ),
    r(
        "ONEX023",
        E,
        "`fingerprint` is `<semver>:<12 hex>`",
        "write the fingerprint as `1.0.0:0123456789ab`",
    ),
    r(
        "ONEX024",
        E,
        "model reference is a dotted string or a `{name, module}` mapping",
        "write `pkg.module.ModelName` or `{name: ModelName, module: pkg.module}`",
    ),
    r(
        "ONEX025",
        I,
        "an unknown key one or two edits from a known one (a likely typo); error with --strict",
        "rename the key to the one suggested",
    ),
    r(
        "ONEX030",
        E,
        "dialect E has handler_id, name (<= 128 chars), contract_version, descriptor, input_model, output_model",
        "add the missing handler-contract key",
    ),
    r(
        "ONEX031",
        E,
        "`handler_id` is dotted: >= 2 segments starting with a letter or `_`",
        "use a dotted id such as `effect.database.repository`",
    ),
    r(
        "ONEX032",
        E,
        "a kind prefix of `handler_id` equals `descriptor.node_archetype`",
        "make the handler_id prefix and node_archetype agree",
    ),
    r(
        "ONEX033",
        E,
        "`descriptor.node_archetype` present and compute|effect|reducer|orchestrator",
        "set node_archetype to compute, effect, reducer or orchestrator",
    ),
    r(
        "ONEX034",
        W,
        "descriptor enums: purity, concurrency_policy, isolation_policy, observability_level",
        "use one of the documented values",
    ),
    r(
        "ONEX035",
        W,
        "`descriptor.node_archetype` equals the kind of `node_type`",
        "make node_type and node_archetype agree",
    ),
    r(
        "ONEX036",
        W,
        "`runtime_profiles` entries are known profiles",
        "use local-dev, default, main, effects, workers, projection-api, canary, staging or production",
    ),
    r(
        "ONEX037",
        E,
        "dialect A `tool_specification` has `tool_name` and `main_tool_class`",
        "add tool_name and main_tool_class to tool_specification",
    ),
    r(
        "ONEX038",
        E,
        "a handler contract (dialect E) has the field types and descriptor enums of ONEX's MinimalHandlerContract",
        "use the documented type: strings for models, `pure`/`side_effecting` purity, integers >= 0 for timeouts",
    ),
    r(
        "ONEX040",
        E,
        "`execution_mode` is not reserved (`conditional`, `streaming`)",
        "use sequential, parallel or batch",
    ),
    r(
        "ONEX041",
        E,
        "`execution_mode` is sequential, parallel or batch",
        "use sequential, parallel or batch",
    ),
    r(
        "ONEX042",
        E,
        "`workflow_metadata.workflow_name` non-empty",
        "add `workflow_name:` to workflow_metadata",
    ),
    r(
        "ONEX043",
        E,
        "`execution_graph.nodes` present and non-empty",
        "declare at least one node in execution_graph.nodes",
    ),
    r(
        "ONEX044",
        E,
        "every graph node has a `node_id`; ids unique",
        "give every node a unique node_id",
    ),
    r(
        "ONEX045",
        E,
        "`depends_on` is a list of node ids and, like edge endpoints, names existing nodes",
        "fix the node id or declare the missing node",
    ),
    r(
        "ONEX046",
        E,
        "the execution graph is acyclic",
        "break the cycle by removing one dependency",
    ),
    r(
        "ONEX047",
        W,
        "`edges` mirror `depends_on` exactly",
        "make edges and depends_on agree (from_node = the dependency)",
    ),
    r(
        "ONEX048",
        W,
        "no isolated node in a graph of >= 2 nodes",
        "connect the node with depends_on or remove it",
    ),
    r(
        "ONEX049",
        E,
        "every graph node has a `node_type` in the vocabulary of docs/dialects.md §4",
        "use a node_type of docs/dialects.md §4 such as COMPUTE_GENERIC",
    ),
    r(
        "ONEX050",
        E,
        "`timeout_ms` > 0 when present",
        "set a positive timeout in milliseconds",
    ),
    r(
        "ONEX051",
        W,
        "`failure_recovery_strategy` is a known strategy",
        "use retry, abort, fail_fast, continue, rollback or compensate",
    ),
    r(
        "ONEX055",
        E,
        "`event_flow` entries have source, target, topic naming declared nodes",
        "fix source/target to a node in `nodes`, initial_command or terminal",
    ),
    r(
        "ONEX056",
        W,
        "initial_command is a cmd topic, terminal_event an evt topic published to terminal",
        "publish terminal_event on an entry with `target: terminal`",
    ),
    r(
        "ONEX057",
        W,
        "every node is reachable from initial_command through event_flow",
        "add an event_flow entry targeting the node",
    ),
    r(
        "ONEX060",
        E,
        "FSM `states` non-empty; `state_name` unique",
        "declare each state once",
    ),
    r(
        "ONEX061",
        E,
        "FSM `initial_state` present and declared",
        "set initial_state to a declared state",
    ),
    r(
        "ONEX062",
        E,
        "`terminal_states` / `error_states` are declared states",
        "declare the state or remove it from the list",
    ),
    r(
        "ONEX063",
        E,
        "transition, operation and rollback endpoints are declared states",
        "declare the state or fix the transition",
    ),
    r(
        "ONEX064",
        E,
        "`transition_name` unique",
        "rename one of the transitions",
    ),
    r(
        "ONEX065",
        E,
        "(from_state, trigger, priority) unique",
        "give one of the transitions another trigger or priority",
    ),
    r(
        "ONEX066",
        E,
        "no transition leaves a terminal state",
        "remove the transition or make the state non-terminal",
    ),
    r(
        "ONEX067",
        E,
        "condition `expression` is `field op value` with a known operator",
        "write the condition as three tokens, e.g. `retry_count less_than 3`",
    ),
    r(
        "ONEX069",
        E,
        "an FSM terminal state (`is_terminal: true`) is not recoverable (`is_recoverable` defaults to true); both flags are booleans",
        "add `is_recoverable: false` to the terminal state",
    ),
    r(
        "ONEX068",
        W,
        "no legacy `$ref` to a local file (deprecated; use `!include`)",
        "replace `{$ref: path}` with `!include path`",
    ),
    r(
        "ONEX070",
        W,
        "topic matches `onex.<kind>.<producer>.<event>.v<N>`",
        "rename the topic, e.g. `onex.evt.my-service.thing-happened.v1`",
    ),
    r(
        "ONEX071",
        W,
        "no environment prefix on topics",
        "drop the dev./staging./prod./test./local. prefix",
    ),
    r(
        "ONEX072",
        W,
        "`event_bus.subscribe` is a list",
        "write `subscribe:` as a list of `{topic: …}` entries",
    ),
    r(
        "ONEX075",
        E,
        "`effect_operations.operations` present and non-empty",
        "declare at least one operation",
    ),
    r(
        "ONEX076",
        E,
        "operations have operation_name and a known io_config.handler_type / http method",
        "use handler_type http, db, kafka or filesystem",
    ),
    r(
        "ONEX077",
        W,
        "retry_policy and effect execution_mode within limits",
        "max_retries 0-10, backoff fixed|exponential|linear, jitter 0-0.5",
    ),
    r(
        "ONEX080",
        E,
        "include path is relative without `..`",
        "use a path relative to the contract, inside its directory",
    ),
    r(
        "ONEX081",
        E,
        "include target exists, is readable and inside the base directory",
        "point the include at an existing file inside the contract's directory",
    ),
    r(
        "ONEX082",
        E,
        "no include cycle",
        "remove one include of the cycle",
    ),
    r(
        "ONEX083",
        E,
        "include nesting depth <= 10",
        "flatten the include chain",
    ),
    r(
        "ONEX084",
        E,
        "each included file <= 1 MiB",
        "split the included file",
    ),
    r(
        "ONEX085",
        E,
        "the `!include` argument is a plain string scalar",
        "write `key: !include relative/path.yaml`",
    ),
    r(
        "ONEX086",
        E,
        "the document expands (aliases and includes, repeats counted) to at most 1,000,000 nodes, 16 MiB of text and 1,000 includes",
        "use fewer aliases or includes; a fragment included many times is better written once and referenced by id",
    ),
    r(
        "ONEX090",
        E,
        "node manifest has every required field",
        "add the missing node.manifest.yaml field",
    ),
    r(
        "ONEX091",
        W,
        "manifest enums (lifecycle, meta_type, status, business_logic_pattern)",
        "use one of the documented values",
    ),
    r(
        "ONEX092",
        E,
        "manifest `hash` is 64 hex chars and `uuid` a UUID when set",
        "write a sha256 hex digest / a UUID",
    ),
    r(
        "ONEX093",
        W,
        "tool manifest `uuid` / `hash` null or absent",
        "fill in uuid and hash",
    ),
    r(
        "ONEX094",
        E,
        "tool manifest has tool_name, node_type, current_stable_version, versions",
        "add the missing tool.manifest.yaml field",
    ),
    r(
        "ONEX095",
        W,
        "files named by a manifest exist",
        "create the file or fix the path",
    ),
    r(
        "ONEX100",
        E,
        "stage and gate handlers are registered in the engine",
        "register the handler or fix its name",
    ),
    r(
        "ONEX101",
        E,
        "trigger and emitted event types are in the event catalogue",
        "add the event to the catalogue or fix its name",
    ),
    r(
        "ONEX102",
        E,
        "gate expressions parse and read known run-context fields",
        "fix the gate expression",
    ),
    r(
        "ONEX103",
        E,
        "handler parameters are ones the handler reads, required ones are given, and the handler accepts their values",
        "`onex handlers` lists every handler with its parameters",
    ),
    r(
        "ONEX104",
        E,
        "no id clash between stages, gates and graph nodes",
        "make stage and gate ids unique",
    ),
    r(
        "ONEX105",
        E,
        "gate `depends_on` names gates of the same stage, without cycles",
        "fix the gate dependency",
    ),
    r(
        "ONEX106",
        E,
        "the `onex:` block of an executable contract or event catalogue has the documented shape",
        "see docs/contracts.md for the keys of the `onex:` block",
    ),
    r(
        "ONEX107",
        E,
        "the event catalogue a workflow names loads, and its event types and namespace are its own",
        "fix the catalogue file or the `onex.catalog` path (relative to the contract)",
    ),
    r(
        "ONEX108",
        W,
        "a program a `command` step runs is found on this machine",
        "install the program, give its absolute path, or set `when_missing: skip`",
    ),
    r(
        "ONEX109",
        E,
        "workflows hosted together: each trigger routes to one workflow, their catalogues agree",
        "host the workflows in separate orchestrator groups, or give each its own trigger",
    ),
    r(
        "ONEX110",
        E,
        "a contract test file (`*.test.yaml`) has the documented shape",
        "see docs/contracts.md \"Testing a workflow\" for the keys of a test file",
    ),
    r(
        "ONEX111",
        E,
        "what a contract test names exists in its workflow: the workflow, trigger, stages, gates, event types",
        "name a contract file (relative to the test) or a hosted workflow, and its own stages, gates and events",
    ),
];

/// The registry entry of `code`, if it is one of ours.
pub fn rule(code: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.code == code)
}

/// Builds a diagnostic for `code` at `loc`, with the registry's severity and default help.
/// An unknown code (a programming error) becomes an error-severity finding rather than a panic.
pub fn make(code: &str, loc: &Location, pointer: &str, message: impl Into<String>) -> Diagnostic {
    let (severity, help) = match rule(code) {
        Some(info) => (info.severity, info.help),
        None => (Severity::Error, ""),
    };
    Diagnostic {
        code: code.to_string(),
        severity,
        message: message.into(),
        path: loc.path.clone(),
        pos: loc.pos,
        pointer: pointer.to_string(),
        help: help.to_string(),
    }
}
