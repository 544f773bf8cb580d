"""A tiny cross-encoder written as a real ONNX file with a real ``tokenizer.json``, for reranker tests.

No reranker ships on PyPI and nothing may download one, so tests build their own: the same file
layout, input names and output shape as a Hugging Face cross-encoder export (bge-reranker,
ms-marco-MiniLM), run by the real onnxruntime and tokenized by the real ``tokenizers`` library. Its
"knowledge" is a word list: the logit is ``bias + sum over passage tokens of weight[token]``, plus a
penalty for every *attended* padding token, so a batch padded without the attention mask scores
differently and the tests notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
PAD_PENALTY = -3.0


def build_cross_encoder(folder: Path, weights: Mapping[str, float], vocab: list[str], bias: float = 0.0) -> Path:
    """Write ``model.onnx`` and ``tokenizer.json`` into ``folder``; returns ``folder``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    folder.mkdir(parents=True, exist_ok=True)
    tokens = SPECIAL + [w for w in dict.fromkeys(w.lower() for w in [*vocab, *weights]) if w not in SPECIAL]
    ids = {t: i for i, t in enumerate(tokens)}
    tokenizer = Tokenizer(models.WordLevel(ids, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    tokenizer.save(str(folder / "tokenizer.json"))

    passage_weight = np.zeros(len(tokens), dtype=np.float32)
    for word, value in weights.items():
        passage_weight[ids[word.lower()]] = value
    any_weight = np.zeros(len(tokens), dtype=np.float32)
    any_weight[ids["[PAD]"]] = PAD_PENALTY
    nodes = [
        helper.make_node("Gather", ["passage_weight", "input_ids"], ["pw"], axis=0),
        helper.make_node("Gather", ["any_weight", "input_ids"], ["aw"], axis=0),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["token_type_ids"], ["second"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["pw", "second"], ["pws"]),
        helper.make_node("Add", ["pws", "aw"], ["per_token"]),
        helper.make_node("Mul", ["per_token", "mask"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axes"], ["summed"], keepdims=1),
        helper.make_node("Add", ["summed", "bias"], ["logits"]),
    ]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-cross-encoder",
        inputs,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])],
        initializer=[
            numpy_helper.from_array(passage_weight, "passage_weight"),
            numpy_helper.from_array(any_weight, "any_weight"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
            numpy_helper.from_array(np.array([bias], dtype=np.float32), "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    return folder
