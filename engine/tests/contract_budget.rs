//! D5: alias and include expansion have budgets (ONEX086), so a small hostile file ends in a
//! clear error at file:line:col instead of gigabytes of memory or minutes of CPU.
//! Peak memory is read from /proc/self/status (nextest runs each test in its own process).

use std::path::Path;

use onex_engine::contract::{ValidateOptions, validate_file};
use onex_engine::diag::Severity;

/// Peak resident memory of this process in MiB (Linux), if known.
fn peak_rss_mib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

fn onex086(path: &Path) -> Vec<onex_engine::diag::Diagnostic> {
    let r = validate_file(path, &ValidateOptions::default(), None);
    r.diagnostics
        .into_iter()
        .filter(|d| d.code == "ONEX086")
        .collect()
}

#[test]
fn one_anchor_referenced_ten_thousand_times_is_onex086_at_the_alias() {
    let d = tempfile::tempdir().unwrap();
    // ~100 KB: a 60 KB anchored string and 10^4 aliases to it (600 MB if expanded).
    let big = "x".repeat(60_000);
    let aliases = vec!["*a"; 10_000].join(", ");
    let text = format!(
        "contract_version: {{major: 1, minor: 0, patch: 0}}\nnode_type: compute\nblob: &a \"{big}\"\ncopies: [{aliases}]\n"
    );
    assert!((90_000..110_000).contains(&text.len()), "{}", text.len());
    let p = d.path().join("bomb.yaml");
    std::fs::write(&p, &text).unwrap();
    let found = onex086(&p);
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.path, p);
    assert_eq!(f.pos.line, 4, "{f:?}");
    // The alias that crossed 16 MiB: 16 MiB / 60 KB ≈ the 280th, at 4 bytes per `*a, `.
    let nth = (f.pos.column as usize - "copies: [".len()) / 4;
    assert!((270..290).contains(&nth), "{f:?}");
    assert!(f.message.contains("MiB"), "{}", f.message);
    if let Some(mib) = peak_rss_mib() {
        assert!(mib < 400, "peak RSS {mib} MiB");
    }
}

#[test]
fn ten_files_each_including_the_next_ten_times_is_onex086() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..10 {
        let next = format!("_f{}.yaml", i + 1);
        let body: String = (0..10)
            .map(|k| format!("  k{k}: !include {next}\n"))
            .collect();
        let head = if i == 0 {
            "contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: compute\n"
        } else {
            ""
        };
        // ~5.6 KB per file, as in the report (56 KB for the ten).
        let pad = format!("pad: \"{}\"\n", "p".repeat(5_300));
        let name = if i == 0 {
            "contract.yaml".to_string()
        } else {
            format!("_f{i}.yaml")
        };
        std::fs::write(d.path().join(name), format!("{head}{pad}incl:\n{body}")).unwrap();
    }
    std::fs::write(d.path().join("_f10.yaml"), "leaf: true\n").unwrap();
    let p = d.path().join("contract.yaml");
    let found = onex086(&p);
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("includes"), "{}", f.message);
    // Reported where the include that crossed the budget is written (an included file).
    let shown = f.path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(shown.starts_with("_f"), "{f:?}");
    let src = std::fs::read_to_string(d.path().join(&shown)).unwrap();
    let line = src.lines().nth(f.pos.line as usize - 1).unwrap();
    assert!(line.contains("!include"), "{line}");
    assert_eq!(&line[f.pos.column as usize - 1..][..8], "!include");
    if let Some(mib) = peak_rss_mib() {
        assert!(mib < 400, "peak RSS {mib} MiB");
    }
}
