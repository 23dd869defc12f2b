//! node_prompt_parser_compute: prompt → ParsedPrompt.

use crate::prompt::parse::parse;
use onex_engine::pipeline::{StageCtx, StageError};
use serde_json::{Value, json};

/// `parse_prompt` (stage parsing): outputs `parsed`; an unusable prompt fails with INVALID_PROMPT.
pub async fn parse_prompt(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let req = crate::request::PromptRequest::of(ctx.run)?;
    match parse(&req.prompt_text, req.requested_node_type) {
        Ok(parsed) => Ok(json!({ "parsed": parsed })),
        Err(e) => Err(StageError::failed(e.code.to_string(), e.message.clone())
            .with_suggestions(vec![e.suggestion.clone()])),
    }
}
