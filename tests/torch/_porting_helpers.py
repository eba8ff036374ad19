"""Checks every automatic port gets (tests/torch/test_porting*_torch.py)."""

import copy
import subprocess
import sys
import textwrap
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from _xla_speed import CHECK_COMPILE

from jaxinit.interop import to_torch
from jaxinit.testing import assert_matches_torch
from jaxinit.testing.compare import diff


def relaxed():
    """The generated forward broadcasts across ranks and promotes dtypes as torch does:
    JAX's default promotion rules, not the suite's strict ones."""
    import contextlib

    stack = contextlib.ExitStack()
    stack.enter_context(jax.numpy_rank_promotion("allow"))
    stack.enter_context(jax.numpy_dtype_promotion("standard"))
    return stack


def state_dicts_agree(tm, net, variables):
    """Keys in torch's order, shapes and dtypes; the port's values load back into torch
    strictly and equal torch's (ties stay ties)."""
    t_sd, j_sd = tm.state_dict(), net.state_dict(variables)
    assert list(j_sd) == list(t_sd)
    for k, t in t_sd.items():
        assert tuple(j_sd[k].shape) == tuple(t.shape), k
    back = copy.deepcopy(tm)
    for p in back.parameters():
        torch.nn.init.zeros_(p)
    back.load_state_dict(to_torch(j_sd), strict=True)
    for k, t in back.state_dict().items():
        assert np.array_equal(t.numpy(), t_sd[k].numpy()), k
    tied = {id(p) for _, p in tm.named_parameters(remove_duplicate=False)}
    assert len(jax.tree_util.tree_leaves(net.split(variables)[0])) == len(tied)


def train_compare(tm, net, variables, *inputs, rtol=1e-4, atol=1e-4):
    """Training mode: outputs, running statistics after the call and gradients of
    ``mean(out**2)`` (``sum(out)``'s gradient through train-mode BatchNorm is zero up to
    rounding, so it compares noise); rtol 1e-4 as tests/torch/test_models_torch.py's hand ports.
    Train-mode BatchNorm over the last stages' 2x2 maps (16 values per channel) amplifies
    float32 rounding: its O(1) outputs move by up to 3e-5 (resnet50's layer4), so atol is 1e-4
    of that scale -- what compare's earlier rule, relative to a row's largest value, allowed."""
    with relaxed():
        assert_matches_torch(
            tm,
            net,
            *inputs,
            variables=variables,
            train=True,
            grads=True,
            rtol=rtol,
            atol=atol,
            loss=lambda out, xp: (out**2).mean(),
        )


def sgd_step_matches(tm, net, variables, inputs, loss_t, loss_j, lr=0.1, rtol=1e-5, kwargs=None):
    """One jitted SGD step (train mode) gives torch's loss and parameters (``inputs``
    positional, ``kwargs`` by keyword)."""
    kwargs = kwargs or {}
    tm = copy.deepcopy(tm).train()
    opt = torch.optim.SGD(tm.parameters(), lr=lr)
    loss = loss_t(
        tm(
            *[torch.as_tensor(x) for x in inputs],
            **{k: torch.as_tensor(x) for k, x in kwargs.items()},
        )
    )
    opt.zero_grad()
    loss.backward()
    opt.step()
    params, buffers = net.split(variables)

    @partial(jax.jit, compiler_options=CHECK_COMPILE)  # a tolerance check (tests/_xla_speed.py)
    def step(p):
        def objective(p):
            kw = {k: jnp.asarray(x) for k, x in kwargs.items()}
            out, new = net(net.merge(p, buffers), *map(jnp.asarray, inputs), train=True, **kw)
            return loss_j(out), new

        (value, new), g = jax.value_and_grad(objective, has_aux=True)(p)
        return value, optax.apply_updates(p, jax.tree.map(lambda x: -lr * x, g)), new

    with relaxed():
        value, params, new = step(params)
    assert abs(float(value) - loss.item()) <= rtol * abs(loss.item()) + 1e-6
    after = net.state_dict(net.merge(params, net.split(new)[1]))
    for k, t in tm.state_dict().items():
        ok = diff(t.numpy(), np.asarray(after[k]).astype(t.numpy().dtype), rtol, 1e-6)
        assert ok[2], (k, ok[:2])


_NO_TORCH = textwrap.dedent("""
    import sys, importlib.abc
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "torch" or name.startswith(("torch.", "torchvision")):
                raise ImportError("torch is blocked in this process")
    sys.meta_path.insert(0, Block())
    import jax, jax.numpy as jnp
    jax.config.update("jax_platforms", "cpu")
    for path, inputs in {cases!r}:
        ns = {{}}
        exec(compile(open(path).read(), path, "exec"), ns)
        net = ns["build"]()
        v = net.init(jax.random.key(0))
        if isinstance(inputs, dict):
            kw = {{k: jnp.full(s, f, d) for k, (s, d, f) in inputs.items()}}
            y = jax.jit(lambda v, kw: net(v, **kw))(v, kw)
        else:
            xs = [jnp.full(shape, fill, dtype) for shape, dtype, fill in inputs]
            y = jax.jit(lambda v, *xs: net(v, *xs))(v, *xs)
        assert all(bool(jnp.isfinite(a).all()) for a in jax.tree.leaves(y)), path
        print(path, jax.tree.leaves(y)[0].shape)
    assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules)
""")


# importing jaxinit and its porting package does not import torch (torch importable)
_LAZY_TORCH = textwrap.dedent("""
    import sys
    import jaxinit, jaxinit.porting, jaxinit.porting.ops
    assert "torch" not in sys.modules, "importing jaxinit.porting imported torch"
""")


def sources_run_without_torch(tmp_path, cases, check_lazy_import=False):
    """Each ``(source, [(shape, dtype, fill), ...])`` (or a dict of them: keyword inputs)
    runs ``build().init`` and a jitted forward on constant inputs in a process where
    importing torch fails. ``check_lazy_import``: the same process first asserts that
    importing jaxinit, jaxinit.porting and jaxinit.porting.ops (torch still importable)
    leaves torch unimported (one interpreter start instead of two)."""
    files = []
    for i, (source, inputs) in enumerate(cases):
        assert "import torch" not in source
        path = tmp_path / f"port_{i}.py"
        path.write_text(source)
        if isinstance(inputs, dict):
            files.append((str(path), {k: (tuple(s), d, f) for k, (s, d, f) in inputs.items()}))
        else:
            files.append((str(path), [(tuple(s), d, f) for s, d, f in inputs]))
    code = (_LAZY_TORCH if check_lazy_import else "") + _NO_TORCH.format(cases=files)
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=_env()
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def _env():
    import os

    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env["XLA_FLAGS"] = ""
    # the calling module's compile setting (tests/_xla_speed.py's unoptimized_xla) carries over
    unoptimized = jax.config.values["jax_disable_most_optimizations"]
    env["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1" if unoptimized else "0"
    return env
