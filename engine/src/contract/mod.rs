//! ONEX contracts: loading (YAML with spans, `!include`), dialect detection, normalisation,
//! JSON-Schema and semantic rules, and the validated IR.
