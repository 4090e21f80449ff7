"""Tests of deploy/gateway/: its stdlib modules are loaded here by path, as the gateway and the
hub load them (deploy/ is no package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

GATEWAY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "gateway"


def _load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, GATEWAY_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module  # dataclasses look their module up while the file loads
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


learner_keys = _load("learner_keys")
token_ledger = _load("token_ledger")
