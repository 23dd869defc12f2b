//! Acceptance test of the prompt parser (docs/generation.md §3) against the 140 prompts of
//! `tests/fixtures/acceptance/prompts.tsv`, checking every binding rule of its README (item 11, in docs/generation.md §3.9):
//! every non-empty expected_* cell, `expect_error`, and the numeric `src:` bounds (confidence
//! bounds and ranges, "higher/lower than" another case, requirement counts, lengths).
//!
//! The notes column is read by a small strict parser: a note that looks binding (a number, a
//! comparison, "confidence", "requirement", "chars", …) and matches no known form fails the test,
//! so nothing is skipped silently. Name, class and gate notes are not acceptance checks
//! (docs/generation.md §3.9, acceptance checks); they are still compared and printed as "non-binding" lines, never failing.
//! All failing rows are reported at once.
//!
//! Also: determinism (same prompt → same result, across threads) and a property test (arbitrary
//! text never panics, is accepted or rejected with INVALID_PROMPT, and yields valid identifiers).

#[path = "../../../tests/support/acceptance.rs"]
mod acceptance;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use onex_generation::prompt::naming::{
    model_input_class, node_class, node_dir_name, pascal, snake,
};
use onex_generation::prompt::parse::{INVALID_PROMPT, word_count};
use onex_generation::prompt::{NameSource, NodeType, ParsedPrompt, PromptError, parse};
use proptest::prelude::*;
use regex::Regex;

// ---------------------------------------------------------------------------------------------
// The data file

struct Row {
    in_repo: bool,
    line: usize,
    id: String,
    prompt: String,
    node_type: String,
    name: String,
    domain: String,
    systems: String,
    expect_error: String,
    notes: String,
}

use acceptance::unescape;

/// Every case (the in-repo file, plus `../shared`'s extra ids when present), header and column
/// count checked by the reader.
static ROWS: LazyLock<Vec<Row>> = LazyLock::new(|| {
    acceptance::cases()
        .into_iter()
        .map(|c| {
            let cell = |i: usize| c.cells[i].clone();
            Row {
                in_repo: c.in_repo(),
                line: c.line,
                node_type: cell(3),
                name: cell(4),
                domain: cell(5),
                systems: cell(6),
                expect_error: cell(7),
                notes: cell(8),
                id: c.id,
                prompt: c.prompt,
            }
        })
        .collect()
});

// ---------------------------------------------------------------------------------------------
// Notes

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Ge,
    Le,
    Gt,
    Lt,
}

impl Cmp {
    fn parse(op: &str) -> Cmp {
        match op {
            ">=" | "≥" => Cmp::Ge,
            "<=" | "≤" => Cmp::Le,
            ">" => Cmp::Gt,
            "<" => Cmp::Lt,
            other => unreachable!("operator {other} is not in the note regexes"),
        }
    }
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Ge => a >= b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Lt => a < b,
        }
    }
}

/// One check a note asks for.
#[derive(Debug, Clone)]
enum Check {
    // binding (docs/generation.md §3.9, acceptance checks)
    Confidence(Cmp, f64),
    ConfidenceVs {
        higher: bool,
        other: String,
    },
    NameConfidence(f64),
    TypeConfidence(f64),
    MinRequirements(usize),
    MinDescriptionChars(usize),
    /// The rejection message states the prompt's length (and the minimum).
    ShortMessage {
        chars: usize,
        minimum: Option<usize>,
    },
    // non-binding (docs/generation.md §3.9, acceptance checks: follow from the spec rule that decides them)
    NodeName(String),
    NameContainsAny(Vec<String>),
    ServiceName(String),
    NodeClass(String),
    NodeDir(String),
    ModelInput(String),
    RoundTrip(String, String, String),
    Domain(String),
    DomainContains(String),
    SystemsExactly(Vec<String>),
    TypeInferred,
    ExplicitName,
    FewerWords(usize),
    EmptyMessage,
    NonEmptyNameDomain,
}

impl Check {
    fn binding(&self) -> bool {
        matches!(
            self,
            Check::Confidence(..)
                | Check::ConfidenceVs { .. }
                | Check::NameConfidence(_)
                | Check::TypeConfidence(_)
                | Check::MinRequirements(_)
                | Check::MinDescriptionChars(_)
                | Check::ShortMessage { .. }
        )
    }
}

fn re(p: &str) -> Regex {
    Regex::new(p).unwrap()
}

const NUM: &str = r"(\d+(?:\.\d+)?|\.\d+)";

/// Forms a `src:` note may take, tried in order on what earlier forms left. Each returns the
/// checks for one match.
type Form = (Regex, MakeChecks);
type MakeChecks = fn(&regex::Captures) -> Vec<Check>;

fn num(c: &regex::Captures, i: usize) -> f64 {
    c[i].parse().unwrap()
}

static FORMS: LazyLock<Vec<Form>> = LazyLock::new(|| {
    let forms: Vec<(String, MakeChecks)> = vec![
        (format!(r"(?i)\bname confidence\s+{NUM}"), |c| {
            vec![Check::NameConfidence(num(c, 1))]
        }),
        (format!(r"(?i)\btype from default \({NUM}\)"), |c| {
            vec![Check::TypeConfidence(num(c, 1))]
        }),
        (
            format!(r"(?i){NUM}\s*(<=|≤|<)\s*confidence\s*(<=|≤|<)\s*{NUM}"),
            |c| {
                // a <= confidence <= b: confidence >= a (or >), confidence <= b (or <).
                let lo = if &c[2] == "<" { Cmp::Gt } else { Cmp::Ge };
                vec![
                    Check::Confidence(lo, num(c, 1)),
                    Check::Confidence(Cmp::parse(&c[3]), num(c, 4)),
                ]
            },
        ),
        (
            format!(r"(?i)\bconfidence\s*(>=|<=|≥|≤|>|<)\s*{NUM}"),
            |c| vec![Check::Confidence(Cmp::parse(&c[1]), num(c, 2))],
        ),
        (format!(r"(?i)\bconfidence\s+{NUM}\s*[-–]\s*{NUM}"), |c| {
            vec![
                Check::Confidence(Cmp::Ge, num(c, 1)),
                Check::Confidence(Cmp::Le, num(c, 2)),
            ]
        }),
        (
            format!(r"(?i)\bconfidence\b[^;()]*\(\s*(>=|<=|≥|≤|>|<)\s*{NUM}\s*\)"),
            |c| vec![Check::Confidence(Cmp::parse(&c[1]), num(c, 2))],
        ),
        (
            r"(?i)\bconfidence\s+(higher|lower)\s+than\s+([A-Z]\d+)(?:\s*\('[^']*'\))?".into(),
            |c| {
                vec![Check::ConfidenceVs {
                    higher: c[1].eq_ignore_ascii_case("higher"),
                    other: c[2].to_string(),
                }]
            },
        ),
        (r"(?i)(?:>=|≥)\s*(\d+)\s*requirements?\b".into(), |c| {
            vec![Check::MinRequirements(c[1].parse().unwrap())]
        }),
        (
            r"(?i)\bdescription\s*(?:>=|≥)\s*(\d+)\s*chars?\b".into(),
            |c| vec![Check::MinDescriptionChars(c[1].parse().unwrap())],
        ),
        (r"(?i)\btoo short \((\d+) chars?\)".into(), |c| {
            vec![Check::ShortMessage {
                chars: c[1].parse().unwrap(),
                minimum: None,
            }]
        }),
        (
            r"(?i)\b(\d+) chars? is below the (\d+)-char minimum".into(),
            |c| {
                vec![Check::ShortMessage {
                    chars: c[1].parse().unwrap(),
                    minimum: Some(c[2].parse().unwrap()),
                }]
            },
        ),
        // non-binding forms
        (r"(?i)\bexpect G7 warning \(<(\d+) words\)".into(), |c| {
            vec![Check::FewerWords(c[1].parse().unwrap())]
        }),
        (
            r"\bgenerates Model([A-Za-z0-9]+)Input \(node_name ([A-Za-z0-9]+)\)".into(),
            |c| {
                vec![
                    Check::ModelInput(format!("Model{}Input", &c[1])),
                    Check::NodeName(c[2].to_string()),
                ]
            },
        ),
        (r"\bnode_name ([A-Za-z0-9]+)".into(), |c| {
            vec![Check::NodeName(c[1].to_string())]
        }),
        (r"\bnode class (Node[A-Za-z0-9]+)".into(), |c| {
            vec![Check::NodeClass(c[1].to_string())]
        }),
        (r"\bnode dir (node_[a-z0-9_]+)".into(), |c| {
            vec![Check::NodeDir(c[1].to_string())]
        }),
        (r"\bservice name contains '([A-Za-z0-9_]+)'".into(), |c| {
            vec![Check::NameContainsAny(vec![c[1].to_string()])]
        }),
        (
            r"\bname contains ([A-Za-z0-9_]+)(?: or ([A-Za-z0-9_]+))?".into(),
            |c| {
                let mut v = vec![c[1].to_string()];
                if let Some(m) = c.get(2) {
                    v.push(m.as_str().to_string());
                }
                vec![Check::NameContainsAny(v)]
            },
        ),
        (r"\bspec rule \d gives ([a-z0-9_]+)".into(), |c| {
            vec![Check::ServiceName(c[1].to_string())]
        }),
        (
            r"\b([A-Za-z0-9]+) -> ([a-z0-9_]+) -> ([A-Za-z0-9]+)".into(),
            |c| {
                vec![Check::RoundTrip(
                    c[1].to_string(),
                    c[2].to_string(),
                    c[3].to_string(),
                )]
            },
        ),
        (r"\bdomain contains '([a-z_]+)'".into(), |c| {
            vec![Check::DomainContains(c[1].to_string())]
        }),
        (r"^domain ([a-z_]+)$".into(), |c| {
            vec![Check::Domain(c[1].to_string())]
        }),
        (
            r"\bexternal systems exactly ([A-Za-z0-9]+(?:, *[A-Za-z0-9]+)*)".into(),
            |c| {
                vec![Check::SystemsExactly(
                    c[1].split(',').map(|s| s.trim().to_string()).collect(),
                )]
            },
        ),
        (
            r"\btype inferred from '[a-z]+'(?:/'[a-z]+')*".into(),
            |_| vec![Check::TypeInferred],
        ),
        (
            r"^rejected (?:as empty|\(whitespace only\))$".into(),
            |_| vec![Check::EmptyMessage],
        ),
        (
            r"\bnon-empty name and domain\b|\bany non-empty domain\b".into(),
            |_| vec![Check::NonEmptyNameDomain],
        ),
        // wording without a figure ("high confidence"): informational
        (r"(?i)\b(?:high|low)[- ]confidence\b".into(), |_| vec![]),
    ];
    forms.into_iter().map(|(p, f)| (re(&p), f)).collect()
});

/// What makes leftover note text look like a binding figure that no form understood.
static BINDING_LOOKING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\d|[<>≥≤=]|\bconfidence\b|\brequirements?\b|\bchars?\b|\bcharacters?\b|\blength\b|\bhigher\b|\blower\b|\bwords?\b",
    )
});
/// Identifiers with digits (G7, S3, v1_0_0, node_x) and quoted text are not figures.
static NOT_A_FIGURE: LazyLock<Regex> =
    LazyLock::new(|| re(r"'[^']*'|\b[A-Za-z_][A-Za-z_]*\d[A-Za-z0-9_.]*\b"));
static PREFIX: LazyLock<Regex> = LazyLock::new(|| re(r"^([a-z]+):\s*(.*)$"));

/// The checks of a notes cell, or the note text nothing understood.
fn parse_notes(notes: &str) -> Result<Vec<Check>, String> {
    let mut checks = Vec::new();
    let mut prefix = "src".to_string();
    for segment in notes.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let mut body = segment.to_string();
        if let Some(c) = PREFIX.captures(segment) {
            prefix = c[1].to_string();
            body = c[2].to_string();
        }
        match prefix.as_str() {
            // Not acceptance checks by rule (README 9, 10).
            "info" | "normalised" | "override" | "spec" => continue,
            "explicit" if body == "name" => {
                checks.push(Check::ExplicitName);
                continue;
            }
            "src" => {}
            other => return Err(format!("unknown note prefix '{other}:' in '{segment}'")),
        }
        let mut rest = body.clone();
        for (regex, make) in FORMS.iter() {
            // Collect first, then blank what matched, so one form cannot match twice.
            let found: Vec<(std::ops::Range<usize>, Vec<Check>)> = regex
                .captures_iter(&rest)
                .map(|c| (c.get(0).unwrap().range(), make(&c)))
                .collect();
            for (range, cs) in found.into_iter().rev() {
                checks.extend(cs);
                rest.replace_range(range.clone(), &" ".repeat(range.len()));
            }
        }
        let leftover = NOT_A_FIGURE.replace_all(&rest, " ");
        if BINDING_LOOKING.is_match(&leftover) {
            return Err(format!(
                "unrecognised binding note '{segment}' (left over: '{}')",
                leftover.split_whitespace().collect::<Vec<_>>().join(" ")
            ));
        }
    }
    Ok(checks)
}

// ---------------------------------------------------------------------------------------------
// The acceptance run

fn summary(p: &ParsedPrompt) -> String {
    format!(
        "type {} ({}), name {} / {} ({:?}, {}), domain {} ({}), systems {:?}, {} requirement(s) {:?}, confidence {}",
        p.node_type,
        p.type_confidence,
        p.node_name,
        p.service_name,
        p.name_source,
        p.name_confidence,
        p.domain,
        p.domain_confidence,
        p.external_systems,
        p.functional_requirements.len(),
        p.functional_requirements,
        p.confidence_score
    )
}

/// Problems of one check (empty when it holds).
fn run_check(
    check: &Check,
    result: &Result<ParsedPrompt, PromptError>,
    prompt: &str,
    all: &BTreeMap<String, Result<ParsedPrompt, PromptError>>,
) -> Option<String> {
    if let Check::ShortMessage { chars, minimum } = check {
        let want = match minimum {
            Some(m) => format!("({chars} characters, minimum {m})"),
            None => format!("({chars} characters"),
        };
        return match result {
            Err(e) if e.message.contains(&want) => None,
            Err(e) => Some(format!("rejection message '{}' lacks '{want}'", e.message)),
            Ok(_) => Some(format!("accepted, but the note says rejected {want}")),
        };
    }
    if let Check::EmptyMessage = check {
        return match result {
            Err(e) if e.message == "Prompt is empty" => None,
            Err(e) => Some(format!(
                "rejection message '{}', expected 'Prompt is empty'",
                e.message
            )),
            Ok(_) => Some("accepted, but the note says rejected as empty".into()),
        };
    }
    if let Check::FewerWords(n) = check {
        let w = word_count(prompt);
        return (w >= *n).then(|| format!("{w} words, note says < {n} (G7 warning)"));
    }
    let Ok(p) = result else {
        return Some(format!("{check:?} cannot hold: the prompt was rejected"));
    };
    let fail = |ok: bool, msg: String| (!ok).then_some(msg);
    match check {
        Check::Confidence(cmp, x) => fail(
            cmp.holds(p.confidence_score, *x),
            format!("confidence {} is not {cmp:?} {x}", p.confidence_score),
        ),
        Check::ConfidenceVs { higher, other } => match all.get(other) {
            Some(Ok(o)) => {
                let ok = if *higher {
                    p.confidence_score > o.confidence_score
                } else {
                    p.confidence_score < o.confidence_score
                };
                fail(
                    ok,
                    format!(
                        "confidence {} is not {} than {other}'s {}",
                        p.confidence_score,
                        if *higher { "higher" } else { "lower" },
                        o.confidence_score
                    ),
                )
            }
            Some(Err(e)) => Some(format!("{other} was rejected ({e}), cannot compare")),
            None => Some(format!("note names unknown case {other}")),
        },
        Check::NameConfidence(x) => fail(
            p.name_confidence == *x,
            format!("name confidence {} ≠ {x}", p.name_confidence),
        ),
        Check::TypeConfidence(x) => fail(
            p.type_confidence == *x,
            format!("type confidence {} ≠ {x}", p.type_confidence),
        ),
        Check::MinRequirements(n) => fail(
            p.functional_requirements.len() >= *n,
            format!(
                "{} requirement(s) {:?}, expected ≥ {n}",
                p.functional_requirements.len(),
                p.functional_requirements
            ),
        ),
        Check::MinDescriptionChars(n) => fail(
            p.description.chars().count() >= *n,
            format!("description '{}' shorter than {n} chars", p.description),
        ),
        Check::NodeName(n) => fail(
            p.node_name == *n,
            format!("node_name {} ≠ {n}", p.node_name),
        ),
        Check::NameContainsAny(v) => fail(
            v.iter().any(|x| {
                let x = x.to_lowercase();
                p.node_name.to_lowercase().contains(&x) || p.service_name.contains(&x)
            }),
            format!(
                "name {} / {} contains none of {v:?}",
                p.node_name, p.service_name
            ),
        ),
        Check::ServiceName(s) => fail(
            p.service_name == *s,
            format!("service_name {} ≠ {s}", p.service_name),
        ),
        Check::NodeClass(c) => {
            let got = node_class(&p.node_name, p.node_type);
            fail(got == *c, format!("node class {got} ≠ {c}"))
        }
        Check::NodeDir(d) => {
            let got = node_dir_name(&p.domain, &p.service_name, p.node_type);
            fail(got == *d, format!("node dir {got} ≠ {d}"))
        }
        Check::ModelInput(m) => {
            let got = model_input_class(&p.node_name);
            fail(got == *m, format!("input model {got} ≠ {m}"))
        }
        Check::RoundTrip(a, b, c) => fail(
            p.node_name == *a && snake(a) == *b && pascal(b) == *c,
            format!(
                "node_name {}, snake({a}) = {}, pascal({b}) = {} (expected {a} -> {b} -> {c})",
                p.node_name,
                snake(a),
                pascal(b)
            ),
        ),
        Check::Domain(d) => fail(p.domain == *d, format!("domain {} ≠ {d}", p.domain)),
        Check::DomainContains(d) => fail(
            p.domain.contains(d.as_str()),
            format!("domain {} lacks '{d}'", p.domain),
        ),
        Check::SystemsExactly(v) => fail(
            p.external_systems == *v,
            format!("systems {:?} ≠ exactly {v:?}", p.external_systems),
        ),
        Check::TypeInferred => fail(
            p.type_confidence < 0.9,
            format!(
                "type confidence {} is not an inferred one",
                p.type_confidence
            ),
        ),
        Check::ExplicitName => fail(
            p.name_source == NameSource::Explicit,
            format!("name source {:?}, expected explicit", p.name_source),
        ),
        Check::NonEmptyNameDomain => fail(
            !p.service_name.is_empty() && !p.node_name.is_empty() && !p.domain.is_empty(),
            "empty name or domain".into(),
        ),
        Check::ShortMessage { .. } | Check::EmptyMessage | Check::FewerWords(_) => None,
    }
}

#[test]
fn acceptance_prompts() {
    let rows = &*ROWS;
    assert_eq!(
        rows.iter().filter(|r| r.in_repo).count(),
        140,
        "tests/fixtures/acceptance/prompts.tsv holds 140 prompts"
    );
    let results: BTreeMap<String, Result<ParsedPrompt, PromptError>> = rows
        .iter()
        .map(|r| (r.id.clone(), parse(&r.prompt, None)))
        .collect();
    assert_eq!(results.len(), rows.len(), "case ids are unique");

    let mut failures = String::new();
    let mut soft = String::new();
    let mut checked = 0usize;
    for row in rows {
        let result = &results[&row.id];
        let mut problems: Vec<String> = Vec::new();
        let mut soft_problems: Vec<String> = Vec::new();

        if row.expect_error.is_empty() {
            match result {
                Err(e) => problems.push(format!("rejected: {e}")),
                Ok(p) => {
                    if !row.node_type.is_empty() {
                        match NodeType::parse(&row.node_type) {
                            Some(t) if t == p.node_type => {}
                            Some(_) => problems.push(format!(
                                "node_type {}, expected {}",
                                p.node_type, row.node_type
                            )),
                            None => problems.push(format!(
                                "expected_node_type '{}' is not a node type",
                                row.node_type
                            )),
                        }
                    }
                    if !row.name.is_empty() && p.service_name != row.name {
                        problems.push(format!(
                            "service_name {}, expected {}",
                            p.service_name, row.name
                        ));
                    }
                    if !row.domain.is_empty() && p.domain != row.domain {
                        problems.push(format!("domain {}, expected {}", p.domain, row.domain));
                    }
                    if !row.systems.is_empty() {
                        let missing: Vec<&str> = row
                            .systems
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !p.external_systems.iter().any(|x| x == s))
                            .collect();
                        if !missing.is_empty() {
                            problems.push(format!(
                                "external systems {:?} lack {missing:?}",
                                p.external_systems
                            ));
                        }
                    }
                }
            }
        } else {
            assert!(
                row.node_type.is_empty()
                    && row.name.is_empty()
                    && row.domain.is_empty()
                    && row.systems.is_empty(),
                "{}: expect_error rows have no expected_* cells (README 7)",
                row.id
            );
            match result {
                Err(e) if e.code == row.expect_error && e.code == INVALID_PROMPT => {}
                Err(e) => problems.push(format!("error {}, expected {}", e.code, row.expect_error)),
                Ok(p) => problems.push(format!(
                    "accepted, expected {}: {}",
                    row.expect_error,
                    summary(p)
                )),
            }
        }

        match parse_notes(&row.notes) {
            Err(e) => problems.push(e),
            Ok(checks) => {
                for c in &checks {
                    checked += 1;
                    if let Some(msg) = run_check(c, result, &row.prompt, &results) {
                        if c.binding() {
                            problems.push(msg);
                        } else {
                            soft_problems.push(msg);
                        }
                    }
                }
            }
        }

        let actual = match result {
            Ok(p) => summary(p),
            Err(e) => format!("{}: {}", e.code, e.message),
        };
        let expected = format!(
            "type '{}', name '{}', domain '{}', systems '{}', error '{}', notes '{}'",
            row.node_type, row.name, row.domain, row.systems, row.expect_error, row.notes
        );
        if !problems.is_empty() {
            let _ = writeln!(
                failures,
                "\n{} (line {}): {:?}\n  expected: {expected}\n  actual:   {actual}\n  - {}",
                row.id,
                row.line,
                row.prompt,
                problems.join("\n  - ")
            );
        }
        if !soft_problems.is_empty() {
            let _ = writeln!(
                soft,
                "{} {:?}: {}",
                row.id,
                row.prompt,
                soft_problems.join("; ")
            );
        }
    }
    if !soft.is_empty() {
        eprintln!("non-binding notes differ (docs/generation.md §3.9: informational):\n{soft}");
    }
    eprintln!("{} rows, {checked} note checks", rows.len());
    assert!(failures.is_empty(), "failing acceptance rows:{failures}");
}

#[test]
fn notes_parser_is_strict() {
    // Known forms.
    let c = parse_notes("src: node_name X; confidence>=0.8; override: anything 12 goes").unwrap();
    assert_eq!(c.len(), 2);
    assert!(matches!(c[1], Check::Confidence(Cmp::Ge, x) if x == 0.8));
    let c = parse_notes("src: 0.4<=confidence<=0.8").unwrap();
    assert_eq!(c.len(), 2);
    assert!(matches!(
        parse_notes("src: >=3 requirements").unwrap()[0],
        Check::MinRequirements(3)
    ));
    assert!(matches!(
        parse_notes("src: low-confidence example (<0.5)").unwrap()[0],
        Check::Confidence(Cmp::Lt, x) if x == 0.5
    ));
    assert!(
        parse_notes("src: G2 passes; usage example only")
            .unwrap()
            .is_empty()
    );
    assert!(parse_notes("info: doc confidence 0.82").unwrap().is_empty());
    // Anything that looks like a figure but matches no form is an error, never skipped.
    for bad in [
        "src: confidence about 0.7",
        "src: at least 3 requirements",
        "src: description <= 80 chars",
        "src: takes 5 seconds",
        "src: ok; 2 words",
        "typo: confidence>=0.8",
    ] {
        assert!(parse_notes(bad).is_err(), "{bad} must not be accepted");
    }
}

#[test]
fn unescape_cells() {
    assert_eq!(unescape(r"a\nb\tc\rd\\e\q"), "a\nb\tc\rd\\e\\q");
    assert_eq!(unescape(r"end\"), "end\\");
}

#[test]
fn parsing_is_deterministic() {
    let first: Vec<_> = ROWS.iter().map(|r| parse(&r.prompt, None)).collect();
    let again: Vec<_> = ROWS.iter().map(|r| parse(&r.prompt, None)).collect();
    assert_eq!(first, again);
    // Another thread (a fresh thread-local state, if any existed) gives the same results too.
    let other = std::thread::spawn(|| {
        ROWS.iter()
            .map(|r| parse(&r.prompt, None))
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    assert_eq!(first, other);
}

#[test]
fn long_prompts_parse() {
    // 10 000 characters exactly is accepted; a keyword-dense prompt exercises every scan.
    let unit = "Create EFFECT node called OrderWriter that writes to PostgreSQL, caches in Redis; should store orders; ";
    let mut s = unit.repeat(10_000 / unit.len());
    s.push_str(&".".repeat(10_000 - s.len()));
    let p = parse(&s, None).unwrap();
    assert_eq!(p.service_name, "order_writer");
    // Repeated requirements are de-duplicated.
    assert_eq!(p.functional_requirements, ["store orders"]);
    assert_eq!(p.external_systems, ["PostgreSQL", "Redis"]);
    assert_eq!(p.description.chars().count(), 1000);
    s.push('x');
    assert_eq!(parse(&s, None).unwrap_err().message, "Prompt too long");
    // Multi-byte characters count as one each; nothing ASCII survives for a name.
    let wide = "é".repeat(10_000);
    let p = parse(&wide, None).unwrap();
    assert_eq!(
        (p.service_name.as_str(), p.name_source),
        ("generated_service", NameSource::Fallback)
    );
}

/// A 10 000-character prompt of one unit repeated.
fn repeated(unit: &str) -> String {
    let mut s = unit.repeat(10_000 / unit.chars().count());
    s.push_str(&".".repeat(10_000 - s.chars().count()));
    s
}

#[test]
fn adversarial_long_prompts() {
    // Every modal starts a phrase running to the end: 10 distinct requirements, the cap.
    let p = parse(&repeated("should x "), None).unwrap();
    assert_eq!(p.functional_requirements.len(), 10);
    // Every verb phrase is the instruction itself: no requirement at all.
    let p = parse(&repeated("Create EFFECT node "), None).unwrap();
    assert!(p.functional_requirements.is_empty());
    assert_eq!(p.node_type, NodeType::Effect);
    // Thousands of refused `N node` / `for N` / `called N` matches.
    for unit in [
        "A node ",
        "for ",
        "called X ",
        "no ",
        "in a_b ",
        "- x\n",
        "aB",
    ] {
        let p = parse(&repeated(unit), None).unwrap();
        assert!(
            SERVICE.is_match(&p.service_name),
            "{unit:?}: {}",
            p.service_name
        );
    }
}

static SERVICE: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"));
static PASCAL: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Z][A-Za-z0-9]*$"));

/// Text built from parser vocabulary, unicode, controls and punctuation.
fn prompt_like() -> impl Strategy<Value = String> {
    let vocab = prop::sample::select(vec![
        "EFFECT",
        "compute",
        "Reducer",
        "orchestrator",
        "node",
        "nodes",
        "called",
        "named",
        "Name:",
        "domain:",
        "in the",
        "domain",
        "for",
        "no",
        "not",
        "without",
        "PostgreSQL",
        "redis",
        "cache",
        "API",
        "http",
        "S3",
        "smtp",
        "kafka",
        "event stream",
        "writes",
        "reads",
        "should",
        "must",
        "and",
        "-",
        "*",
        "1.",
        "2)",
        "•",
        ".",
        ",",
        ";",
        ":",
        "(",
        ")",
        "_",
        "\n",
        "\t",
        "\r",
        "\u{0}",
        "\u{202E}",
        "é",
        "İ",
        "ß",
        "日本",
        "🚀",
        "DatabaseWriter",
        "S3FileUploader",
        "HTTPAPI",
        "my-service-name",
        "data_services",
        "3d",
        "Create",
        "a",
        "new",
        "write",
        "the",
    ]);
    let piece = prop_oneof![
        4 => vocab.prop_map(str::to_string),
        1 => "\\PC{0,8}",
        1 => "[\\x00-\\x20]{1,3}",
        1 => "[A-Z][a-z]+[A-Z][a-z]+",
    ];
    prop::collection::vec(piece, 0..120).prop_map(|v| v.join(" "))
}

fn check_invariants(s: &str) -> Result<(), TestCaseError> {
    match parse(s, None) {
        Err(e) => {
            prop_assert_eq!(e.code, INVALID_PROMPT);
            let n = s.trim().chars().count();
            prop_assert!(
                !(10..=10_000).contains(&n),
                "rejected a {} char prompt: {}",
                n,
                e
            );
        }
        Ok(p) => {
            prop_assert!(
                SERVICE.is_match(&p.service_name),
                "service {:?}",
                p.service_name
            );
            prop_assert!(PASCAL.is_match(&p.node_name), "node_name {:?}", p.node_name);
            prop_assert!(SERVICE.is_match(&p.domain), "domain {:?}", p.domain);
            prop_assert!(p.functional_requirements.len() <= 10);
            prop_assert!(p.description.chars().count() <= 1000);
            for c in [
                p.type_confidence,
                p.name_confidence,
                p.domain_confidence,
                p.confidence_score,
            ] {
                prop_assert!((0.0..=1.0).contains(&c), "confidence {}", c);
            }
            prop_assert_eq!(&p.prompt, s);
            prop_assert_eq!(parse(s, None).ok(), Some(p));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "(?s).{0,2000}") {
        check_invariants(&s)?;
    }

    #[test]
    fn prompt_like_text_never_panics(s in prompt_like()) {
        check_invariants(&s)?;
    }
}
