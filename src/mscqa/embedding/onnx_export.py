"""The model's transformer exported to ONNX (build time: imports torch), and its metadata.

An export folder holds ``model.onnx``, ``tokenizer.json`` and ``onnx.json`` (its own sha256,
the source model's sha256, max_seq_length, dim); ``OnnxEmbedder`` runs it without torch.

>>> out = export_onnx(model_dir, index_dir / "models" / sha[:16])   # doctest: +SKIP
>>> read_meta(out)["dim"]                                           # doctest: +SKIP
384
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from mscqa.errors import ModelError
from mscqa.fileio import file_sha256

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "onnx.json"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def read_meta(folder: Path) -> dict[str, Any] | None:
    """The export's ``onnx.json``, or None when the folder holds no complete export."""
    try:
        meta: dict[str, Any] = json.loads((folder / META_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    if not (folder / MODEL_FILE).is_file() or not (folder / TOKENIZER_FILE).is_file():
        return None
    return meta


def export_onnx(
    model_dir: Path,
    out_dir: Path,
    *,
    source_sha256: str = "",
    quantize: bool = False,
) -> Path:
    """Export the sentence-transformers model in ``model_dir`` to ``out_dir``; return ``out_dir``.

    Written to a temporary sibling folder and renamed into place, so a reader never sees half
    an export. ``quantize`` adds int8 dynamic quantisation (smaller, faster, slightly different
    vectors: see bench/README.md). Imports torch and transformers: call it at build time only.
    """
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file() or not (model_dir / TOKENIZER_FILE).is_file():
        raise ModelError(
            f"{model_dir} is not a local transformers model folder (config.json and "
            "tokenizer.json are needed to export it to ONNX)."
        )
    import torch
    from transformers import AutoModel

    tmp = out_dir.with_name(f".tmp-{out_dir.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

        class _Transformer(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state

        dummy = tuple(torch.ones(2, 8, dtype=torch.long) for _ in INPUTS)
        axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
        with warnings.catch_warnings(), torch.no_grad():
            # The tracer warns about Python branches on shapes that do not depend on the input.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Transformer(model),
                dummy,
                str(tmp / MODEL_FILE),
                input_names=list(INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            fp32 = tmp / "model.fp32.onnx"
            (tmp / MODEL_FILE).rename(fp32)
            # Per-channel scales keep int8 much closer to fp32 (median cosine 0.993 vs 0.956).
            quantize_dynamic(
                str(fp32), str(tmp / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True
            )
            fp32.unlink()
        shutil.copy2(model_dir / TOKENIZER_FILE, tmp / TOKENIZER_FILE)
        st_config = model_dir / "sentence_bert_config.json"
        max_len = 256
        if st_config.is_file():
            max_len = int(json.loads(st_config.read_text()).get("max_seq_length", max_len))
        meta = {
            "sha256": file_sha256(tmp / MODEL_FILE),
            "source_sha256": source_sha256,
            "max_seq_length": max_len,
            "dim": int(model.config.hidden_size),
            "opset": OPSET,
            "quantized": quantize,
            "torch": torch.__version__,
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
