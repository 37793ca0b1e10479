"""famcli: read documents far longer than a small model's context window through BSWA + Feedback
Attention Memory (TransformerFAM, arXiv 2404.09173)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
