//! Code generation (generation-pipeline spec §4): the template pack, escaping, rendering of the
//! 12-file ONEX node, the post-validation checks and the staging / atomic placement of the output.

pub mod compile;
pub mod output;
