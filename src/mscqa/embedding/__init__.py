"""Text to unit vectors: the Embedder seam, torch, the ONNX export and its two runtimes, the
embedding cache, and which encoder a build and a question use (``choice``)."""

from mscqa.embedding.cache import EmbeddingCache
from mscqa.embedding.choice import QueryEncoders, build_embedder, export_query_model
from mscqa.embedding.embedder import Embedder, vectors_key
from mscqa.embedding.hashing import HashingEmbedder
from mscqa.embedding.onnx_encoder import OnnxEmbedder
from mscqa.embedding.onnx_export import export_onnx, read_meta
from mscqa.embedding.precision import cpu_flags, resolve_precision
from mscqa.embedding.sentence_transformer import (
    SentenceTransformerEmbedder,
    model_fingerprint,
    resolve_model,
)

__all__ = [
    "Embedder",
    "EmbeddingCache",
    "HashingEmbedder",
    "OnnxEmbedder",
    "QueryEncoders",
    "SentenceTransformerEmbedder",
    "build_embedder",
    "cpu_flags",
    "export_onnx",
    "export_query_model",
    "model_fingerprint",
    "read_meta",
    "resolve_model",
    "resolve_precision",
    "vectors_key",
]
