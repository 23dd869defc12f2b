//! The loader API the rest of the engine codes against: `SourceDoc` values and locations,
//! unknown keys surviving a round trip, the normalised view, `validate_str`.

use std::path::Path;

use onex_engine::contract::{Kind, LoadOptions, ValidateOptions, load_str, validate_str};

const DOC: &str = "# c\nname: demo_node\ncontract_version: {major: 1, minor: 2, patch: 3}\nnode_type: effect\nx_custom:\n  nested: [1, two, {three: 3.5}]\n  'quoted/key~': yes\ninput_model: app.models.ModelIn\n";

#[test]
fn unknown_keys_survive_a_round_trip() {
    let loaded = load_str(
        Path::new("/virtual/contract.yaml"),
        DOC,
        LoadOptions::default(),
    );
    assert!(loaded.diagnostics.is_empty());
    let doc = loaded.doc.unwrap();
    let text = serde_json::to_string(&doc.value).unwrap();
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, doc.value);
    let keys: Vec<&String> = doc.value.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "name",
            "contract_version",
            "node_type",
            "x_custom",
            "input_model"
        ],
        "document order is kept"
    );
    assert_eq!(doc.value["x_custom"]["nested"][2]["three"], 3.5);
    assert_eq!(
        doc.value["x_custom"]["quoted/key~"], "yes",
        "YAML 1.2: yes is a string"
    );
}

#[test]
fn locate_values_keys_and_ancestors() {
    let doc = load_str(
        Path::new("/virtual/contract.yaml"),
        DOC,
        LoadOptions::default(),
    )
    .doc
    .unwrap();
    let at = |p: &str| {
        let l = doc.locate(p);
        (l.pos.line, l.pos.column)
    };
    assert_eq!(at("/node_type"), (4, 12));
    assert_eq!(at("/x_custom/nested/1"), (6, 15));
    assert_eq!(at("/x_custom/quoted~1key~0"), (7, 18));
    // A pointer that does not exist falls back to its nearest ancestor.
    assert_eq!(at("/x_custom/nested/7/deeper"), (6, 11));
    assert_eq!(at("/nope"), (2, 1));
    let k = doc.locate_key("/x_custom");
    assert_eq!((k.pos.line, k.pos.column), (5, 1));
    assert_eq!(
        doc.locate("/node_type").path,
        Path::new("/virtual/contract.yaml")
    );
    assert!(
        doc.source_text(Path::new("/virtual/contract.yaml"))
            .unwrap()
            .starts_with("# c")
    );
}

#[test]
fn validate_str_and_view() {
    let r = validate_str(
        Path::new("/virtual/contract.yaml"),
        DOC,
        &ValidateOptions::default(),
        None,
    );
    assert_eq!(r.status().as_str(), "ok", "{:?}", r.diagnostics);
    let v = r.view().unwrap();
    assert_eq!(v.kind, Some(Kind::Effect));
    assert_eq!(v.node_type.unwrap().canonical, "EFFECT_GENERIC");
    assert_eq!(v.contract_version.unwrap().to_string(), "1.2.3");
    assert_eq!(v.name.as_deref(), Some("demo_node"));
    let m = v.input_model.unwrap();
    assert_eq!(
        (m.module.as_str(), m.name.as_str()),
        ("app.models", "ModelIn")
    );
}

#[test]
fn bom_and_leading_document_marker_are_fine() {
    let text = format!("\u{feff}---\n{DOC}");
    let r = validate_str(
        Path::new("/virtual/contract.yaml"),
        &text,
        &ValidateOptions::default(),
        None,
    );
    assert_eq!(r.status().as_str(), "ok", "{:?}", r.diagnostics);
}
