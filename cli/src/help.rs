//! `--help` examples of the main commands (`after_help`), kept together so they stay alike.

pub const VALIDATE: &str = "Examples:
  onex validate contracts/ nodes/
  onex validate --strict --deny-warnings my/contract.yaml
  onex validate --format sarif . > onex.sarif";

pub const GRAPH: &str = "Examples:
  onex graph my/contract.yaml
  onex graph my/contract.yaml --format dot | dot -Tsvg > graph.svg";

pub const ORCHESTRATOR: &str = "Examples:
  onex orchestrator
  onex orchestrator --bus redis://127.0.0.1:6379 --allowed-root generated/
  onex orchestrator --workflow my/contract.yaml --concurrency 8 --metrics-addr 127.0.0.1:9464";

pub const STATUS: &str = "Examples:
  onex status 0192f4a8-8f00-7c00-8000-000000000040
  onex status --json --bus redis://127.0.0.1:6379 <ID>";

pub const TRACE: &str = "Examples:
  onex trace <ID>
  onex trace --json <ID> | jq '.[] | select(.outcome != \"pass\")'";

pub const RUNS: &str = "Examples:
  onex runs
  onex runs --limit 5 --json";

pub const CANCEL: &str = "Examples:
  onex cancel <ID>
  onex cancel --bus redis://127.0.0.1:6379 --wait 30 --reason \"wrong prompt\" <ID>";

pub const EVENTS: &str = "Examples:
  onex events tail --from-beginning --count 10
  onex events tail --correlation-id <ID> --json
  onex events publish --type PromptSubmitted --payload prompt.json
  onex events replay --correlation-id <ID>";

pub const SCHEMA: &str = "Examples:
  onex schema
  onex schema envelope > envelope.schema.json
  onex schema events PromptSubmitted";

pub const COMPLETIONS: &str = "Examples:
  onex completions bash > ~/.local/share/bash-completion/completions/onex
  onex completions zsh > ~/.zfunc/_onex
  onex completions fish > ~/.config/fish/completions/onex.fish";
