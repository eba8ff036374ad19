"""The torch originals of :mod:`benchmarks.models`: torchvision's model builders and Hugging
Face's ``GPT2LMHeadModel`` / ``LlamaForCausalLM`` with the same configurations."""

from __future__ import annotations

import sys
from pathlib import Path


def _torchvision():
    root = Path(__file__).resolve().parents[2]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.torch._torchvision import import_torchvision

    return import_torchvision()


def torch_model(name: str, num_classes: int = 10):
    """The torch module for benchmark model ``name`` (see ``MODELS`` in bench_models.py)."""
    tv = _torchvision()  # also before transformers, which imports torchvision
    if name == "mobilenet_v3_small":
        return tv.models.mobilenet_v3_small(num_classes=num_classes)
    if name == "efficientnet_b0":
        return tv.models.efficientnet_b0(num_classes=num_classes)
    if name == "resnet18":
        return tv.models.resnet18(num_classes=num_classes)
    if name == "convnext_tiny":
        return tv.models.convnext_tiny(num_classes=num_classes)
    if name == "regnet_y_400mf":
        return tv.models.regnet_y_400mf(num_classes=num_classes)
    if name == "resnext50_32x4d":
        return tv.models.resnext50_32x4d(num_classes=num_classes)
    import transformers

    if name == "gpt2":
        cfg = transformers.GPT2Config(n_layer=2)
        return transformers.GPT2LMHeadModel(cfg)
    if name == "llama":
        cfg = transformers.LlamaConfig(
            vocab_size=32000,
            hidden_size=768,
            num_hidden_layers=2,
            num_attention_heads=12,
            num_key_value_heads=4,
            intermediate_size=2048,
            rms_norm_eps=1e-6,
            tie_word_embeddings=False,
        )
        return transformers.LlamaForCausalLM(cfg)
    raise ValueError(f"unknown model {name!r}")
