//! Configuration: `onex.toml` (working directory, then `$XDG_CONFIG_HOME/onex/config.toml`);
//! precedence flag > environment > file > default.
