"""deployctl: from a Hugging Face model to a quantized, smoke-tested OpenAI-compatible endpoint."""

__version__ = "0.1.0"
