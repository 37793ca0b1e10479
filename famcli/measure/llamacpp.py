"""llama.cpp, the baseline famcli's benchmarks run beside it (llama-cpp-python, the `llamacpp` extra)."""

from __future__ import annotations


def _has_amx() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return " amx_int8" in f.read()
    except OSError:
        return False


def llama_cpp_model(Llama, gguf_path: str, **kwargs):
    """llama.cpp's model for a GGUF. On CPUs with AMX its AMX weight repacking (an "extra buffer type")
    crashed llama-cpp-python 0.3.36 in ggml_backend_amx_mul_mat (SIGSEGV, seen here), so there the weights are
    loaded without extra buffer types; elsewhere llama.cpp's own defaults stand."""
    import llama_cpp.llama_cpp as llama_cpp  # where llama_cpp.Llama looks its defaults up

    if not _has_amx():
        return Llama(model_path=gguf_path, verbose=False, **kwargs)
    default = llama_cpp.llama_model_default_params

    def without_extra_buffers():
        params = default()
        params.use_extra_bufts = False
        return params

    llama_cpp.llama_model_default_params = without_extra_buffers
    try:
        return Llama(model_path=gguf_path, verbose=False, **kwargs)
    finally:
        llama_cpp.llama_model_default_params = default
