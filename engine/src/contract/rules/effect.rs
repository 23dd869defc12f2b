//! Effect operations (docs/dialects.md §9.2). ONEX075–077 are schema constraints on `effect_operations`
//! (schemas/onex-dialect-c.schema.json); this module holds the one check a schema cannot
//! express readably: the HTTP method when handler_type is http, compared case-sensitively.

use serde_json::Value;

use super::{Ctx, idx};

/// ONEX076 (method part): http operations use GET, POST, PUT, PATCH or DELETE.
pub fn http_methods(ctx: &mut Ctx) {
    let Some(Value::Array(ops)) = ctx.get("/effect_operations/operations").cloned() else {
        return;
    };
    for (i, op) in ops.iter().enumerate() {
        let Some(io) = op.get("io_config") else {
            continue;
        };
        if io.get("handler_type").and_then(Value::as_str) != Some("http") {
            continue;
        }
        if let Some(m) = io.get("method") {
            let ok = m
                .as_str()
                .is_some_and(|m| matches!(m, "GET" | "POST" | "PUT" | "PATCH" | "DELETE"));
            if !ok {
                ctx.emit(
                    "ONEX076",
                    &format!(
                        "{}/io_config/method",
                        idx("/effect_operations/operations", i)
                    ),
                    format!(
                        "http method {} is not GET, POST, PUT, PATCH or DELETE",
                        super::show(m)
                    ),
                );
            }
        }
    }
}
