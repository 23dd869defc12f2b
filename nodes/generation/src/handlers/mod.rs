//! The handlers of node generation's nodes: small async functions over [`crate::codegen`] and
//! [`crate::prompt`], registered by name in [`crate::registry`]. Contracts decide which handler
//! runs where, with which gates, in which order.

pub mod compile;
pub mod generate;
pub mod parse;
pub mod resources;
pub mod validate;
pub mod write;
