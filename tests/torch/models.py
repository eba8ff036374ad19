"""Real models written ONCE over a module namespace ``M`` (``torch.nn`` or ``jaxinit.nn``), shared
by the constructor-init tests and the cross-checks with ``jaxinit.testing``.

``M.init`` is ``torch.nn.init`` / ``jaxinit.init``; the few tensor operations a forward needs
that the two frameworks spell differently go through :func:`ops` (``cat``, ``expand``,
``flatten``, ``param``).
"""

import math
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import torch

from jaxinit import TorchGenerator
from jaxinit import init as jinit
from jaxinit import nn as jnn

tnn = torch.nn


def ops(M):
    """The tensor operations whose names differ between torch and jax.numpy."""
    if M is tnn:
        return SimpleNamespace(
            cat=lambda xs, dim: torch.cat(xs, dim),
            expand=lambda x, shape: x.expand(*shape),
            flatten=lambda x: torch.flatten(x, 1),
            param=lambda *shape: tnn.Parameter(torch.zeros(*shape)),
            rnn=tnn.utils.rnn,
        )
    return SimpleNamespace(
        cat=lambda xs, dim: jnp.concatenate(xs, dim),
        expand=lambda x, shape: jnp.broadcast_to(x, shape),
        flatten=lambda x: x.reshape(x.shape[0], -1),
        param=lambda *shape: jnn.Parameter(shape, jinit.zeros),
        rnn=jnn.utils.rnn,
    )


def assert_bitwise(make, seed):
    """``net.init(TorchGenerator(seed))`` equals ``torch.manual_seed(seed); make(torch.nn)``
    bit for bit, key for key, and leaves the generator where torch's construction left it.
    Returns ``(port, torch_module)``."""
    tm, jm, _ = built_bitwise(make, seed)
    return jm, tm


def built_bitwise(make, seed):
    """:func:`assert_bitwise`, returning ``(torch_module, port, variables)``."""
    torch.manual_seed(seed)
    tm = make(tnn)
    jm = make(jnn)
    gen = TorchGenerator(seed)
    variables = jm.init(gen)
    sd = jm.state_dict(variables)
    tsd = tm.state_dict()
    assert list(sd) == list(tsd)
    for k, t in tsd.items():
        got, want = np.asarray(sd[k]), t.numpy()
        if want.dtype == np.int64:  # num_batches_tracked: int32 unless x64 is on
            assert got.dtype.kind == "i" and np.array_equal(got, want), k
            continue
        assert got.dtype == want.dtype, k
        assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), k
    assert np.array_equal(gen.get_state(), torch.get_rng_state().numpy())
    return tm, jm, variables


# ---------------------------------------------------------------------------------------------
# torchvision's ResNet-18 (torchvision/models/resnet.py: conv3x3, conv1x1, BasicBlock, ResNet,
# _make_layer, forward and the init loop as written there; Bottleneck left out). ``width`` is
# torchvision's 64 (the first stage's planes); the cross-checks use a narrower one.


def resnet18(M, zero_init_residual=False, num_classes=1000, width=64):
    o = ops(M)

    def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
        return M.Conv2d(
            in_planes,
            out_planes,
            kernel_size=3,
            stride=stride,
            padding=dilation,
            groups=groups,
            bias=False,
            dilation=dilation,
        )

    def conv1x1(in_planes, out_planes, stride=1):
        return M.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)

    class BasicBlock(M.Module):
        expansion = 1

        def __init__(
            self,
            inplanes,
            planes,
            stride=1,
            downsample=None,
            groups=1,
            base_width=64,
            dilation=1,
            norm_layer=None,
        ):
            super().__init__()
            if norm_layer is None:
                norm_layer = M.BatchNorm2d
            self.conv1 = conv3x3(inplanes, planes, stride)
            self.bn1 = norm_layer(planes)
            self.relu = M.ReLU(inplace=True)
            self.conv2 = conv3x3(planes, planes)
            self.bn2 = norm_layer(planes)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            identity = x
            out = self.conv1(x)
            out = self.bn1(out)
            out = self.relu(out)
            out = self.conv2(out)
            out = self.bn2(out)
            if self.downsample is not None:
                identity = self.downsample(x)
            out = out + identity
            out = self.relu(out)
            return out

    class ResNet(M.Module):
        def __init__(self, block, layers, num_classes=1000, zero_init_residual=False):
            super().__init__()
            norm_layer = M.BatchNorm2d
            self._norm_layer = norm_layer
            self.inplanes = width
            self.dilation = 1
            self.groups = 1
            self.base_width = 64
            self.conv1 = M.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = norm_layer(self.inplanes)
            self.relu = M.ReLU(inplace=True)
            self.maxpool = M.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(block, width, layers[0])
            self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
            self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
            self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
            self.avgpool = M.AdaptiveAvgPool2d((1, 1))
            self.fc = M.Linear(8 * width * block.expansion, num_classes)

            for m in self.modules():
                if isinstance(m, M.Conv2d):
                    M.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, (M.BatchNorm2d, M.GroupNorm)):
                    M.init.constant_(m.weight, 1)
                    M.init.constant_(m.bias, 0)

            if zero_init_residual:
                for m in self.modules():
                    if isinstance(m, BasicBlock) and m.bn2.weight is not None:
                        M.init.constant_(m.bn2.weight, 0)

        def _make_layer(self, block, planes, blocks, stride=1):
            norm_layer = self._norm_layer
            downsample = None
            previous_dilation = self.dilation
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = M.Sequential(
                    conv1x1(self.inplanes, planes * block.expansion, stride),
                    norm_layer(planes * block.expansion),
                )
            layers = []
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    stride,
                    downsample,
                    self.groups,
                    self.base_width,
                    previous_dilation,
                    norm_layer,
                )
            )
            self.inplanes = planes * block.expansion
            for _ in range(1, blocks):
                layers.append(
                    block(
                        self.inplanes,
                        planes,
                        groups=self.groups,
                        base_width=self.base_width,
                        dilation=self.dilation,
                        norm_layer=norm_layer,
                    )
                )
            return M.Sequential(*layers)

        def forward(self, x):
            x = self.conv1(x)
            x = self.bn1(x)
            x = self.relu(x)
            x = self.maxpool(x)
            x = self.layer1(x)
            x = self.layer2(x)
            x = self.layer3(x)
            x = self.layer4(x)
            x = self.avgpool(x)
            x = o.flatten(x)
            x = self.fc(x)
            return x

    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, zero_init_residual)


# ---------------------------------------------------------------------------------------------
# A GPT-2 (Hugging Face's GPT2PreTrainedModel._init_weights, with nn.Linear for Conv1D), run
# with self.apply(self._init_weights) in __init__; the LM head is tied to the embedding first,
# so the tied weight is re-initialised twice, as in torch. The forward is Hugging Face's eager
# attention path (causal mask, scaled by 1/sqrt(head_dim), tanh GELU), dropout included.


def gpt2(
    M,
    vocab=96,
    n_positions=16,
    n_embd=32,
    n_layer=2,
    n_head=4,
    initializer_range=0.02,
    pdrop=0.1,
    attn_bias=True,
):
    xp = torch if M is tnn else jnp
    head_dim = n_embd // n_head

    class Attention(M.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = M.Linear(n_embd, 3 * n_embd, bias=attn_bias)
            self.c_proj = M.Linear(n_embd, n_embd)
            self.attn_dropout = M.Dropout(pdrop)
            self.resid_dropout = M.Dropout(pdrop)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = (
                y.reshape(b, t, n_head, head_dim).transpose(1, 2)
                if M is tnn
                else y.reshape(b, t, n_head, head_dim).transpose(0, 2, 1, 3)
                for y in (self.c_attn(x)[..., i * n_embd : (i + 1) * n_embd] for i in range(3))
            )
            kt = k.transpose(-1, -2) if M is tnn else k.transpose(0, 1, 3, 2)
            w = (q @ kt) / math.sqrt(head_dim)
            causal = (
                xp.tril(xp.ones((t, t), dtype=xp.bool))
                if M is tnn
                else jnp.tril(jnp.ones((t, t), bool))
            )
            w = xp.where(causal, w, xp.finfo(w.dtype).min)
            w = self.attn_dropout(M.functional.softmax(w, dim=-1))
            y = w @ v
            y = (y.transpose(1, 2) if M is tnn else y.transpose(0, 2, 1, 3)).reshape(b, t, n_embd)
            return self.resid_dropout(self.c_proj(y))

    class MLP(M.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = M.Linear(n_embd, 4 * n_embd)
            self.c_proj = M.Linear(4 * n_embd, n_embd)
            self.act = M.GELU(approximate="tanh")
            self.dropout = M.Dropout(pdrop)

        def forward(self, x):
            return self.dropout(self.c_proj(self.act(self.c_fc(x))))

    class Block(M.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = M.LayerNorm(n_embd, eps=1e-5)
            self.attn = Attention()
            self.ln_2 = M.LayerNorm(n_embd, eps=1e-5)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT2LMHeadModel(M.Module):
        def __init__(self):
            super().__init__()
            self.wte = M.Embedding(vocab, n_embd, padding_idx=0)
            self.wpe = M.Embedding(n_positions, n_embd)
            self.drop = M.Dropout(pdrop)
            self.h = M.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = M.LayerNorm(n_embd, eps=1e-5)
            self.lm_head = M.Linear(n_embd, vocab, bias=False)
            self.lm_head.weight = self.wte.weight
            self.apply(self._init_weights)

        def _init_weights(self, module):
            if isinstance(module, M.Linear):
                module.weight.data.normal_(mean=0.0, std=initializer_range)
                if module.bias is not None:
                    module.bias.data.zero_()
            elif isinstance(module, M.Embedding):
                module.weight.data.normal_(mean=0.0, std=initializer_range)
                if module.padding_idx is not None:
                    module.weight.data[module.padding_idx].zero_()
            elif isinstance(module, M.LayerNorm):
                module.bias.data.zero_()
                module.weight.data.fill_(1.0)
            for name, p in module.named_parameters():
                if name == "c_proj.weight":
                    p.data.normal_(mean=0.0, std=(initializer_range / math.sqrt(2 * n_layer)))

        def forward(self, ids):
            t = ids.shape[1]
            pos = xp.arange(t)
            x = self.drop(self.wte(ids) + self.wpe(pos)[None])
            for block in self.h:
                x = block(x)
            return self.lm_head(self.ln_f(x))

    return GPT2LMHeadModel()


# ---------------------------------------------------------------------------------------------
# An LSTM tagger on padded variable-length batches: embedding (padding index 0), a
# bidirectional two-layer LSTM over pack_padded_sequence(enforce_sorted=False), unpacked with
# pad_packed_sequence, and a per-token linear head.


def lstm_tagger(M, vocab=20, emb=8, hidden=6, tags=5, dropout=0.0):
    o = ops(M)

    class Tagger(M.Module):
        def __init__(self):
            super().__init__()
            self.embed = M.Embedding(vocab, emb, padding_idx=0)
            self.lstm = M.LSTM(
                emb, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=dropout
            )
            self.head = M.Linear(2 * hidden, tags)

        def forward(self, ids, lengths):
            packed = o.rnn.pack_padded_sequence(
                self.embed(ids), lengths, batch_first=True, enforce_sorted=False
            )
            out, _ = self.lstm(packed)
            out, _ = o.rnn.pad_packed_sequence(out, batch_first=True)
            return self.head(out)

    return Tagger()


# ---------------------------------------------------------------------------------------------
# A small U-Net: two down stages (conv-GroupNorm-SiLU twice, max-pool), a bottleneck, two up
# stages (ConvTranspose2d, concatenation with the skip connection, double conv), a 1x1 head.
# Convolutions re-initialised in the constructor (kaiming_normal_, zero bias) as user code does.


def unet(M, in_ch=3, out_ch=2, base=4, groups=2):
    o = ops(M)

    class DoubleConv(M.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.block = M.Sequential(
                M.Conv2d(cin, cout, 3, padding=1),
                M.GroupNorm(groups, cout),
                M.SiLU(),
                M.Conv2d(cout, cout, 3, padding=1),
                M.GroupNorm(groups, cout),
                M.SiLU(),
            )

        def forward(self, x):
            return self.block(x)

    class Up(M.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.up = M.ConvTranspose2d(cin, cout, kernel_size=2, stride=2)
            self.conv = DoubleConv(2 * cout, cout)

        def forward(self, x, skip):
            return self.conv(o.cat([skip, self.up(x)], 1))

    class UNet(M.Module):
        def __init__(self):
            super().__init__()
            self.inc = DoubleConv(in_ch, base)
            self.down1 = M.Sequential(M.MaxPool2d(2), DoubleConv(base, 2 * base))
            self.down2 = M.Sequential(M.MaxPool2d(2), DoubleConv(2 * base, 4 * base))
            self.up1 = Up(4 * base, 2 * base)
            self.up2 = Up(2 * base, base)
            self.outc = M.Conv2d(base, out_ch, 1)
            for m in self.modules():
                if isinstance(m, M.Conv2d):
                    M.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    M.init.zeros_(m.bias)

        def forward(self, x):
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x3 = self.down2(x2)
            return self.outc(self.up2(self.up1(x3, x2), x1))

    return UNet()


# ---------------------------------------------------------------------------------------------
# A ViT classifier over nn.TransformerEncoder: a patch-embedding convolution, a class token and
# learned positions (trunc_normal_ in the constructor, as timm), a pre-norm GELU encoder
# (batch_first), a final LayerNorm and a linear head on the class token.


def vit(M, image=8, patch=4, dim=16, depth=2, heads=4, classes=3, dropout=0.1):
    o = ops(M)
    n = (image // patch) ** 2

    class ViT(M.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = M.Conv2d(3, dim, patch, stride=patch)
            self.cls_token = o.param(1, 1, dim)
            self.pos_embed = o.param(1, n + 1, dim)
            layer = M.TransformerEncoderLayer(
                dim, heads, 2 * dim, dropout, activation="gelu", batch_first=True, norm_first=True
            )
            self.encoder = M.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            self.norm = M.LayerNorm(dim, eps=1e-6)
            self.head = M.Linear(dim, classes)
            M.init.trunc_normal_(self.pos_embed, std=0.02)
            M.init.trunc_normal_(self.cls_token, std=0.02)

        def forward(self, x):
            x = self.patch_embed(x)
            b, c = x.shape[0], x.shape[1]
            x = (
                x.reshape(b, c, -1).transpose(1, 2)
                if M is tnn
                else x.reshape(b, c, -1).transpose(0, 2, 1)
            )
            x = o.cat([o.expand(self.cls_token, (b, 1, c)), x], 1) + self.pos_embed
            x = self.norm(self.encoder(x))
            return self.head(x[:, 0])

    return ViT()
