"""Every loss of jaxinit.nn.functional against torch.nn.functional: values and input
gradients for every reduction and option, torch's errors, and the loss modules' state."""

import zlib
from contextlib import contextmanager
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _xla_speed import CHECK_COMPILE

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


# A batch's program is compiled with CHECK_COMPILE (tests/_xla_speed.py)
_BATCH = None  # inside a batched() block: the list of its checks, run together on its exit


@contextmanager
def batched():
    """Collect the ``check`` calls of the block and run all of ours as ONE jitted program on
    exit (values and input gradients of every case): one XLA compile instead of a few dozen
    op-by-op ones per case. Each case is still asserted on its own, its message naming it."""
    global _BATCH
    assert _BATCH is None, "batched() blocks do not nest"
    _BATCH = cases = []
    try:
        yield
    finally:
        _BATCH = None
    run = jax.jit(
        lambda diffs: [_ours(c, d) for c, d in zip(cases, diffs)],
        compiler_options=CHECK_COMPILE,
    )
    results = run([tuple(jnp.asarray(c["args"][i]) for i in c["grad_args"]) for c in cases])
    for case, (out, grads) in zip(cases, results):
        _compare(case, out, grads)


def _ours(case, diff):
    """Our loss of ``case`` and, by vjp of a ones cotangent, the gradients of its sum."""
    j_fn, grad_args = getattr(F, case["name"]), case["grad_args"]
    j_kwargs = {k: _to_jax(v) for k, v in case["kwargs"].items()}

    def fn(*d):
        full = [_to_jax(a) for a in case["args"]]  # the others as constants: still concrete
        for i, v in zip(grad_args, d):
            full[i] = v
        return j_fn(*full, **j_kwargs)

    if not grad_args:
        return fn(), ()
    out, pullback = jax.vjp(fn, *diff)
    return out, pullback(jnp.ones_like(out))


def _compare(case, j_out, grads):
    args, grad_args, kwargs = case["args"], case["grad_args"], case["kwargs"]
    rtol, atol, label = case["rtol"], case["atol"], case["label"]
    t_args = [_to_torch(a, i in grad_args) for i, a in enumerate(args)]
    t_kwargs = {k: _to_torch(v, False) for k, v in kwargs.items()}
    t_out = getattr(TF, case["torch_name"] or case["name"])(*t_args, **t_kwargs)
    np.testing.assert_allclose(
        np.asarray(j_out), t_out.detach().numpy(), rtol=rtol, atol=atol, err_msg=label
    )
    assert j_out.shape == tuple(t_out.shape), label
    if not grad_args:
        return
    t_out.sum().backward()
    for i, g in zip(grad_args, grads):
        np.testing.assert_allclose(
            np.asarray(g),
            t_args[i].grad.numpy(),
            rtol=rtol,
            atol=max(atol, 1e-6),
            err_msg=f"{label}: gradient w.r.t. argument {i}",
        )


def _label(name, args, kwargs):
    """The case, for failure messages: the loss, its arguments' shapes and its options."""
    shapes = ", ".join(str(getattr(a, "shape", a)) for a in args)
    options = ", ".join(
        f"{k}={getattr(v, 'shape', v) if isinstance(v, np.ndarray) else v}"
        for k, v in kwargs.items()
    )
    return f"{name}({shapes}; {options})"


def check(name, args, kwargs=None, grad_args=(0,), rtol=1e-5, atol=1e-6, torch_name=None):
    """Value and gradients (of the sum of the output) w.r.t. ``grad_args`` against torch;
    inside ``batched()`` the check runs (jitted, with the block's others) at the block's end,
    else at once (op by op, eagerly)."""
    kwargs = kwargs or {}
    case = dict(name=name, args=args, kwargs=kwargs, grad_args=grad_args, rtol=rtol, atol=atol)
    case.update(torch_name=torch_name, label=_label(name, args, kwargs))
    if _BATCH is not None:
        _BATCH.append(case)
        return
    _compare(case, *_ours(case, [jnp.asarray(args[i]) for i in grad_args]))


# Each test below runs its cases (every reduction and option) as one batched() program;
# every case keeps its own assertions, their messages naming it.


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "smooth_l1_loss", "soft_margin_loss"])
def test_pointwise(name):
    with batched():
        for reduction in REDUCTIONS:
            x, t = _f32(4, 5), _f32(4, 5)
            if name == "soft_margin_loss":
                t = np.sign(t).astype(np.float32)
            grad_args = (0,) if t.min() < 0 else (0, 1)
            check(name, [x, t], {"reduction": reduction}, grad_args=grad_args)


def test_weighted_regression():
    with batched():
        for reduction in REDUCTIONS:
            x, t, w = _f32(3, 4), _f32(3, 4), _f32(3, 4, low=0.1, high=2)
            for name in ("l1_loss", "mse_loss", "huber_loss"):
                check(name, [x, t], {"reduction": reduction, "weight": w})


def test_smooth_l1_beta_and_huber_delta():
    with batched():
        for beta in [0.0, 0.5, 2.0]:
            x, t = _f32(6, 3), _f32(6, 3)
            check("smooth_l1_loss", [x, t], {"beta": beta}, grad_args=(0, 1))
            if beta > 0:
                check("huber_loss", [x, t], {"delta": beta}, grad_args=(0, 1))


@pytest.mark.parametrize("shape, tshape", [((5, 4), (5,)), ((4,), ()), ((2, 4, 3, 2), (2, 3, 2))])
def test_cross_entropy_and_nll_indices(shape, tshape):
    with batched():
        for reduction in REDUCTIONS:
            x = _f32(*shape)
            t = RNG.integers(0, shape[-1] if len(shape) == 1 else shape[1], tshape)
            t = t.astype(np.int64)
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


def test_cross_entropy_probabilities():
    with batched():
        for reduction in REDUCTIONS:
            x = _f32(4, 5)
            p = np.asarray(jax.nn.softmax(_f32(4, 5), axis=1))
            w = _f32(5, low=0.2, high=2)
            check("cross_entropy", [x, p], {"reduction": reduction}, grad_args=(0, 1))
            kwargs = {"reduction": reduction, "weight": w, "label_smoothing": 0.1}
            check("cross_entropy", [x, p], kwargs)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x, t = _f32(3, 4), np.full((3,), -100, np.int64)
    assert np.isnan(float(F.cross_entropy(jnp.asarray(x), jnp.asarray(t))))
    assert torch.isnan(TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(t)))


def test_binary_cross_entropy():
    with batched():
        for reduction in REDUCTIONS:
            x = _f32(4, 3, low=0.01, high=0.99)
            t = RNG.uniform(0, 1, (4, 3)).astype(np.float32)
            w = _f32(3, low=0.2, high=2)
            check("binary_cross_entropy", [x, t], {"reduction": reduction}, grad_args=(0, 1))
            check("binary_cross_entropy", [x, t], {"reduction": reduction, "weight": w})
            xs, ts = _f32(4, 3), RNG.uniform(0, 1, (4, 3)).astype(np.float32)
            name = "binary_cross_entropy_with_logits"
            check(name, [xs, ts], {"reduction": reduction}, grad_args=(0, 1))
            pos_weight = _f32(3, low=0.5, high=3)
            kwargs = {"reduction": reduction, "weight": w, "pos_weight": pos_weight}
            check(name, [xs, ts], kwargs, grad_args=(0, 1))


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


def test_poisson_nll():
    with batched():
        for log_input, full in [(True, False), (False, True), (True, True)]:
            for reduction in REDUCTIONS:
                x = _f32(4, 3) if log_input else _f32(4, 3, low=0.1, high=3)
                t = RNG.integers(0, 5, (4, 3)).astype(np.float32)
                kwargs = {"log_input": log_input, "full": full, "reduction": reduction}
                check("poisson_nll_loss", [x, t], kwargs)


def test_gaussian_nll():
    with batched():
        for var_shape in [(4, 3), (4,), (4, 1)]:
            for full in [False, True]:
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


def test_multilabel_soft_margin():
    with batched():
        for reduction in REDUCTIONS:
            x, t = _f32(4, 5), RNG.integers(0, 2, (4, 5)).astype(np.float32)
            check("multilabel_soft_margin_loss", [x, t], {"reduction": reduction})
            kwargs = {"reduction": reduction, "weight": _f32(5, low=0.1, high=2)}
            check("multilabel_soft_margin_loss", [x, t], kwargs)


def test_margin_family():
    with batched():
        for reduction in REDUCTIONS:
            a, b = _f32(6), _f32(6)
            y = np.sign(_f32(6)).astype(np.float32)
            kwargs = {"margin": 0.3, "reduction": reduction}
            check("margin_ranking_loss", [a, b, y], kwargs, grad_args=(0, 1))
            check("hinge_embedding_loss", [_f32(6), y], {"margin": 0.7, "reduction": reduction})
            x1, x2 = _f32(6, 4), _f32(6, 4)
            kwargs = {"margin": 0.2, "reduction": reduction}
            check("cosine_embedding_loss", [x1, x2, y], kwargs, grad_args=(0, 1))
            check(
                "cosine_embedding_loss",
                [_f32(4), _f32(4), np.array(-1.0, np.float32)],
                {"reduction": reduction},
                grad_args=(0, 1),
            )


def test_triplet():
    with batched():
        for p, swap in [(2.0, False), (1.0, True), (3.0, False)]:
            for reduction in REDUCTIONS:
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


def test_multi_margin():
    with batched():
        for p in [1, 2]:
            for reduction in REDUCTIONS:
                x, t = _f32(5, 4), RNG.integers(0, 4, (5,)).astype(np.int64)
                kwargs = {"p": p, "margin": 0.7, "reduction": reduction}
                check("multi_margin_loss", [x, t], kwargs)
                kwargs = {"p": p, "reduction": reduction, "weight": _f32(4, low=0.1, high=2)}
                check("multi_margin_loss", [x, t], kwargs)
                kwargs = {"p": p, "reduction": reduction}
                check("multi_margin_loss", [_f32(4), np.array(2, np.int64)], kwargs)


def test_multilabel_margin():
    with batched():
        for reduction in REDUCTIONS:
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
def test_ctc_loss(concatenated):
    """Values, and gradients w.r.t. the logits under log_softmax: torch's ctc backward returns
    ``exp(lp) - posterior`` for log_probs (exact only after log_softmax), so the meaningful
    comparison, and the one users train with, is through log_softmax. Every reduction and the
    unreduced losses of log-probabilities in one jitted program (the lengths and targets are
    constants in it, so their concrete checks run)."""
    logits, targets, il, tl = _ctc_case(concatenated)
    logp = np.asarray(jax.nn.log_softmax(logits, axis=2))

    def ours(z, reduction):
        kwargs = {"reduction": reduction, "zero_infinity": True}
        return jnp.sum(F.ctc_loss(jax.nn.log_softmax(z, axis=2), targets, il, tl, **kwargs))

    @partial(jax.jit, compiler_options=CHECK_COMPILE)
    def all_of_ours(z, lp):
        grads = {r: jax.value_and_grad(ours)(z, r) for r in REDUCTIONS}
        return grads, F.ctc_loss(lp, targets, il, tl, reduction="none")

    got, out = all_of_ours(jnp.asarray(logits), jnp.asarray(logp))
    for reduction in REDUCTIONS:
        z = torch.from_numpy(logits).requires_grad_(True)
        want = TF.ctc_loss(
            TF.log_softmax(z, 2),
            torch.from_numpy(targets),
            torch.from_numpy(il),
            torch.from_numpy(tl),
            reduction=reduction,
            zero_infinity=True,
        ).sum()
        want.backward()
        value, grad = got[reduction]
        np.testing.assert_allclose(float(value), want.item(), rtol=1e-5, err_msg=reduction)
        np.testing.assert_allclose(
            np.asarray(grad), z.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=reduction
        )
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
    # jitted (one compile, not the ops one by one; the eager path is compared below)
    unbatched = jax.jit(
        lambda lp: F.ctc_loss(lp, target, il[0], tl[0], reduction="none"),
        compiler_options=CHECK_COMPILE,
    )
    got = unbatched(logp[:, 0])
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
