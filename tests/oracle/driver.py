#!/usr/bin/env python3
"""Batch oracle: omnibase_core's own contract verdict for many files in one process.

Reads file paths (one per line) on stdin and writes one JSON line per path:
`{"path": ..., "ok": bool, "errors": [str, ...]}`.

The verdict is the one docs/rules.md ("ONEX parity") describes:
- the pre-commit hook of omnibase_core, unmodified (`validate-contracts.py`, its
  `validate_yaml_file`, beside this file, MIT: LICENSE.txt), decides per file: handler
  contracts (`handler_id`) against `MinimalHandlerContract`, files with a contract indicator
  against `MinimalYamlContract`, anything else passes;
- the document is loaded with the pinned omnibase-core `contracts.contract_loader` IncludeLoader
  so that `!include` resolves as onex resolves it (the hook alone uses `yaml.safe_load`);
- where a block is present in a checked file, omnibase_core's typed sub-models are applied too:
  `ModelContractExecutionGraph`, `ModelFSMSubcontract`, `ModelEffectSubcontract` and
  `validate_execution_mode_string`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

_spec = importlib.util.spec_from_file_location("validate_contracts", HERE / "validate-contracts.py")
hook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hook)

from omnibase_core.contracts.contract_loader import IncludeLoader  # noqa: E402
from omnibase_core.models.contracts.model_contract_execution_graph import (  # noqa: E402
    ModelContractExecutionGraph,
)
from omnibase_core.models.contracts.subcontracts.model_effect_subcontract import (  # noqa: E402
    ModelEffectSubcontract,
)
from omnibase_core.models.contracts.subcontracts.model_fsm_subcontract import (  # noqa: E402
    ModelFSMSubcontract,
)
from omnibase_core.validation.validator_workflow_step import (  # noqa: E402
    validate_execution_mode_string,
)

MAX_INCLUDE_DEPTH = 10
MAX_INCLUDE_BYTES = 1024 * 1024
INDICATORS = {
    "contract_version",
    "node_type",
    "metadata",
    "inputs",
    "outputs",
    "configuration",
    "description",
}


class _CurrentFile:
    path: Path = Path(".")


def _include_safe_load(text: str):
    """`yaml.safe_load` with the ONEX `!include` tag, relative to the file being checked."""
    top = _CurrentFile.path.resolve()
    loader = IncludeLoader(
        text,
        base_path=top.parent,
        include_stack={top},
        max_depth=MAX_INCLUDE_DEPTH,
        max_file_size=MAX_INCLUDE_BYTES,
        current_depth=0,
    )
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


# The hook reads `yaml.safe_load` and the yaml error classes from its module global `yaml`.
_shim = types.SimpleNamespace(**{k: getattr(yaml, k) for k in dir(yaml) if not k.startswith("__")})
_shim.safe_load = _include_safe_load
hook.yaml = _shim


def _errors_of(exc: Exception) -> list[str]:
    errs = getattr(exc, "errors", None)
    if callable(errs):
        try:
            return [
                f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in errs()
            ]
        except Exception:  # noqa: BLE001 - not a pydantic error after all
            pass
    return [f"{type(exc).__name__}: {exc}"]


def sub_models(content: dict) -> list[str]:
    out: list[str] = []
    checks = []
    # A block that is present (not null) is validated whatever its type, as a typed model
    # field of ONEX's contract models would be.
    for key in ("state_machine", "state_transitions"):
        if content.get(key) is not None:
            checks.append((key, ModelFSMSubcontract, content[key]))
    if content.get("effect_operations") is not None:
        checks.append(("effect_operations", ModelEffectSubcontract, content["effect_operations"]))
    wc = content.get("workflow_coordination")
    wd = wc.get("workflow_definition") if isinstance(wc, dict) else None
    if isinstance(wd, dict):
        graph = wd.get("execution_graph")
        if graph is not None:
            checks.append(("execution_graph", ModelContractExecutionGraph, graph))
        meta = wd.get("workflow_metadata")
        mode = meta.get("execution_mode") if isinstance(meta, dict) else None
        if isinstance(mode, str):
            try:
                validate_execution_mode_string(mode)
            except Exception as e:  # noqa: BLE001 - any failure is the verdict
                out.append(f"execution_mode: {e}")
    for where, model, value in checks:
        try:
            model.model_validate(value)
        except Exception as e:  # noqa: BLE001
            out.extend(f"{where}.{m}" for m in _errors_of(e))
    return out


def verdict(path: Path) -> list[str]:
    _CurrentFile.path = path
    try:
        errors = list(hook.validate_yaml_file(path))
    except Exception as e:  # noqa: BLE001 - the hook's main() counts this as one error
        return [f"Unexpected validation error: {type(e).__name__}: {e}"]
    if errors:
        return errors
    try:
        text = path.read_text(encoding="utf-8")
        content = _include_safe_load(text) if text.strip() else None
    except Exception as e:  # noqa: BLE001
        return [f"reload: {type(e).__name__}: {e}"]
    if isinstance(content, dict) and (
        "handler_id" in content or any(k in content for k in INDICATORS)
    ):
        return sub_models(content)
    return []


def main() -> int:
    for line in sys.stdin:
        p = line.rstrip("\n")
        if not p:
            continue
        errs = verdict(Path(p))
        sys.stdout.write(json.dumps({"path": p, "ok": not errs, "errors": errs}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
