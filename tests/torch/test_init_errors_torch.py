"""jaxinit.init against torch.nn.init (torch 2.13 CPU): the same bad inputs on both sides fail
with the matching exception and meaning; the same warnings and no-ops."""

import math
import warnings

import jax.numpy as jnp
import pytest

torch = pytest.importorskip("torch")
from _init_torch_helpers import (  # noqa: E402
    KEY,
    T,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    tensor,
)

from jaxinit import init  # noqa: E402

# ---------------------------------------------------------------------------------------------
# The same bad inputs on both sides


ERROR_CASES = [
    # (torch call, our call, torch's exception, ours, a phrase both messages contain)
    (
        lambda: T.uniform_(tensor(3), 1.0, 0.0),
        lambda: init.uniform(KEY, (3,), a=1.0, b=0.0),
        RuntimeError,
        ValueError,
        r"\[from, to\) range, but found from=1 > to=0",
    ),
    (
        lambda: T.uniform_(tensor(0), 1.0, 0.0),
        lambda: init.uniform(KEY, (0,), a=1.0, b=0.0),
        RuntimeError,
        ValueError,
        "from=1 > to=0",
    ),
    (
        lambda: T.uniform_(tensor(3), -math.inf, 0.0),
        lambda: init.uniform(KEY, (3,), a=-math.inf, b=0.0),
        RuntimeError,
        ValueError,
        "from is out of bounds for float",
    ),
    (
        lambda: T.uniform_(tensor(3), 0.0, math.nan),
        lambda: init.uniform(KEY, (3,), b=math.nan),
        RuntimeError,
        ValueError,
        "to is out of bounds for float",
    ),
    (
        lambda: T.uniform_(tensor(3), 0.0, 1e39),
        lambda: init.uniform(KEY, (3,), b=1e39),
        RuntimeError,
        ValueError,
        "to is out of bounds",
    ),
    (
        lambda: T.uniform_(tensor(3, torch.float16), 0.0, 7e4),
        lambda: init.uniform(KEY, (3,), jnp.float16, b=7e4),
        RuntimeError,
        ValueError,
        "to is out of bounds",
    ),
    (
        lambda: T.uniform_(tensor(3), -3e38, 3e38),
        lambda: init.uniform(KEY, (3,), a=-3e38, b=3e38),
        RuntimeError,
        ValueError,
        "to=3e\\+38 and from=-3e\\+38 which result in to-from to exceed",
    ),
    (
        lambda: T.normal_(tensor(3), 0.0, -1.0),
        lambda: init.normal(KEY, (3,), std=-1.0),
        RuntimeError,
        ValueError,
        "normal expects std >= 0.0, but found std -1",
    ),
    (
        lambda: T.normal_(tensor(0), 0.0, math.nan),
        lambda: init.normal(KEY, (0,), std=math.nan),
        RuntimeError,
        ValueError,
        "normal expects std >= 0.0, but found std nan",
    ),
    (
        lambda: T.xavier_normal_(tensor((3, 4)), -1.0),
        lambda: init.xavier_normal(KEY, (3, 4), gain=-1.0),
        RuntimeError,
        ValueError,
        "normal expects std >= 0.0",
    ),
    (
        lambda: T.xavier_uniform_(tensor((3, 4)), -1.0),
        lambda: init.xavier_uniform(KEY, (3, 4), gain=-1.0),
        RuntimeError,
        ValueError,
        r"\[from, to\) range",
    ),
    (
        lambda: T.sparse_(tensor((3, 4)), 0.1, -1.0),
        lambda: init.sparse(KEY, (3, 4), sparsity=0.1, std=-1.0),
        RuntimeError,
        ValueError,
        "normal expects std >= 0.0",
    ),
    (
        lambda: T.trunc_normal_(tensor(3), 0.0, 0.0),
        lambda: init.trunc_normal(KEY, (3,), std=0.0),
        ZeroDivisionError,
        ZeroDivisionError,
        "float division by zero",
    ),
    (
        lambda: T.trunc_normal_(tensor(3), 0.0, 1.0, 2.0, -2.0),
        lambda: init.trunc_normal(KEY, (3,), a=2.0, b=-2.0),
        RuntimeError,
        ValueError,
        "found from=2 > to=-2",
    ),
    (
        lambda: T.trunc_normal_(tensor(0), 0.0, 1.0, 2.0, -2.0),
        lambda: init.trunc_normal(KEY, (0,), a=2.0, b=-2.0),
        RuntimeError,
        ValueError,
        "found from=2 > to=-2",
    ),
    (
        lambda: T.trunc_normal_(tensor(3), 0.0, 1.0, 5.0, math.inf),
        lambda: init.trunc_normal(KEY, (3,), a=5.0, b=math.inf),
        RuntimeError,
        ValueError,
        "to is out of bounds",
    ),
    (
        lambda: T.xavier_uniform_(tensor((0, 0))),
        lambda: init.xavier_uniform(KEY, (0, 0)),
        ZeroDivisionError,
        ZeroDivisionError,
        "float division by zero",
    ),
    (
        lambda: T.xavier_normal_(tensor((2, 3, 0))),
        lambda: init.xavier_normal(KEY, (2, 3, 0)),
        ZeroDivisionError,
        ZeroDivisionError,
        "float division by zero",
    ),
    (
        lambda: T.xavier_normal_(tensor(3)),
        lambda: init.xavier_normal(KEY, (3,)),
        ValueError,
        ValueError,
        "fewer than 2 dimensions",
    ),
    (
        lambda: T.kaiming_uniform_(tensor(())),
        lambda: init.kaiming_uniform(KEY, ()),
        ValueError,
        ValueError,
        "fewer than 2 dimensions",
    ),
    (
        lambda: T.kaiming_normal_(tensor(3), mode="FAN_OUT"),
        lambda: init.kaiming_normal(KEY, (3,), mode="FAN_OUT"),
        ValueError,
        ValueError,
        "fewer than 2 dimensions",
    ),
    (
        lambda: T.kaiming_uniform_(tensor((3, 4)), mode="avg"),
        lambda: init.kaiming_uniform(KEY, (3, 4), mode="avg"),
        ValueError,
        ValueError,
        r"Mode avg not supported, please use one of \['fan_in', 'fan_out'\]",
    ),
    (
        lambda: T.kaiming_uniform_(tensor((3, 4)), a=True),
        lambda: init.kaiming_uniform(KEY, (3, 4), a=True),
        ValueError,
        ValueError,
        "negative_slope True not a valid number",
    ),
    (
        lambda: T.kaiming_normal_(tensor((3, 4)), nonlinearity="gelu"),
        lambda: init.kaiming_normal(KEY, (3, 4), nonlinearity="gelu"),
        ValueError,
        ValueError,
        "Unsupported nonlinearity gelu",
    ),
    (
        lambda: T.eye_(tensor((2, 2, 2))),
        lambda: init.eye(None, (2, 2, 2)),
        ValueError,
        ValueError,
        "Only tensors with 2 dimensions are supported",
    ),
    (
        lambda: T.eye_(tensor(0)),
        lambda: init.eye(None, (0,)),
        ValueError,
        ValueError,
        "Only tensors with 2 dimensions are supported",
    ),
    (
        lambda: T.dirac_(tensor((4, 3))),
        lambda: init.dirac(None, (4, 3)),
        ValueError,
        ValueError,
        "Only tensors with 3, 4, or 5 dimensions are supported",
    ),
    (
        lambda: T.dirac_(tensor(0)),
        lambda: init.dirac(None, (0,)),
        ValueError,
        ValueError,
        "Only tensors with 3, 4, or 5 dimensions are supported",
    ),
    (
        lambda: T.dirac_(tensor((4, 3, 3)), 3),
        lambda: init.dirac(None, (4, 3, 3), groups=3),
        ValueError,
        ValueError,
        "dim 0 must be divisible by groups",
    ),
    (
        lambda: T.dirac_(tensor((4, 3, 3)), 0),
        lambda: init.dirac(None, (4, 3, 3), groups=0),
        ZeroDivisionError,
        ZeroDivisionError,
        "integer modulo by zero",
    ),
    (
        lambda: T.dirac_(tensor((2, 3, 0))),
        lambda: init.dirac(None, (2, 3, 0)),
        IndexError,
        IndexError,
        "index 0 is out of bounds for dimension 2 with size 0",
    ),
    (
        lambda: T.dirac_(tensor((2, 3, 4, 0))),
        lambda: init.dirac(None, (2, 3, 4, 0)),
        IndexError,
        IndexError,
        "index 0 is out of bounds for dimension 3 with size 0",
    ),
    (
        lambda: T.orthogonal_(tensor(3)),
        lambda: init.orthogonal(KEY, (3,)),
        ValueError,
        ValueError,
        "Only tensors with 2 or more dimensions are supported",
    ),
    (
        lambda: T.sparse_(tensor(4), 0.5),
        lambda: init.sparse(KEY, (4,), sparsity=0.5),
        ValueError,
        ValueError,
        "Only tensors with 2 dimensions are supported",
    ),
    (
        lambda: T.sparse_(tensor((4, 3)), math.nan),
        lambda: init.sparse(KEY, (4, 3), sparsity=math.nan),
        ValueError,
        ValueError,
        "cannot convert float NaN to integer",
    ),
]


@pytest.mark.parametrize("case", range(len(ERROR_CASES)))
def test_same_bad_inputs_fail_on_both_sides(case):
    torch_call, our_call, torch_exc, our_exc, phrase = ERROR_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(torch_exc, match=phrase):
            torch_call()
        with pytest.raises(our_exc, match=phrase):
            our_call()


@pytest.mark.parametrize(
    "name",
    [
        "uniform",
        "normal",
        "trunc_normal",
        "xavier_uniform",
        "kaiming_normal",
        "orthogonal",
        "sparse",
    ],
)
def test_integer_tensors_refused_on_both_sides(name):
    kwargs = {"sparsity": 0.5} if name == "sparse" else {}
    with pytest.raises(NotImplementedError, match="not implemented for 'Int'"):
        getattr(T, name + "_")(tensor((4, 4), torch.int32), **kwargs)
    with pytest.raises(TypeError, match="not a floating dtype"):
        getattr(init, name)(KEY, (4, 4), jnp.int32, **kwargs)


@pytest.mark.parametrize("shape", [(0, 5), (0, 0), (0,), (4, 0, 3)])
@pytest.mark.parametrize("name", ["kaiming_uniform", "kaiming_normal"])
def test_kaiming_zero_size_warning_on_both_sides(name, shape):
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        getattr(T, name + "_")(tensor(shape), mode="bad")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert getattr(init, name)(KEY, shape, mode="bad").shape == shape


@pytest.mark.parametrize("mean, warns", [(5.0, True), (-4.1, True), (3.9, False)])
def test_trunc_normal_mean_warning_on_both_sides(mean, warns):
    for call in (
        lambda: T.trunc_normal_(tensor(3), mean),
        lambda: init.trunc_normal(KEY, (3,), mean=mean),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        messages = [str(w.message) for w in caught]
        assert any("mean is more than 2 std from [a, b]" in m for m in messages) == warns


@pytest.mark.parametrize(
    "name",
    [
        "uniform",
        "normal",
        "trunc_normal",
        "constant",
        "ones",
        "zeros",
        "xavier_uniform",
        "orthogonal",
        "eye",
        "sparse",
    ],
)
@pytest.mark.parametrize("shape", [(0, 5), (0, 0), (3, 0)])
def test_empty_2d_shapes_are_no_ops_on_both_sides(name, shape):
    kwargs = {"val": 1.0} if name == "constant" else {"sparsity": 0.5} if name == "sparse" else {}
    if name == "xavier_uniform" and shape == (0, 0):
        return  # ZeroDivisionError on both sides, tested above
    torch_result = getattr(T, name + "_")(tensor(shape), **kwargs)
    assert getattr(init, name)(KEY, shape, **kwargs).shape == tuple(torch_result.shape)
