"""Tiny random Hugging Face models (no download) and their example inputs, for the
automatic-port tests (tests/torch/test_porting_hf*_torch.py). The configs keep transformers'
defaults where a new user would (``use_cache=True``: the port is captured without the cache);
GPT-2 and Llama are the causal-LM classes (GPT-2's head tied to its embedding).

Every dropout probability is a parameter, 0 by default: train-mode outputs and gradients are
then comparable with torch's (dropout masks are not).
"""

import numpy as np
import torch
from _torchvision import import_torchvision

import_torchvision()  # transformers imports torchvision: declare its op schemas first
import transformers  # noqa: E402

VOCAB = 99
rs = np.random.RandomState(0)
IDS = rs.randint(3, VOCAB, size=(2, 7))
IDS_OTHER = rs.randint(3, VOCAB, size=(3, 5))  # another batch size and length
DECODER_IDS = rs.randint(3, VOCAB, size=(2, 5))
PIXELS = rs.randn(2, 3, 16, 16).astype(np.float32)
PIXELS_OTHER = rs.randn(3, 3, 16, 16).astype(np.float32)
# BERT: the second sequence padded after 4 tokens, two segments
MASK = np.array([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]])
TOKEN_TYPES = np.array([[0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 0, 0, 0]])


def gpt2(p=0.0):
    cfg = transformers.GPT2Config(
        vocab_size=VOCAB,
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=4,
        resid_pdrop=p,
        embd_pdrop=p,
        attn_pdrop=p,
        bos_token_id=1,
        eos_token_id=2,
    )
    return transformers.GPT2LMHeadModel(cfg)  # lm_head tied to wte


def bert(p=0.0):
    cfg = transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=32,
        hidden_dropout_prob=p,
        attention_probs_dropout_prob=p,
    )
    return transformers.BertModel(cfg)


def llama(p=0.0):
    cfg = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=37,
        max_position_embeddings=32,
        attention_dropout=p,
        bos_token_id=1,
        eos_token_id=2,
    )
    return transformers.LlamaForCausalLM(cfg)


def t5(p=0.0):
    cfg = transformers.T5Config(
        vocab_size=VOCAB,
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        dropout_rate=p,
        decoder_start_token_id=0,
    )
    return transformers.T5Model(cfg)


def bart(p=0.0):
    cfg = transformers.BartConfig(
        vocab_size=VOCAB,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=37,
        decoder_ffn_dim=37,
        max_position_embeddings=32,
        dropout=p,
        attention_dropout=p,
        activation_dropout=p,
    )
    return transformers.BartModel(cfg)


def vit(p=0.0):
    cfg = transformers.ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=16,
        patch_size=4,
        hidden_dropout_prob=p,
        attention_probs_dropout_prob=p,
    )
    return transformers.ViTModel(cfg)


# name: (constructor, example keyword inputs, the same on another batch size / length)
MODELS = {
    "gpt2": (gpt2, {"input_ids": IDS}, {"input_ids": IDS_OTHER}),
    "bert": (
        bert,
        {"input_ids": IDS, "attention_mask": MASK, "token_type_ids": TOKEN_TYPES},
        {
            "input_ids": IDS_OTHER,
            "attention_mask": np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]]),
            "token_type_ids": np.array([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0], [0, 0, 0, 0, 0]]),
        },
    ),
    "llama": (llama, {"input_ids": IDS}, {"input_ids": IDS_OTHER}),
    "t5": (
        t5,
        {"input_ids": IDS, "decoder_input_ids": DECODER_IDS},
        {"input_ids": IDS_OTHER, "decoder_input_ids": IDS_OTHER[:, :3]},
    ),
    "bart": (
        bart,
        {"input_ids": IDS, "decoder_input_ids": DECODER_IDS},
        {"input_ids": IDS_OTHER, "decoder_input_ids": IDS_OTHER[:, :3]},
    ),
    "vit": (vit, {"pixel_values": PIXELS}, {"pixel_values": PIXELS_OTHER}),
}


def build(name, seed=0, p=0.0):
    torch.manual_seed(seed)
    return MODELS[name][0](p).eval()


def torch_inputs(inputs):
    return {k: torch.as_tensor(v) for k, v in inputs.items()}


def hidden(out):
    """The logits or last hidden state of a Hugging Face output (a ModelOutput, or the port's
    dict)."""
    return out["logits"] if "logits" in out else out["last_hidden_state"]


def projection(out, xp):
    """A loss with well-conditioned gradients: the last hidden state on a fixed unit
    direction (a plain sum's gradients cancel through the final LayerNorm)."""
    h = hidden(out)
    r = np.random.RandomState(1).standard_normal(tuple(h.shape))
    return (h * xp.asarray((r / np.linalg.norm(r)).astype(np.float32))).sum()
