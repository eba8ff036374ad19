"""Every loss of jaxinit.nn.functional against torch.nn.functional: values and input
gradients for every reduction and option, torch's errors, and the loss modules' state."""

import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from jaxinit import nn
from jaxinit.nn import functional as F

RNG = np.random.default_rng(0)
REDUCTIONS = ["none", "mean", "sum"]


@pytest.fixture(autouse=True)
def _seed(request):
    """Each test draws its data from its own seed: results do not depend on test order."""
    global RNG
    RNG = np.random.default_rng(zlib.crc32(request.node.name.encode()))


def _f32(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape).astype(np.float32)


def _to_torch(v, grad):
    if isinstance(v, np.ndarray):
        t = torch.from_numpy(v.copy())
        return t.requires_grad_(grad and t.is_floating_point())
    return v


def _to_jax(v):
    return jnp.asarray(v) if isinstance(v, np.ndarray) else v


def check(name, args, kwargs=None, grad_args=(0,), rtol=1e-5, atol=1e-6, torch_name=None):
    """Value and gradients (of the sum of the output) w.r.t. ``grad_args`` against torch."""
    kwargs = kwargs or {}
    t_args = [_to_torch(a, i in grad_args) for i, a in enumerate(args)]
    t_kwargs = {k: _to_torch(v, False) for k, v in kwargs.items()}
    t_out = getattr(TF, torch_name or name)(*t_args, **t_kwargs)
    j_fn = getattr(F, name)
    j_kwargs = {k: _to_jax(v) for k, v in kwargs.items()}

    def total(*diff):
        full = [_to_jax(a) for a in args]
        for i, d in zip(grad_args, diff):
            full[i] = d
        return jnp.sum(j_fn(*full, **j_kwargs))

    j_out = j_fn(*[_to_jax(a) for a in args], **j_kwargs)
    np.testing.assert_allclose(np.asarray(j_out), t_out.detach().numpy(), rtol=rtol, atol=atol)
    assert j_out.shape == tuple(t_out.shape)
    if not grad_args:
        return
    t_out.sum().backward()
    grads = jax.grad(total, argnums=tuple(range(len(grad_args))))(
        *[jnp.asarray(args[i]) for i in grad_args]
    )
    for i, g in zip(grad_args, grads):
        np.testing.assert_allclose(
            np.asarray(g), t_args[i].grad.numpy(), rtol=rtol, atol=max(atol, 1e-6)
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "smooth_l1_loss", "soft_margin_loss"])
def test_pointwise(name, reduction):
    x, t = _f32(4, 5), _f32(4, 5)
    if name == "soft_margin_loss":
        t = np.sign(t).astype(np.float32)
    check(name, [x, t], {"reduction": reduction}, grad_args=(0,) if t.min() < 0 else (0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_regression(reduction):
    x, t, w = _f32(3, 4), _f32(3, 4), _f32(3, 4, low=0.1, high=2)
    for name in ("l1_loss", "mse_loss", "huber_loss"):
        check(name, [x, t], {"reduction": reduction, "weight": w})


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0])
def test_smooth_l1_beta_and_huber_delta(beta):
    x, t = _f32(6, 3), _f32(6, 3)
    check("smooth_l1_loss", [x, t], {"beta": beta}, grad_args=(0, 1))
    if beta > 0:
        check("huber_loss", [x, t], {"delta": beta}, grad_args=(0, 1))


@pytest.mark.parametrize("shape, tshape", [((5, 4), (5,)), ((4,), ()), ((2, 4, 3, 2), (2, 3, 2))])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_and_nll_indices(shape, tshape, reduction):
    x = _f32(*shape)
    t = RNG.integers(0, shape[-1] if len(shape) == 1 else shape[1], tshape).astype(np.int64)
    w = _f32(shape[0] if len(shape) == 1 else shape[1], low=0.2, high=2)
    if t.ndim:
        t.flat[0] = 1  # an ignored entry, with ignore_index=1 below
    for kwargs in (
        {"reduction": reduction},
        {"reduction": reduction, "weight": w, "ignore_index": 1},
        {"reduction": reduction, "label_smoothing": 0.2},
        {"reduction": reduction, "weight": w, "ignore_index": 1, "label_smoothing": 0.3},
    ):
        check("cross_entropy", [x, t], kwargs)
        if "label_smoothing" not in kwargs:
            logp = np.asarray(jax.nn.log_softmax(x, axis=0 if x.ndim == 1 else 1))
            check("nll_loss", [logp, t], kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities(reduction):
    x = _f32(4, 5)
    p = np.asarray(jax.nn.softmax(_f32(4, 5), axis=1))
    w = _f32(5, low=0.2, high=2)
    check("cross_entropy", [x, p], {"reduction": reduction}, grad_args=(0, 1))
    check("cross_entropy", [x, p], {"reduction": reduction, "weight": w, "label_smoothing": 0.1})


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x, t = _f32(3, 4), np.full((3,), -100, np.int64)
    assert np.isnan(float(F.cross_entropy(jnp.asarray(x), jnp.asarray(t))))
    assert torch.isnan(TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(t)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    x = _f32(4, 3, low=0.01, high=0.99)
    t = RNG.uniform(0, 1, (4, 3)).astype(np.float32)
    w = _f32(3, low=0.2, high=2)
    check("binary_cross_entropy", [x, t], {"reduction": reduction}, grad_args=(0, 1))
    check("binary_cross_entropy", [x, t], {"reduction": reduction, "weight": w})
    xs, ts = _f32(4, 3), RNG.uniform(0, 1, (4, 3)).astype(np.float32)
    check("binary_cross_entropy_with_logits", [xs, ts], {"reduction": reduction}, grad_args=(0, 1))
    check(
        "binary_cross_entropy_with_logits",
        [xs, ts],
        {"reduction": reduction, "weight": w, "pos_weight": _f32(3, low=0.5, high=3)},
        grad_args=(0, 1),
    )


def test_binary_cross_entropy_log_clamp():
    x = np.array([0.0, 1.0, 0.5], np.float32)
    t = np.array([1.0, 0.0, 0.5], np.float32)
    check("binary_cross_entropy", [x, t], {"reduction": "none"}, grad_args=())


@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    x = np.asarray(jax.nn.log_softmax(_f32(3, 5), axis=1))
    t = np.asarray(jax.nn.softmax(_f32(3, 5), axis=1))
    if log_target:
        t = np.log(t)
    with pytest.warns(UserWarning) if reduction == "mean" else _no_warning():
        check("kl_div", [x, t], {"reduction": reduction, "log_target": log_target})


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("log_input, full", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll(log_input, full, reduction):
    x = _f32(4, 3) if log_input else _f32(4, 3, low=0.1, high=3)
    t = RNG.integers(0, 5, (4, 3)).astype(np.float32)
    check(
        "poisson_nll_loss", [x, t], {"log_input": log_input, "full": full, "reduction": reduction}
    )


@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1)])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll(var_shape, full):
    x, t = _f32(4, 3), _f32(4, 3)
    var = _f32(*var_shape, low=0.0, high=2)
    var.flat[0] = 1e-9  # clamped to eps in value, gradient passes unchanged
    for reduction in REDUCTIONS:
        check(
            "gaussian_nll_loss",
            [x, t, var],
            {"full": full, "reduction": reduction},
            grad_args=(0, 1, 2),
            rtol=2e-5,
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin(reduction):
    x, t = _f32(4, 5), RNG.integers(0, 2, (4, 5)).astype(np.float32)
    check("multilabel_soft_margin_loss", [x, t], {"reduction": reduction})
    check(
        "multilabel_soft_margin_loss",
        [x, t],
        {"reduction": reduction, "weight": _f32(5, low=0.1, high=2)},
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_family(reduction):
    a, b = _f32(6), _f32(6)
    y = np.sign(_f32(6)).astype(np.float32)
    check(
        "margin_ranking_loss", [a, b, y], {"margin": 0.3, "reduction": reduction}, grad_args=(0, 1)
    )
    check("hinge_embedding_loss", [_f32(6), y], {"margin": 0.7, "reduction": reduction})
    x1, x2 = _f32(6, 4), _f32(6, 4)
    check(
        "cosine_embedding_loss",
        [x1, x2, y],
        {"margin": 0.2, "reduction": reduction},
        grad_args=(0, 1),
    )
    check(
        "cosine_embedding_loss",
        [_f32(4), _f32(4), np.array(-1.0, np.float32)],
        {"reduction": reduction},
        grad_args=(0, 1),
    )


@pytest.mark.parametrize("p, swap", [(2.0, False), (1.0, True), (3.0, False)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet(p, swap, reduction):
    a, pos, neg = _f32(5, 4), _f32(5, 4), _f32(5, 4)
    check(
        "triplet_margin_loss",
        [a, pos, neg],
        {"p": p, "swap": swap, "margin": 0.8, "reduction": reduction},
        grad_args=(0, 1, 2),
    )
    check(
        "triplet_margin_with_distance_loss",
        [a, pos, neg],
        {"swap": swap, "margin": 0.8, "reduction": reduction},
        grad_args=(0, 1, 2),
    )


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin(p, reduction):
    x, t = _f32(5, 4), RNG.integers(0, 4, (5,)).astype(np.int64)
    check("multi_margin_loss", [x, t], {"p": p, "margin": 0.7, "reduction": reduction})
    check(
        "multi_margin_loss",
        [x, t],
        {"p": p, "reduction": reduction, "weight": _f32(4, low=0.1, high=2)},
    )
    check("multi_margin_loss", [_f32(4), np.array(2, np.int64)], {"p": p, "reduction": reduction})


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin(reduction):
    x = _f32(3, 5)
    t = np.array([[3, 0, -1, 1, 2], [1, 1, 4, -1, -1], [-1, 2, 3, 0, 0]], np.int64)
    check("multilabel_margin_loss", [x, t], {"reduction": reduction})
    check(
        "multilabel_margin_loss",
        [_f32(4), np.array([2, 0, -1, 3], np.int64)],
        {"reduction": reduction},
    )


def _ctc_case(concatenated):
    t_max, n, c = 12, 4, 6
    logits = _f32(t_max, n, c)
    input_lengths = np.array([12, 10, 7, 3], np.int64)
    target_lengths = np.array([4, 3, 0, 3], np.int64)  # the last one cannot fit with repeats
    targets = RNG.integers(1, c, (n, 5)).astype(np.int64)
    targets[3, :3] = [2, 2, 2]  # needs 5 frames, has 3: infinite loss
    if concatenated:
        targets = np.concatenate([targets[i, : target_lengths[i]] for i in range(n)])
    return logits, targets, input_lengths, target_lengths


@pytest.mark.parametrize("concatenated", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_loss(concatenated, reduction):
    """Values, and gradients w.r.t. the logits under log_softmax: torch's ctc backward returns
    ``exp(lp) - posterior`` for log_probs (exact only after log_softmax), so the meaningful
    comparison, and the one users train with, is through log_softmax."""
    logits, targets, il, tl = _ctc_case(concatenated)
    kwargs = {"reduction": reduction, "zero_infinity": True}

    def ours(z):
        return jnp.sum(F.ctc_loss(jax.nn.log_softmax(z, axis=2), targets, il, tl, **kwargs))

    z = torch.from_numpy(logits).requires_grad_(True)
    want = TF.ctc_loss(
        TF.log_softmax(z, 2),
        torch.from_numpy(targets),
        torch.from_numpy(il),
        torch.from_numpy(tl),
        **kwargs,
    ).sum()
    want.backward()
    value, grad = jax.value_and_grad(ours)(jnp.asarray(logits))
    np.testing.assert_allclose(float(value), want.item(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), z.grad.numpy(), rtol=1e-4, atol=1e-6)
    logp = np.asarray(jax.nn.log_softmax(logits, axis=2))
    out = F.ctc_loss(logp, targets, il, tl, reduction="none")
    expected = TF.ctc_loss(
        torch.from_numpy(logp),
        torch.from_numpy(targets),
        torch.from_numpy(il),
        torch.from_numpy(tl),
        reduction="none",
    )
    np.testing.assert_allclose(np.asarray(out), expected.numpy(), rtol=1e-5)
    assert np.isinf(np.asarray(out)[3])


def test_ctc_unbatched_and_jit():
    logits, targets, il, tl = _ctc_case(False)
    logp = np.asarray(jax.nn.log_softmax(logits, axis=2))
    target = targets[0, : tl[0]]
    got = F.ctc_loss(logp[:, 0], target, il[0], tl[0], reduction="none")
    want = TF.ctc_loss(
        torch.from_numpy(logp[:, 0]),
        torch.from_numpy(target),
        torch.tensor(il[0]),
        torch.tensor(tl[0]),
        reduction="none",
    )
    np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=1e-5)
    jitted = jax.jit(lambda *a: F.ctc_loss(*a, zero_infinity=True))(logp, targets, il, tl)
    np.testing.assert_array_equal(
        np.asarray(jitted), np.asarray(F.ctc_loss(logp, targets, il, tl, zero_infinity=True))
    )


def _ones(*shape):
    return np.ones(shape, np.float32)


def _ints(values):
    return np.asarray(values, np.int64)


ERROR_CASES = [
    ("cross_entropy", [_ones(2, 3), _ints([0, 1, 1])], {}),
    ("nll_loss", [_ones(2, 3), _ints([0, 5])], {}),
    ("nll_loss", [_ones(2, 3, 4), _ints([[0, 1, 1], [0, 0, 0]])], {}),
    ("binary_cross_entropy", [_ones(2, 3) * 0.5, _ones(2)], {}),
    ("binary_cross_entropy", [_ones(2) * 2, _ones(2)], {}),
    ("binary_cross_entropy_with_logits", [_ones(2, 3), _ones(3)], {}),
    ("mse_loss", [_ones(2), _ones(2)], {"reduction": "foo"}),
    ("cross_entropy", [_ones(2, 3), _ones(2, 3)], {"ignore_index": 1}),
    ("cross_entropy", [_ones(2, 3), _ints([0, 1])], {"label_smoothing": 1.5}),
    ("multi_margin_loss", [_ones(2, 3), _ints([0, 1])], {"p": 3}),
    ("triplet_margin_loss", [_ones(2, 3), _ones(2, 3), _ones(3)], {}),
    ("triplet_margin_loss", [_ones(2, 3), _ones(2, 3), _ones(2, 3)], {"margin": 0.0}),
    ("gaussian_nll_loss", [_ones(2, 3), _ones(2, 3), _ones(3, 2)], {}),
    ("gaussian_nll_loss", [_ones(2, 3), _ones(2, 3), -_ones(2, 3)], {}),
    ("smooth_l1_loss", [_ones(2), _ones(2)], {"beta": -1.0}),
    ("mse_loss", [_ones(2, 3), _ones(2, 3)], {"weight": _ones(3)}),
]


@pytest.mark.parametrize("name, args, kwargs", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_match_torch(name, args, kwargs):
    """The same exception type as torch, and torch's message (shapes print as tuples)."""
    with pytest.raises(Exception) as t_err:
        getattr(TF, name)(
            *[torch.from_numpy(a) for a in args],
            **{k: _to_torch(v, False) for k, v in kwargs.items()},
        )
    with pytest.raises(type(t_err.value)) as j_err:
        getattr(F, name)(
            *[jnp.asarray(a) for a in args], **{k: _to_jax(v) for k, v in kwargs.items()}
        )
    t_msg = str(t_err.value).replace("torch.Size(", "").replace("])", "]")
    prefix = t_msg.split("[")[0].split("(")[0]
    assert str(j_err.value).startswith(prefix), (str(j_err.value), t_msg)


def test_modules_state_dict_and_repr():
    w = np.array([1.0, 2.0, 0.5], np.float32)
    ours = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, ignore_index=2)
    theirs = torch.nn.CrossEntropyLoss(
        weight=torch.from_numpy(w), label_smoothing=0.1, ignore_index=2
    )
    assert repr(ours) == repr(theirs)
    variables = ours.load_state_dict(None, theirs.state_dict())[0]
    assert list(ours.state_dict(variables)) == list(theirs.state_dict()) == ["weight"]
    x, t = _f32(4, 3), np.array([0, 2, 1, 1], np.int64)
    want = theirs(torch.from_numpy(x), torch.from_numpy(t)).item()
    np.testing.assert_allclose(float(ours(variables, x, t)), want, rtol=1e-6)
    np.testing.assert_allclose(float(ours(x, t)), want, rtol=1e-6)  # torch's call form
    bce = nn.BCEWithLogitsLoss(weight=w, pos_weight=w)
    tbce = torch.nn.BCEWithLogitsLoss(weight=torch.from_numpy(w), pos_weight=torch.from_numpy(w))
    assert list(bce.state_dict(bce.load_state_dict(None, tbce.state_dict())[0])) == list(
        tbce.state_dict()
    )


@pytest.mark.parametrize("flags", [{"size_average": False}, {"reduce": False}])
def test_legacy_reduction_flags(flags):
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        ours = nn.L1Loss(**flags)
    with pytest.warns(UserWarning):
        theirs = torch.nn.L1Loss(**flags)
    assert ours.reduction == theirs.reduction


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        ("HuberLoss", {"delta": 0.5}),
        ("SmoothL1Loss", {"beta": 0.5}),
        ("KLDivLoss", {"log_target": True, "reduction": "batchmean"}),
        ("PoissonNLLLoss", {"full": True}),
        ("GaussianNLLLoss", {"full": True}),
        ("CTCLoss", {"blank": 1, "zero_infinity": True}),
        ("MultiMarginLoss", {"p": 2}),
        ("TripletMarginLoss", {"swap": True}),
        ("CosineEmbeddingLoss", {"margin": 0.5}),
        ("MarginRankingLoss", {"margin": 0.5}),
        ("HingeEmbeddingLoss", {"margin": 2.0}),
        ("NLLLoss", {"ignore_index": 3}),
    ],
)
def test_module_hyperparameters_and_repr(cls, kwargs):
    ours, theirs = getattr(nn, cls)(**kwargs), getattr(torch.nn, cls)(**kwargs)
    assert repr(ours) == repr(theirs)
    for field in list(kwargs) + ["reduction"]:
        assert getattr(ours, field) == getattr(theirs, field)
