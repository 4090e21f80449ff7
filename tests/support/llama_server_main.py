"""`python -m llama_cpp.server`, with llama.cpp's extra CPU buffer types turned off first.

Those buffer types (AMX tiles, repacked weights) crash llama.cpp with SIGSEGV on machines that
advertise AMX without enabling it, which is common in VMs and CI runners; the kit's local backend
turns them off the same way. Everything else is llama-cpp-python's own server, arguments and all:

    python -m tests.support.llama_server_main --model FILE.gguf --host 127.0.0.1 --port 8000
"""

from __future__ import annotations


def main() -> None:
    from llama_cpp import llama as llama_module

    default_params = llama_module.llama_cpp.llama_model_default_params

    def plain_buffers():  # type: ignore[no-untyped-def]
        params = default_params()
        params.use_extra_bufts = False
        return params

    llama_module.llama_cpp.llama_model_default_params = plain_buffers

    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
