"""Five real models ported to jaxinit and kept checked against torch with jaxinit.testing.

Each model (tests/torch/models.py, written once over ``M`` = ``torch.nn`` or ``jaxinit.nn``):
TorchGenerator initial weights bitwise with constructor re-inits, state_dict keys, eval outputs
and gradients by name (jaxinit.testing.assert_matches_torch), train-mode outputs, running
statistics and gradients (dropout 0: masks differ between frameworks), jaxinit.save/load back
into torch with a strict load_state_dict, and one training step with the same optimizer.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

torch = pytest.importorskip("torch")

from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles
from models import built_bitwise, gpt2, lstm_tagger, resnet18, unet, vit  # noqa: E402

import jaxinit  # noqa: E402
from jaxinit.interop import to_torch  # noqa: E402
from jaxinit.testing import assert_matches_torch  # noqa: E402
from jaxinit.testing.compare import diff  # noqa: E402

F = torch.nn.functional
rs = np.random.RandomState(0)


def ce_torch(logits, y):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-1)


def ce_jax(logits, y):
    logits, y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
    mask = y >= 0
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.where(mask, y, 0))
    return jnp.sum(jnp.where(mask, losses, 0.0)) / jnp.sum(mask)


def sgd(torch_params):
    return (
        torch.optim.SGD(torch_params, lr=0.1, momentum=0.9, weight_decay=1e-4),
        optax.chain(optax.add_decayed_weights(1e-4), optax.sgd(0.1, momentum=0.9)),
    )


def adam(torch_params):
    return torch.optim.Adam(torch_params, lr=1e-2), optax.adam(1e-2)


IDS = rs.randint(1, 96, size=(2, 8))
TAGGED = rs.randint(1, 20, size=(2, 6))
TAGGED[1, 4:] = 0  # the second sentence is 4 tokens long
TAGS = rs.randint(0, 5, size=(2, 6))
TAGS[1, 4:] = -1

# name: (make(M, dropout), inputs, target, optimizer, seed)
MODELS = {
    # 64x64: layer4 keeps 2x2 pixels, so train-mode BatchNorm normalizes 8 values, not 2
    "resnet18": (
        lambda M, p: resnet18(M, num_classes=3, width=4),
        (rs.randn(2, 3, 64, 64).astype(np.float32),),
        np.array([0, 2]),
        sgd,
        0,
    ),
    "gpt2": (lambda M, p: gpt2(M, pdrop=p), (IDS,), np.roll(IDS, -1, 1), sgd, 1),
    "lstm_tagger": (
        lambda M, p: lstm_tagger(M, dropout=p),
        (TAGGED, np.array([6, 4])),
        TAGS,
        adam,
        2,
    ),
    "unet": (
        lambda M, p: unet(M),
        (rs.randn(2, 3, 8, 8).astype(np.float32),),
        rs.randint(0, 2, size=(2, 8, 8)),
        sgd,
        3,
    ),
    "vit": (
        lambda M, p: vit(M, dropout=p),
        (rs.randn(2, 3, 8, 8).astype(np.float32),),
        np.array([1, 2]),
        sgd,
        4,
    ),
}


def unet_target(logits):  # per-pixel classes over the channel axis
    return logits.moveaxis(1, -1) if hasattr(logits, "moveaxis") else jnp.moveaxis(logits, 1, -1)


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_torch(name, tmp_path):
    make, inputs, target, optimizer, seed = MODELS[name]
    # TorchGenerator init, constructor re-inits included, bitwise; the same state_dict keys
    tm, jm, v = built_bitwise(lambda M: make(M, 0.1), seed)
    # eval outputs (dropout on: eval ignores it)
    assert_matches_torch(tm, jm, *inputs, variables=v, rtol=1e-4, atol=1e-5)

    # train mode without dropout: outputs, running statistics, gradients
    tm, jm, v = built_bitwise(lambda M: make(M, 0.0), seed)
    # elementwise rule: a ResNet-18 weight gradient sums thousands of products in another
    # order (seen: 1.4e-5 off at 0.034), hence atol 5e-5 beside rtol 1e-4
    assert_matches_torch(tm, jm, *inputs, variables=v, train=True, grads=True, rtol=1e-4, atol=5e-5)

    # jaxinit.save / load, back into torch strictly
    jaxinit.save(v, tmp_path / "model.msgpack")
    loaded = jaxinit.load(tmp_path / "model.msgpack", like=v)
    back = make(torch.nn, 0.0)
    back.load_state_dict(to_torch(jm.state_dict(loaded)), strict=True)
    for key, t in back.state_dict().items():
        assert np.array_equal(t.numpy(), tm.state_dict()[key].numpy()), key

    # one training step with the same optimizer
    per_pixel = name == "unet"
    opt, tx = optimizer(tm.parameters())
    tm.train()
    t_in = [torch.from_numpy(x) for x in inputs]
    out = tm(*t_in)
    out = unet_target(out) if per_pixel else out
    loss = ce_torch(out, torch.from_numpy(target))
    opt.zero_grad()
    loss.backward()
    opt.step()

    params, buffers = jm.split(v)

    def objective(p):
        out, new = jm(jm.merge(p, buffers), *map(jnp.asarray, inputs), train=True)
        return ce_jax(unet_target(out) if per_pixel else out, jnp.asarray(target)), new

    def step(params):  # one program: loss, gradients and the optimizer's first update
        (j_loss, new), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, _ = tx.update(grads, tx.init(params), params)
        return j_loss, optax.apply_updates(params, updates), new

    with jax.numpy_dtype_promotion("standard"):
        j_loss, params, new = jax.jit(step)(params)
    assert abs(float(j_loss) - loss.item()) <= 1e-5 * abs(loss.item())
    after = jm.state_dict(jm.merge(params, jm.split(new)[1]))
    for key, t in tm.state_dict().items():
        j = np.asarray(after[key])
        max_abs, max_rel, ok = diff(t.numpy(), j.astype(t.numpy().dtype), 1e-5, 1e-6)
        assert ok, (key, max_abs, max_rel)
