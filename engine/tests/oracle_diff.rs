//! Differential test against ONEX's own verdict (docs/rules.md, "ONEX parity").
//!
//! The oracle is omnibase_core's pre-commit contract check, copied into `tests/oracle/` with its
//! MIT notice, driven by `tests/oracle/driver.py` in one Python process for every file (a Python
//! 3.12 with the pinned omnibase-core: `$ONEX_TEST_PY312`, else `/var/tmp/onex-py312/bin/python`).
//! Inputs: every fixture under `tests/fixtures/`, the ONEX corpus, and generated mutations of
//! them (deterministic seed). A file's verdict is pass/fail: onex fails it when it has an error.
//! Every disagreement must be listed, with its reason, in `tests/oracle/allow-list.toml`.
//! Without the Python the test says SKIPPED loudly and passes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use onex_engine::contract::{LoadOptions, ValidateOptions, load_file, validate_file};
use onex_engine::diag::Severity;
use serde_json::{Value, json};

/// Number of generated mutations (the brief asks for at least 2,000).
const MUTATIONS: usize = 2400;
const SEED: u64 = 0x0e7e_5eed;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> Option<PathBuf> {
    let p = std::env::var_os("ONEX_TEST_PY312")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/onex-py312/bin/python"));
    let ok = p.is_file()
        && Command::new(&p)
            .args(["-c", "import omnibase_core, pydantic, yaml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "\n!!!!!!!! SKIPPED oracle_diff: no Python 3.12 with omnibase-core at {} \
             (set ONEX_TEST_PY312; see nodes/generation/templates/README.md) !!!!!!!!\n",
            p.display()
        );
        return None;
    }
    Some(p)
}

/// SplitMix64: a tiny generator whose sequence never changes with a crate version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    v.sort();
    v
}

/// Every JSON pointer of `v` (the root included).
fn pointers(v: &Value, base: String, out: &mut Vec<String>) {
    out.push(base.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(
                    c,
                    format!("{base}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{base}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn mappings(v: &Value) -> Vec<String> {
    let mut all = Vec::new();
    pointers(v, String::new(), &mut all);
    all.into_iter()
        .filter(|p| v.pointer(p).is_some_and(Value::is_object))
        .collect()
}

fn set(v: &mut Value, pointer: &str, new: Value) {
    if pointer.is_empty() {
        *v = new;
    } else if let Some(slot) = v.pointer_mut(pointer) {
        *slot = new;
    }
}

fn remove(v: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.shift_remove(&key);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = key.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

fn other_type(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(42),
        json!(-1),
        json!(1.5),
        json!("text"),
        json!(""),
        json!(true),
        json!(null),
        json!([]),
        json!(["a", 1]),
        json!({}),
        json!({"k": "v"}),
    ])
    .clone()
}

const VERSIONS: &[&str] = &[
    r#"{"major": 1, "minor": 0, "patch": 0}"#,
    r#"{"major": "1", "minor": 0, "patch": 0}"#,
    r#"{"major": 1.0, "minor": 0, "patch": 0}"#,
    r#"{"major": 1.5, "minor": 0, "patch": 0}"#,
    r#"{"major": true, "minor": 0, "patch": 0}"#,
    r#"{"major": 1, "minor": 0, "patch": 0, "hotfix": 1}"#,
    r#"{"major": -1, "minor": 0, "patch": 0}"#,
    r#"{"major": 1, "minor": 0}"#,
    r#"{"major": "x", "minor": 0, "patch": 0}"#,
    r#"{"major": 1, "minor": 0, "patch": 0, "prerelease": "rc"}"#,
    r#"{"major": 1, "minor": 0, "patch": 0, "prerelease": ["rc", 1]}"#,
    r#"{"major": 1, "minor": 0, "patch": 0, "prerelease": ""}"#,
    r#"{"major": 1, "minor": 0, "patch": 0, "build": [1]}"#,
    r#"{"major": 1, "minor": 0, "patch": 0, "build": ["b1"]}"#,
    r#"{"major": " 2 ", "minor": "0", "patch": 0}"#,
    r#""1.0.0""#,
    r#""1.x""#,
    r#""2.3""#,
    "1.0",
    "true",
    "null",
    "[]",
];

const NODE_TYPES: &[&str] = &[
    "compute",
    "COMPUTE_GENERIC",
    "Effect",
    " reducer ",
    "orchestrator",
    "ORCHESTRATOR_GENERIC",
    "runtime_host",
    "TOOL_GENERIC",
    "tool",
    "gateway",
    "workflow",
    "unknown",
    "SERVICE_MESH",
    "",
];

const HANDLER_FIELDS: &[(&str, &[&str])] = &[
    (
        "/descriptor/purity",
        &[
            r#""pure""#,
            r#""impure""#,
            r#""PURE""#,
            r#""side_effecting""#,
            r#"" pure""#,
            "1",
        ],
    ),
    (
        "/descriptor/observability_level",
        &[r#""debug""#, r#""verbose""#, r#""Minimal""#, "null"],
    ),
    (
        "/descriptor/concurrency_policy",
        &[
            r#""singleflight""#,
            r#""serialized""#,
            r#""parallel_ok""#,
            r#""any""#,
        ],
    ),
    (
        "/descriptor/isolation_policy",
        &[r#""none""#, r#""vm""#, r#""jail""#],
    ),
    (
        "/descriptor/timeout_ms",
        &["-1", "0", r#""100""#, "1.5", "30000", "null"],
    ),
    (
        "/descriptor/idempotent",
        &[r#""yes""#, "2", "null", "true", r#""maybe""#],
    ),
    (
        "/descriptor/node_archetype",
        &[
            r#""compute""#,
            r#""effect""#,
            r#""COMPUTE""#,
            r#""saga""#,
            "3",
        ],
    ),
    (
        "/descriptor/retry_policy",
        &[
            r#"{"max_retries": -1}"#,
            r#"{"enabled": "on", "max_retries": "3"}"#,
            "[]",
            "null",
        ],
    ),
    (
        "/descriptor/circuit_breaker",
        &[
            r#"{"failure_threshold": 0}"#,
            r#"{"timeout_ms": 10}"#,
            r#""off""#,
        ],
    ),
    (
        "/input_model",
        &[
            r#"{"name": "ModelIn", "module": "m"}"#,
            r#""""#,
            r#""pkg.models.ModelIn""#,
            "42",
        ],
    ),
    ("/output_model", &[r#""pkg.Out""#, "[]", r#""  ""#]),
    (
        "/handler_id",
        &[
            r#""a""#,
            r#""a.1b""#,
            r#""compute.x""#,
            r#""effect.x""#,
            r#""node.any.thing""#,
            "7",
        ],
    ),
    ("/name", &[r#""""#, r#""Display Name""#, "12"]),
    (
        "/capability_inputs",
        &[
            r#"[{"alias": "db", "capability": "database"}, {"alias": "db", "capability": "cache"}]"#,
            r#"[{"alias": "", "capability": "x"}]"#,
            r#"[{"capability": "x"}]"#,
            r#"["db"]"#,
            r#"[{"alias": "a", "capability": "c", "requirements": {"must": []}}]"#,
        ],
    ),
    (
        "/capability_outputs",
        &[r#"["x", 1]"#, r#""x""#, r#"["x"]"#],
    ),
    ("/tags", &[r#"["a"]"#, r#""a""#, "[1]"]),
    ("/metadata", &[r#"{"a": 1}"#, "[]", "null"]),
    ("/supports_lifecycle", &[r#""yes""#, r#""sure""#, "0"]),
    (
        "/execution_constraints",
        &[r#"{"requires_before": "x"}"#, r#"{"must_run": "no"}"#, "[]"],
    ),
    ("/description", &["42", "null", r#""short""#]),
];

const FLAGS: &[&str] = &[
    "true",
    "false",
    r#""yes""#,
    r#""no""#,
    "1",
    "0",
    r#""maybe""#,
    "null",
];

fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("mutation menu entry is JSON")
}

/// One mutation of `doc`; returns what it did, and extra files (name, text) to write beside it.
fn mutate(doc: &mut Value, rng: &mut Rng, stem: &str) -> (String, Vec<(String, String)>) {
    let kind = rng.below(10);
    let mut extra = Vec::new();
    let what = match kind {
        0 => {
            let mut ps = Vec::new();
            pointers(doc, String::new(), &mut ps);
            let p = rng.pick(&ps[1.min(ps.len() - 1)..]).clone();
            set(doc, &p, other_type(rng));
            format!("type change at {p}")
        }
        1 => {
            let mut ps = Vec::new();
            pointers(doc, String::new(), &mut ps);
            let important = [
                "/contract_version",
                "/node_type",
                "/handler_id",
                "/name",
                "/descriptor",
                "/input_model",
                "/output_model",
                "/description",
            ];
            let p = if rng.below(2) == 0 {
                rng.pick(&important).to_string()
            } else {
                rng.pick(&ps).clone()
            };
            remove(doc, &p);
            format!("missing key {p}")
        }
        2 => {
            let maps = mappings(doc);
            let m = rng.pick(&maps).clone();
            let key = rng
                .pick(&[
                    "descriptoin",
                    "exection_mode",
                    "metadata",
                    "description",
                    "inputs",
                    "configuration",
                    "outputs",
                    "version",
                    "x_extra",
                    "handler_id",
                ])
                .to_string();
            let val = other_type(rng);
            if let Some(Value::Object(o)) = doc.pointer_mut(&m) {
                o.insert(key.clone(), val);
            }
            format!("extra key {m}/{key}")
        }
        3 => {
            let v = parse(rng.pick::<&str>(VERSIONS));
            let key = rng.pick(&["/contract_version", "/contract_version", "/node_version"]);
            if let Value::Object(o) = doc {
                o.insert(key[1..].to_string(), v.clone());
            }
            format!("version shape {key} = {v}")
        }
        4 | 5 => {
            let (p, menu) = *rng.pick(HANDLER_FIELDS);
            let v = parse(rng.pick::<&str>(menu));
            if doc.pointer(p).is_none()
                && let Some((parent, key)) = p.rsplit_once('/')
                && let Some(Value::Object(o)) = doc.pointer_mut(parent)
            {
                o.insert(key.to_string(), v.clone());
            } else {
                set(doc, p, v.clone());
            }
            format!("handler field {p} = {v}")
        }
        6 => {
            let mut done = String::from("no FSM states");
            for fsm in ["/state_machine/states", "/state_transitions/states"] {
                if let Some(Value::Array(states)) = doc.pointer_mut(fsm)
                    && !states.is_empty()
                {
                    let i = rng.below(states.len());
                    let t = parse(rng.pick::<&str>(FLAGS));
                    let r = parse(rng.pick::<&str>(FLAGS));
                    if let Value::Object(s) = &mut states[i] {
                        s.insert("is_terminal".into(), t.clone());
                        if rng.below(3) == 0 {
                            s.shift_remove("is_recoverable");
                            done = format!("{fsm}/{i} is_terminal={t}, no is_recoverable");
                        } else {
                            s.insert("is_recoverable".into(), r.clone());
                            done = format!("{fsm}/{i} is_terminal={t} is_recoverable={r}");
                        }
                    }
                }
            }
            done
        }
        7 => {
            let nt = *rng.pick(NODE_TYPES);
            set(doc, "/node_type", json!(nt));
            if let Value::Object(o) = doc {
                o.insert("node_type".into(), json!(nt));
            }
            format!("node_type = {nt:?}")
        }
        8 => {
            // Includes: a subtree moved to a fragment (same document), a missing target, an
            // escaping path, or a fragment with a duplicate key.
            let maps = mappings(doc);
            let p = rng.pick(&maps[1.min(maps.len() - 1)..]).clone();
            let frag = format!("{stem}_frag.yaml");
            let how = rng.below(4);
            let (target, text) = match how {
                0 => (
                    frag.clone(),
                    serde_json::to_string_pretty(doc.pointer(&p).unwrap_or(&Value::Null)).unwrap(),
                ),
                1 => (format!("{stem}_missing.yaml"), String::new()),
                2 => ("../outside.yaml".to_string(), String::new()),
                _ => (frag.clone(), "a: 1\nb: 2\na: 3\n".to_string()),
            };
            if !text.is_empty() {
                extra.push((frag, text));
            }
            if !p.is_empty() {
                set(doc, &p, json!(format!("__INCLUDE__{target}")));
            }
            format!("include {p} <- {target}")
        }
        _ => {
            // Indicator toggles: keep one contract indicator only, or drop them all.
            let keep = *rng.pick(&[
                "metadata",
                "inputs",
                "outputs",
                "configuration",
                "description",
                "",
            ]);
            if let Value::Object(o) = doc {
                for k in [
                    "contract_version",
                    "node_type",
                    "metadata",
                    "inputs",
                    "outputs",
                    "configuration",
                    "description",
                    "handler_id",
                ] {
                    if k != keep {
                        o.shift_remove(k);
                    }
                }
                if !keep.is_empty() && !o.contains_key(keep) {
                    o.insert(keep.into(), json!("x"));
                }
            }
            format!("only indicator {keep:?}")
        }
    };
    (what, extra)
}

/// JSON text (valid YAML 1.2 and 1.1 alike) with `!include` sentinels turned into tags.
fn render(doc: &Value) -> String {
    let text = serde_json::to_string_pretty(doc).unwrap();
    // `"__INCLUDE__x.yaml"` → `!include "x.yaml"` (a tag on a quoted scalar is valid in flow).
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find("\"__INCLUDE__") {
        out.push_str(&rest[..i]);
        out.push_str("!include \"");
        rest = &rest[i + "\"__INCLUDE__".len()..];
    }
    out.push_str(rest);
    out.push('\n');
    out
}

struct OnexVerdict {
    ok: bool,
    /// (code, pointer) of each error.
    errors: Vec<(String, String)>,
}

fn onex_verdict(path: &Path) -> OnexVerdict {
    let r = validate_file(path, &ValidateOptions::default(), None);
    let errors: Vec<(String, String)> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.code.clone(), d.pointer.clone()))
        .collect();
    OnexVerdict {
        ok: errors.is_empty(),
        errors,
    }
}

fn oracle(py: &Path, files: &[PathBuf]) -> BTreeMap<PathBuf, Vec<String>> {
    let mut child = Command::new(py)
        .arg(repo().join("tests/oracle/driver.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the oracle");
    {
        let mut stdin = child.stdin.take().unwrap();
        for f in files {
            writeln!(stdin, "{}", f.display()).unwrap();
        }
    }
    let out = child.wait_with_output().expect("oracle output");
    assert!(out.status.success(), "oracle driver failed");
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).expect("oracle JSON line");
        let errs = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap_or_default().to_string())
            .collect();
        m.insert(PathBuf::from(v["path"].as_str().unwrap()), errs);
    }
    m
}

#[derive(Debug, serde::Deserialize)]
struct AllowList {
    #[serde(default)]
    onex_stricter: Vec<OnexEntry>,
    #[serde(default)]
    oracle_stricter: Vec<OracleEntry>,
}

#[derive(Debug, serde::Deserialize)]
struct OnexEntry {
    code: String,
    /// Regex the error's JSON pointer must match (any pointer when absent).
    pointer: Option<String>,
    /// Regex the file (path under tests/fixtures, or seed and mutation) must match.
    path: Option<String>,
    reason: String,
}

#[derive(Debug, serde::Deserialize)]
struct OracleEntry {
    /// Regex over one oracle error message.
    pattern: String,
    /// Regex the file (path under tests/fixtures, or seed and mutation) must match.
    path: Option<String>,
    reason: String,
}

fn re_opt(s: Option<&str>) -> Option<regex::Regex> {
    s.map(|p| regex::Regex::new(p).unwrap())
}

fn opt_match(re: Option<&regex::Regex>, s: &str) -> bool {
    re.is_none_or(|r| r.is_match(s))
}

type OnexAllow = Vec<(OnexEntry, Option<regex::Regex>, Option<regex::Regex>)>;
type OracleAllow = Vec<(OracleEntry, regex::Regex, Option<regex::Regex>)>;

fn allow_list() -> (OnexAllow, OracleAllow) {
    let text = std::fs::read_to_string(repo().join("tests/oracle/allow-list.toml")).unwrap();
    let a: AllowList = toml::from_str(&text).expect("allow-list.toml parses");
    let onex = a
        .onex_stricter
        .into_iter()
        .map(|e| {
            assert!(!e.reason.trim().is_empty(), "{}: no reason", e.code);
            let re = re_opt(e.pointer.as_deref());
            let path = re_opt(e.path.as_deref());
            (e, re, path)
        })
        .collect();
    let oracle = a
        .oracle_stricter
        .into_iter()
        .map(|e| {
            assert!(!e.reason.trim().is_empty(), "{}: no reason", e.pattern);
            let re = regex::Regex::new(&e.pattern).unwrap();
            let path = re_opt(e.path.as_deref());
            (e, re, path)
        })
        .collect();
    (onex, oracle)
}

#[test]
fn onex_agrees_with_the_onex_oracle() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = repo().join("tests/fixtures");
    let mut files = yaml_files(&fixtures);
    // Seeds: every fixture and corpus file that loads to a mapping.
    let seeds: Vec<(PathBuf, Value)> = files
        .iter()
        .filter_map(|f| {
            let l = load_file(f, LoadOptions::default());
            l.doc
                .map(|d| d.value)
                .filter(Value::is_object)
                .map(|v| (f.clone(), v))
        })
        .collect();
    assert!(seeds.len() > 50, "only {} seeds", seeds.len());
    let mut rng = Rng(SEED);
    let mut described: BTreeMap<PathBuf, String> = BTreeMap::new();
    for i in 0..MUTATIONS {
        let (src, seed) = rng.pick(&seeds);
        let mut doc = seed.clone();
        let stem = format!("m{i:04}");
        let (what, extra) = mutate(&mut doc, &mut rng, &stem);
        // A second mutation on one in four, so that changes combine.
        let what = if rng.below(4) == 0 {
            let (w2, e2) = mutate(&mut doc, &mut rng, &format!("{stem}b"));
            for (n, t) in e2 {
                std::fs::write(tmp.path().join(n), t).unwrap();
            }
            format!("{what}; {w2}")
        } else {
            what
        };
        for (n, t) in extra {
            std::fs::write(tmp.path().join(n), t).unwrap();
        }
        let p = tmp.path().join(format!("{stem}.yaml"));
        std::fs::write(&p, render(&doc)).unwrap();
        let rel = src.strip_prefix(&fixtures).unwrap_or(src);
        described.insert(p.clone(), format!("{} ({what})", rel.display()));
        files.push(p);
    }
    let verdicts = oracle(&py, &files);
    let (onex_allow, oracle_allow) = allow_list();
    let mut agree = 0usize;
    let mut allowed: BTreeMap<String, usize> = BTreeMap::new();
    let mut unlisted = Vec::new();
    for f in &files {
        let o_errs = verdicts
            .get(f)
            .unwrap_or_else(|| panic!("no oracle verdict for {}", f.display()));
        let ours = onex_verdict(f);
        if ours.ok == o_errs.is_empty() {
            agree += 1;
            continue;
        }
        let label = described
            .get(f)
            .cloned()
            .unwrap_or_else(|| f.strip_prefix(&fixtures).unwrap_or(f).display().to_string());
        if !ours.ok {
            // onex fails, ONEX passes: every error must be a listed onex-only rule.
            let mut why = Vec::new();
            let all = ours.errors.iter().all(|(code, ptr)| {
                onex_allow.iter().any(|(e, re, path)| {
                    let hit = e.code == *code
                        && opt_match(re.as_ref(), ptr)
                        && opt_match(path.as_ref(), &label);
                    if hit {
                        why.push(e.code.clone());
                    }
                    hit
                })
            });
            if all {
                why.sort();
                why.dedup();
                *allowed
                    .entry(format!("onex: {}", why.join("+")))
                    .or_default() += 1;
            } else {
                unlisted.push(format!(
                    "onex fails, ONEX passes: {label}\n    onex errors: {:?}",
                    ours.errors
                ));
            }
        } else {
            let hit = |re: &regex::Regex, path: &Option<regex::Regex>, m: &str| {
                re.is_match(m) && opt_match(path.as_ref(), &label)
            };
            let all = o_errs
                .iter()
                .all(|m| oracle_allow.iter().any(|(_, re, path)| hit(re, path, m)));
            if all {
                let which: Vec<&str> = oracle_allow
                    .iter()
                    .filter(|(_, re, path)| o_errs.iter().any(|m| hit(re, path, m)))
                    .map(|(e, _, _)| e.pattern.as_str())
                    .collect();
                *allowed
                    .entry(format!("oracle: {}", which.join(" + ")))
                    .or_default() += 1;
            } else {
                unlisted.push(format!(
                    "ONEX fails, onex passes: {label}\n    ONEX errors: {:?}",
                    o_errs
                ));
            }
        }
    }
    let total = files.len();
    eprintln!(
        "oracle agreement: {agree}/{total} files ({} fixtures and corpus, {MUTATIONS} mutations); \
         {} allow-listed, {} unlisted",
        total - MUTATIONS,
        allowed.values().sum::<usize>(),
        unlisted.len()
    );
    for (k, n) in &allowed {
        eprintln!("  allowed {n:5}  {k}");
    }
    // `ONEX_ORACLE_DUMP=FILE` writes every unlisted disagreement (for reviewing the allow-list).
    if let Some(dump) = std::env::var_os("ONEX_ORACLE_DUMP") {
        std::fs::write(dump, unlisted.join("\n")).unwrap();
    }
    assert!(
        unlisted.is_empty(),
        "{} disagreement(s) with ONEX not in tests/oracle/allow-list.toml:\n{}",
        unlisted.len(),
        unlisted
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
