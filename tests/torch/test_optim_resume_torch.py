"""Training runs ported whole: nanoGPT's AdamW (two param groups built by its
``configure_optimizers``, run as written) on a small GPT-2 with tied embeddings, and a
torchvision-recipe SGD (Nesterov momentum, no decay on BatchNorm) on a narrow ResNet-18.

For each: 20 steps equal torch's (``compare_training``); a torch checkpoint saved at step 10
(``{'model', 'optimizer', 'iter_num'}`` through ``torch.save``) resumes in jaxinit and reaches
torch's step-20 parameters; and jaxinit's step-10 state, handed to torch through
``optimizer.state_dict``, continues in torch to the same place.

Tolerance: the two frameworks' forward/backward passes differ by a few ulp (different
summation orders), and training carries those differences into the weights; the bound is
``|a - b| <= 1e-5 + 1e-4 |b|``. A lost momentum buffer, learning rate or Nesterov flag on
resume moves parameters by 1e-3 or more. (A full ResNet-18 on tiny batches is no fit for
such a check: BatchNorm over the 1x1 maps of its last stages amplifies the ulp differences
in the gradients chaotically, to 1e-2 in 10 steps, whatever the optimizer.)
"""

from __future__ import annotations

import copy
import inspect
import io

import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import models  # noqa: E402

import jaxinit.optim  # noqa: E402
from jaxinit import nn as jnn  # noqa: E402
from jaxinit.interop.torch import to_torch  # noqa: E402
from jaxinit.nn import functional as F  # noqa: E402
from jaxinit.optim.optimizer import _flat  # noqa: E402
from jaxinit.testing import compare_training  # noqa: E402

tnn = torch.nn
TOLERANCES = {"nanogpt-adamw": (1e-4, 1e-5), "resnet-sgd-nesterov": (1e-4, 1e-5)}


def configure_optimizers(self, weight_decay, learning_rate, betas, device_type, AdamW):
    """nanoGPT's GPT.configure_optimizers, as written (torch.optim.AdamW passed in; print
    calls left out)."""
    # start with all of the candidate parameters
    param_dict = {pn: p for pn, p in self.named_parameters()}
    # filter out those that do not require grad
    param_dict = {pn: p for pn, p in param_dict.items() if p.requires_grad}
    # create optim groups. Any parameters that is 2D will be weight decayed, otherwise no.
    decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
    nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
    optim_groups = [
        {"params": decay_params, "weight_decay": weight_decay},
        {"params": nodecay_params, "weight_decay": 0.0},
    ]
    num_decay_params = sum(p.numel() for p in decay_params)
    num_nodecay_params = sum(p.numel() for p in nodecay_params)
    assert num_decay_params > 0 and num_nodecay_params > 0
    # Create AdamW optimizer and use the fused version if it is available
    fused_available = "fused" in inspect.signature(AdamW).parameters
    use_fused = fused_available and device_type == "cuda"
    extra_args = dict(fused=True) if use_fused else dict()
    optimizer = AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)
    return optimizer


def resnet_sgd(model, SGD):
    """torchvision's classification recipe: SGD with Nesterov momentum, no weight decay on
    normalization parameters."""
    norm = [p for n, p in model.named_parameters() if p.dim() == 1]
    other = [p for n, p in model.named_parameters() if p.dim() > 1]
    return SGD(
        [{"params": other}, {"params": norm, "weight_decay": 0.0}],
        lr=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=1e-4,
    )


def _gpt(M):
    # no bias on the q/k/v projection (nanoGPT's bias=False): the key bias's gradient is zero
    # in exact arithmetic (softmax ignores a per-query constant), so both sides hold float
    # noise there, which Adam's g / sqrt(v) turns into steps of +-lr in random directions.
    return models.gpt2(
        M, vocab=32, n_positions=8, n_embd=16, n_layer=1, n_head=2, pdrop=0.0, attn_bias=False
    )


def _resnet(M, width=8, classes=5):
    """A ResNet in miniature: torchvision's stem (conv-BN-ReLU) and two BasicBlocks (the
    second downsampling through a 1x1 conv-BN shortcut), global pooling and a linear head."""

    class BasicBlock(M.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = M.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = M.BatchNorm2d(cout)
            self.relu = M.ReLU()
            self.conv2 = M.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = M.BatchNorm2d(cout)
            self.downsample = (
                M.Sequential(M.Conv2d(cin, cout, 1, stride, bias=False), M.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else None
            )

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class ResNet(M.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = M.Conv2d(3, width, 3, 1, 1, bias=False)
            self.bn1 = M.BatchNorm2d(width)
            self.relu = M.ReLU()
            self.layer1 = BasicBlock(width, width, 1)
            self.layer2 = BasicBlock(width, 2 * width, 2)
            self.avgpool = M.AdaptiveAvgPool2d((1, 1))
            self.fc = M.Linear(2 * width, classes)

        def forward(self, x):
            x = self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x)))))
            return self.fc(self.avgpool(x).reshape(x.shape[0], -1))

    return ResNet()


def _token_batches(steps):
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 32, size=(steps, 4, 9), dtype=np.int32)
    return [(b[:, :-1], b[:, 1:]) for b in ids]


def _image_batches(steps):
    rng = np.random.default_rng(0)
    return [
        (
            rng.standard_normal((16, 3, 8, 8), dtype=np.float32),
            rng.integers(0, 5, size=(16,), dtype=np.int32),
        )
        for _ in range(steps)
    ]


def _ce(F_):
    def loss(out, y):
        if hasattr(y, "long"):
            y = y.long()
        return F_.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))

    return loss


SCENARIOS = {
    "nanogpt-adamw": (
        _gpt,
        lambda m, M: configure_optimizers(
            m,
            0.1,
            1e-2,
            (0.9, 0.95),
            "cpu" if M is tnn else "cuda",
            torch.optim.AdamW if M is tnn else jaxinit.optim.AdamW,
        ),
        _token_batches,
    ),
    "resnet-sgd-nesterov": (
        _resnet,
        lambda m, M: resnet_sgd(m, torch.optim.SGD if M is tnn else jaxinit.optim.SGD),
        _image_batches,
    ),
}


def _save(obj) -> dict:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _assert_params_close(torch_module, variables, what, rtol, atol):
    ours = _flat(variables)
    for name, t in torch_module.named_parameters():
        a, b = np.asarray(ours[name]), t.detach().numpy()
        excess = np.max(np.abs(a - b) - (atol + rtol * np.abs(b)))
        assert excess <= 0, f"{what}: {name} departs by {np.max(np.abs(a - b)):.3g}"


@pytest.fixture(scope="module", params=list(SCENARIOS))
def run(request):
    """torch's 20 steps with a checkpoint at step 10, and jaxinit's compare_training of the
    same two halves."""
    make, configure, make_batches = SCENARIOS[request.param]
    rtol, atol = TOLERANCES[request.param]
    data = make_batches(20)
    torch.manual_seed(0)
    tm = make(tnn)
    tm.train()
    t_opt = configure(tm, tnn)
    net = make(jnn)
    j_opt = configure(net, jnn)
    loss = (_ce(torch.nn.functional), _ce(F))
    first = compare_training(tm, t_opt, net, j_opt, data[:10], loss=loss, rtol=rtol, atol=atol)
    ckpt = _save({"model": tm.state_dict(), "optimizer": t_opt.state_dict(), "iter_num": 10})
    second = compare_training(
        tm,
        t_opt,
        net,
        j_opt,
        data[10:],
        loss=loss,
        variables=first.variables,
        opt_state=first.opt_state,
        rtol=rtol,
        atol=atol,
    )
    return dict(
        make=make,
        configure=configure,
        data=data,
        tm=tm,
        t_opt=t_opt,
        net=net,
        j_opt=j_opt,
        first=first,
        second=second,
        ckpt=ckpt,
        loss=loss,
        rtol=rtol,
        atol=atol,
    )


def test_param_groups_as_torch_builds_them(run):
    torch.manual_seed(0)
    tm = run["make"](tnn)
    t_groups = run["configure"](tm, tnn).param_groups
    j_groups = run["j_opt"].param_groups
    names = {id(p): n for n, p in tm.named_parameters()}
    for tg, jg in zip(t_groups, j_groups, strict=True):
        assert [names[id(p)] for p in tg["params"]] == jg["param_names"]
        for key in set(tg) - {"params", "param_names", "fused"}:
            assert tg[key] == jg[key], key


def test_twenty_steps_equal_torch(run):
    assert run["first"].ok, str(run["first"])
    assert run["second"].ok, str(run["second"])
    assert len(run["first"].steps) + len(run["second"].steps) == 20


def _torch_from(run, model_state, optimizer_state):
    torch.manual_seed(1)
    tm = run["make"](tnn)
    tm.train()
    t_opt = run["configure"](tm, tnn)
    tm.load_state_dict(model_state)
    t_opt.load_state_dict(optimizer_state)
    return tm, t_opt


def test_torch_checkpoint_resumes_in_jaxinit(run):
    """The checkpoint loads into jaxinit (model and optimizer), and jaxinit's steps 10-19 track
    torch's own resumed run step by step and end at torch's uninterrupted step 20."""
    net, ckpt, optimizer = run["net"], run["ckpt"], run["j_opt"]
    variables, _ = net.load_state_dict(net.init(jax.random.key(1)), ckpt["model"])
    opt_state = optimizer.load_state_dict(net.split(variables)[0], ckpt["optimizer"])
    # Adam keeps torch's per-parameter step; SGD has no step counter in torch, only the
    # momentum buffer, which marks the run as started (count 1)
    assert int(opt_state.count) == (1 if isinstance(optimizer, jaxinit.optim.SGD) else 10)
    tm, t_opt = _torch_from(run, ckpt["model"], ckpt["optimizer"])
    report = compare_training(
        tm,
        t_opt,
        net,
        optimizer,
        run["data"][10:],
        loss=run["loss"],
        variables=variables,
        opt_state=opt_state,
        rtol=run["rtol"],
        atol=run["atol"],
    )
    assert report.ok, str(report)
    _assert_params_close(
        run["tm"], report.variables, "resumed in jaxinit", run["rtol"], run["atol"]
    )


def test_jaxinit_state_resumes_in_torch(run):
    first = run["first"]
    tm, t_opt = _torch_from(
        run,
        to_torch(run["net"].state_dict(first.variables)),
        run["j_opt"].state_dict(first.opt_state, as_torch=True),
    )
    loss = run["loss"][0]
    for x, y in run["data"][10:]:
        t_opt.zero_grad()
        loss(tm(torch.as_tensor(x)), torch.as_tensor(y)).backward()
        t_opt.step()
    ref = {n: p.detach() for n, p in run["tm"].named_parameters()}
    for name, p in tm.named_parameters():
        a, b = p.detach().numpy(), ref[name].numpy()
        assert np.all(np.abs(a - b) <= run["atol"] + run["rtol"] * np.abs(b)), name


def test_state_dict_round_trips_through_torch(run):
    """jaxinit -> torch optimizer -> jaxinit gives back the same options and per-parameter
    state, entry for entry (the update count too where torch keeps one: Adam's step)."""
    t_opt = copy.deepcopy(run["t_opt"])
    state = run["second"].opt_state
    t_opt.load_state_dict(run["j_opt"].state_dict(state, as_torch=True))
    back = run["j_opt"].load_state_dict(
        run["net"].split(run["second"].variables)[0], t_opt.state_dict()
    )
    same = (state.param_groups, state.state)
    if not isinstance(run["j_opt"], jaxinit.optim.SGD):
        same += (state.count,)
    for a, b in zip(jax.tree.leaves(same), jax.tree.leaves(back[: len(same)]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
