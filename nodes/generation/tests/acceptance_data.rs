//! The acceptance data reader (`tests/support/acceptance.rs`): the cases come from the
//! repository, and a `shared/` beside it only adds ids the repository lacks.

#[path = "../../../tests/support/acceptance.rs"]
mod acceptance;

use std::path::Path;

fn write_tsv(path: &Path, rows: &[&str]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = acceptance::HEADER.join("\t");
    for r in rows {
        text.push('\n');
        text.push_str(r);
    }
    std::fs::write(path, text + "\n").unwrap();
}

#[test]
fn the_cases_are_read_from_the_repository() {
    let p = acceptance::prompts_tsv();
    assert!(
        p.starts_with(acceptance::repo_root()),
        "{} lies outside the repository",
        p.display()
    );
    let repo = acceptance::read_cases(&p);
    assert_eq!(repo.len(), 140);
    assert!(repo.iter().all(|c| c.in_repo()));
    assert_eq!(repo[0].id, "P01");
    assert_eq!(repo[0].line, 2);
    // Every in-repo case is among all cases, first and in order.
    let all = acceptance::cases();
    assert!(all.len() >= repo.len());
    for (a, b) in repo.iter().zip(&all) {
        assert_eq!(a.id, b.id);
    }
}

#[test]
fn shared_cases_add_only_new_ids() {
    let d = tempfile::tempdir().unwrap();
    let repo_dir = d.path().join("onex");
    std::fs::create_dir_all(&repo_dir).unwrap();
    assert_eq!(acceptance::shared_prompts_tsv_beside(&repo_dir), None);

    let row = |id: &str, prompt: &str| format!("{id}\tsrc\t{prompt}\t\t\t\t\t\t");
    let mine = repo_dir.join("prompts.tsv");
    write_tsv(&mine, &[&row("P01", "mine"), &row("P02", "a\\nb")]);
    let shared = d.path().join("shared/acceptance/prompts.tsv");
    write_tsv(&shared, &[&row("P02", "theirs"), &row("X01", "extra")]);
    assert_eq!(
        acceptance::shared_prompts_tsv_beside(&repo_dir),
        Some(repo_dir.join("../shared/acceptance/prompts.tsv"))
    );

    let all = acceptance::merge(
        acceptance::read_cases(&mine),
        Some(acceptance::read_cases(&shared)),
    );
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|c| (c.id.as_str(), c.prompt.as_str()))
        .collect();
    assert_eq!(got, [("P01", "mine"), ("P02", "a\nb"), ("X01", "extra")]);
    assert_eq!(all[2].file, shared);
    assert_eq!(all[2].line, 3);
    assert_eq!(
        acceptance::merge(acceptance::read_cases(&mine), None).len(),
        2
    );
}

#[test]
#[should_panic(expected = "prompts.tsv:2: 2 columns, expected 9")]
fn a_short_row_names_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("prompts.tsv");
    write_tsv(&p, &["P01\tonly"]);
    acceptance::read_cases(&p);
}
