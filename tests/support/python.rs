//! The Python 3.12 with the pinned omnibase-core that generated-node import tests need, found
//! as scripts/python-env.sh finds it: `$ONEX_TEST_PY312`, else `$ONEX_PYTHON`, else the venv the
//! script makes (`$ONEX_PY312_VENV`, default /var/tmp/onex-py312). Without one the tests say
//! loudly that they were skipped and how to set it up.

#![allow(dead_code)]

use std::path::PathBuf;

/// How to get one (README "Set-up").
pub const SETUP: &str = "export ONEX_PYTHON=\"$(scripts/python-env.sh)\" in the repository \
                         (or set ONEX_TEST_PY312)";

/// The interpreter, or `None` after a loud SKIPPED line naming what was tried.
pub fn py312() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let venv = var("ONEX_PY312_VENV")
        .unwrap_or_else(|| PathBuf::from("/var/tmp/onex-py312"))
        .join("bin/python");
    let tried: Vec<PathBuf> = [var("ONEX_TEST_PY312"), var("ONEX_PYTHON"), Some(venv)]
        .into_iter()
        .flatten()
        .collect();
    if let Some(p) = tried.iter().find(|p| p.is_file()) {
        return Some(p.clone());
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: no Python 3.12 with omnibase-core (tried {}); {SETUP} !!!!!!!!\n",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    None
}
