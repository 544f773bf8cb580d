"""A cross-encoder exported to ONNX, run in-process (``pip install 'zhiku[rerank]'``).

The folder holds ``model.onnx`` (or ``onnx/model.onnx``, as Hugging Face exports lay it out) and
``tokenizer.json``; the path may also name the ``.onnx`` file itself, with ``tokenizer.json`` beside it
or one folder up. Nothing is downloaded: the operator copies the model there.

Each (query, passage) pair is encoded together by the model's own tokenizer (its template adds the
special tokens), truncated to ``max_length`` tokens from the longer side, and scored in batches of
similar length. The model's logit becomes a probability: ``sigmoid(logit)`` for a one-output head
(bge-reranker, ms-marco cross-encoders), ``sigmoid(l1 - l0)`` for a two-class head.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, MissingExtra, ZhikuError


def _model_files(path: Path) -> tuple[Path, Path]:
    if path.is_file():
        model = path
        candidates = [path.parent / "tokenizer.json", path.parent.parent / "tokenizer.json"]
    else:
        found = [p for p in (path / "model.onnx", path / "onnx" / "model.onnx") if p.is_file()]
        found = found or sorted(path.glob("*.onnx")) + sorted(path.glob("onnx/*.onnx"))
        if not found:
            raise ConfigError(f"no ONNX reranker in {path}: expected model.onnx or onnx/model.onnx there")
        model = found[0]
        candidates = [path / "tokenizer.json"]
    tokenizer = next((p for p in candidates if p.is_file()), None)
    if tokenizer is None:
        raise ConfigError(f"no tokenizer.json next to {model}: copy the model's tokenizer.json there")
    return model, tokenizer


class ONNXReranker:
    """Scores pairs with an ONNX cross-encoder; ``name`` is ``onnx:<folder name>``."""

    def __init__(self, path: Path, *, max_length: int = 512, batch: int = 16, threads: int = 0) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingExtra("onnxruntime and tokenizers", "rerank") from exc
        if not path.exists():
            raise ConfigError(
                f"reranker path {path} does not exist: point ZHIKU_RERANKER=onnx:<folder> at a folder holding "
                "the model's model.onnx and tokenizer.json"
            )
        model_path, tokenizer_path = _model_files(path)
        self.name = f"onnx:{(path if path.is_dir() else model_path.parent).name}"
        self.batch = batch
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # the tokenizers library raises plain Exceptions for bad files
            raise ConfigError(f"cannot read {tokenizer_path}: {exc}") from exc
        self.tokenizer.no_padding()  # padded here, per batch, to the batch's longest pair
        self.tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
        self.pad_id = next(
            (i for t in ("<pad>", "[PAD]", "<|pad|>") if (i := self.tokenizer.token_to_id(t)) is not None), 0
        )
        options = ort.SessionOptions()
        # Idle onnxruntime threads would otherwise spin and slow the next query embedding (the
        # same contention store/dense.py avoids with einsum).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ConfigError(f"cannot load the ONNX reranker {model_path}: {exc}") from exc
        self.inputs = {i.name: i.type for i in self.session.get_inputs()}
        if "input_ids" not in self.inputs:
            raise ConfigError(f"{model_path} is not a text cross-encoder: it has no input_ids input")

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        encodings = self.tokenizer.encode_batch([(query, t) for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        scores = np.zeros(len(texts), dtype=np.float64)
        for start in range(0, len(order), self.batch):
            idx = order[start : start + self.batch]
            scores[idx] = self._logits([encodings[i] for i in idx])
        return (1.0 / (1.0 + np.exp(-scores))).tolist()

    def _logits(self, encodings: Sequence[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, 1, e.type_ids
        given = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {
            name: given[name].astype(np.int32) if kind == "tensor(int32)" else given[name]
            for name, kind in self.inputs.items()
            if name in given
        }
        try:
            out = np.asarray(self.session.run(None, feeds)[0], dtype=np.float64)
        except Exception as exc:  # e.g. an input this code does not provide
            raise ZhikuError(f"ONNX reranker {self.name} failed: {exc}") from exc
        if out.ndim == 2 and out.shape[1] == 2:
            return out[:, 1] - out[:, 0]  # two-class head: log-odds of "relevant"
        return out.reshape(len(encodings), -1)[:, 0]
