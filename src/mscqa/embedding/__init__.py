"""Text to unit vectors: the Embedder seam, torch, the ONNX export and its runtimes, the cache,
and which encoder a build and a question use."""

from mscqa.embedding.cache import EmbeddingCache
from mscqa.embedding.choice import build_embedder, export_query_model
from mscqa.embedding.embedder import (
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    resolve_model,
    resolve_precision,
    vectors_key,
)
from mscqa.embedding.onnx_encoder import OnnxEmbedder, export_onnx

__all__ = [
    "Embedder",
    "EmbeddingCache",
    "HashingEmbedder",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "build_embedder",
    "export_onnx",
    "export_query_model",
    "resolve_model",
    "resolve_precision",
    "vectors_key",
]
