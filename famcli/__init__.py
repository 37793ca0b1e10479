"""famcli: read documents far longer than a small model's context window through BSWA + Feedback
Attention Memory (TransformerFAM, arXiv 2404.09173)."""

__version__ = "0.1.0"

from famcli.config import MemoryConfig  # noqa: E402

__all__ = ["MemoryConfig", "__version__"]
