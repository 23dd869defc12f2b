//! ONEX node generation: a workflow package on the onex engine.
//!
//! A prompt comes in as `PromptSubmitted`; the workflow contract
//! (`nodes/node_generation_orchestrator_orchestrator/v1_0_0/contract.yaml`, its catalogue
//! `contracts/pipeline_events.yaml`) runs six stages and fourteen gates; a complete ONEX node (12
//! files) comes out. This crate holds what the contract refers to by name and the views a client
//! needs:
//!
//! - [`prompt`]: prompt parsing and naming (docs/generation.md "Parsing");
//! - [`codegen`]: the template pack, rendering of the 12 files, the post-validation checks, staging
//!   and atomic placement, compilation (G13/G14);
//! - [`handlers`] and [`registry`]: the small functions the contract names, in one table;
//! - [`request`]: the PromptSubmitted payload, the client's options, this package's settings;
//! - [`result`]: [`PipelineResult`], the run result as node generation reports it;
//! - [`shipped`]: where the shipped contract and catalogue are, and loading them.

pub mod codegen;
pub mod handlers;
pub mod prompt;
pub mod registry;
pub mod request;
pub mod result;
pub mod shipped;

pub use registry::HANDLERS;
pub use request::{GenerationSettings, PromptOptions, PromptRequest};
pub use result::PipelineResult;
