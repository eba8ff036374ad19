"""Automatic ports (jaxinit.porting.convert) of torchvision's models.

Each of torchvision's model families listed in ``MODELS`` converts; its port then matches torch
in training mode (outputs of every submodule, BatchNorm statistics, gradients: one
``assert_matches_torch`` each, dropout and stochastic depth at 0 so the two frameworks draw
nothing), in eval mode on another batch size, keeps torch's state_dict both ways, and two of
them take a jitted SGD step equal to torch's; the generated files run where torch cannot be
imported. The families that are slow to compile on 2 CPU cores are built with torchvision's own
classes at reduced depth and width (same classes and code paths as the named model:
``resnet18`` / ``resnet50`` -> ``ResNet(BasicBlock / Bottleneck, [1, 1, 1, 1])``,
mobilenet_v3_small's first four blocks, shufflenet_v2_x0_5's stages at depth 1-2); the rest are
torchvision's builders. The full ``resnet18()`` converts and matches torch in eval too.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _porting_helpers import (  # noqa: E402
    relaxed,
    sgd_step_matches,
    sources_run_without_torch,
    state_dicts_agree,
    train_compare,
)
from _torchvision import import_torchvision  # noqa: E402
from _xla_speed import CHECK_COMPILE  # noqa: E402

from jaxinit import porting  # noqa: E402

tv = import_torchvision()
M = tv.models


def _swin():
    return M.SwinTransformer(
        patch_size=[4, 4],
        embed_dim=16,
        depths=[2, 2],
        num_heads=[2, 2],
        window_size=[2, 2],
        stochastic_depth_prob=0.0,
        num_classes=10,
    )


def _efficientnet():
    conf = M.efficientnet.MBConvConfig
    setting = [conf(1, 3, 1, 8, 8, 1), conf(6, 3, 2, 8, 16, 2)]
    return M.EfficientNet(setting, dropout=0.0, stochastic_depth_prob=0.0, num_classes=10)


def _convnext():
    conf = M.convnext.CNBlockConfig
    return M.ConvNeXt(
        [conf(16, 32, 1), conf(32, None, 1)], stochastic_depth_prob=0.0, num_classes=10
    )


def _regnet():
    params = M.regnet.BlockParams.from_init_params(
        depth=3, w_0=8, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25
    )
    return M.RegNet(params, num_classes=10, stem_width=8)


def _mobilenet_v3():  # mobilenet_v3_small's first four blocks: SE, ReLU and Hardswish,
    # 3x3 and 5x5 depthwise, strided and residual (its 11 blocks take 4x as long to compile)
    conf = M.mobilenetv3.InvertedResidualConfig
    setting = [
        conf(16, 3, 16, 16, True, "RE", 2, 1, 1.0),
        conf(16, 3, 72, 24, False, "RE", 2, 1, 1.0),
        conf(24, 3, 88, 24, False, "RE", 1, 1, 1.0),
        conf(24, 5, 96, 40, True, "HS", 2, 1, 1.0),
    ]
    return M.mobilenetv3.MobileNetV3(setting, last_channel=64, num_classes=10, dropout=0.0)


def _vgg():  # vgg11_bn's layers at 1/8 width; its 120M-parameter classifier made small
    m = M.VGG(
        M.vgg.make_layers([8, "M", 16, "M", 32, 32, "M", 64, 64, "M", 512], batch_norm=True),
        num_classes=10,
        dropout=0.0,
    )
    m.classifier = torch.nn.Sequential(
        torch.nn.Linear(512 * 7 * 7, 16),
        torch.nn.ReLU(True),
        torch.nn.Dropout(0.0),
        torch.nn.Linear(16, 10),
    )
    return m


# train-mode BatchNorm over the deepest feature maps needs more than a few values per channel
# (1x1 maps and batch 2 would normalise two numbers): 4 x 64x64 leaves 2x2 maps at stride 32
CNN_TRAIN, CNN_EVAL = (4, 3, 64, 64), (3, 3, 48, 48)

# name: (build, input shape, eval shape (another batch and, where the model allows, size))
MODELS = {
    "resnet18": (
        lambda: M.ResNet(M.resnet.BasicBlock, [1, 1, 1, 1], num_classes=10),
        CNN_TRAIN,
        CNN_EVAL,
    ),
    "resnet50": (
        lambda: M.ResNet(M.resnet.Bottleneck, [1, 1, 1, 1], num_classes=10),
        CNN_TRAIN,
        CNN_EVAL,
    ),
    "mobilenet_v3_small": (_mobilenet_v3, CNN_TRAIN, CNN_EVAL),
    "efficientnet_b0": (_efficientnet, CNN_TRAIN, CNN_EVAL),
    "convnext_tiny": (_convnext, CNN_TRAIN, CNN_EVAL),
    "densenet121": (
        lambda: M.DenseNet(
            growth_rate=8, block_config=(2, 2), num_init_features=16, num_classes=10
        ),
        CNN_TRAIN,
        CNN_EVAL,
    ),
    "squeezenet1_1": (
        lambda: M.squeezenet1_1(num_classes=10, dropout=0.0),
        CNN_TRAIN,
        CNN_EVAL,
    ),
    "shufflenet_v2_x0_5": (
        lambda: M.ShuffleNetV2([1, 2, 1], [24, 48, 96, 192, 64], num_classes=10),
        CNN_TRAIN,
        CNN_EVAL,
    ),
    "regnet_y_400mf": (_regnet, CNN_TRAIN, CNN_EVAL),
    "vgg11_bn": (_vgg, CNN_TRAIN, CNN_EVAL),
    "vit": (
        lambda: M.VisionTransformer(
            image_size=32,
            patch_size=8,
            num_layers=2,
            num_heads=2,
            hidden_dim=32,
            mlp_dim=64,
            num_classes=10,
        ),
        (2, 3, 32, 32),
        (3, 3, 32, 32),
    ),
    "swin_t": (_swin, (2, 3, 16, 16), (3, 3, 24, 24)),
}


@pytest.fixture(scope="module")
def ported():
    out = {}
    for name, (make, _, _) in MODELS.items():
        torch.manual_seed(0)
        tm = make().eval()
        net, variables = porting.convert(tm, check=False)
        out[name] = (tm, net, variables)
    return out


def _x(shape, seed=0):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


@pytest.mark.parametrize("name", MODELS)
def test_train_mode_and_state_dict(ported, name):
    tm, net, variables = ported[name]
    train_compare(tm, net, variables, _x(MODELS[name][1]), rtol=1e-4)
    state_dicts_agree(tm, net, variables)


@pytest.mark.parametrize("name", MODELS)
def test_eval_on_another_batch_and_size(ported, name):
    tm, net, variables = ported[name]
    _eval_matches(tm, net, variables, _x(MODELS[name][2], 1))


def _eval_matches(tm, net, variables, x):
    with relaxed():
        y = jax.jit(net, compiler_options=CHECK_COMPILE)(variables, jnp.asarray(x))
    with torch.no_grad():
        ref = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-4, atol=1e-5)


def test_full_resnet18_converts_and_matches_torch_in_eval():
    torch.manual_seed(0)
    tm = M.resnet18(num_classes=10).eval()
    net, variables = porting.convert(tm, check=False)
    state_dicts_agree(tm, net, variables)
    _eval_matches(tm, net, variables, _x(CNN_EVAL, 1))


@pytest.mark.parametrize("name", ["resnet18", "vit"])
def test_sgd_step(ported, name):
    tm, net, variables = ported[name]
    shape = MODELS[name][1]
    labels = np.arange(shape[0]) * 3 % 10

    def loss_t(out):
        return torch.nn.functional.cross_entropy(out, torch.as_tensor(labels))

    def loss_j(out):
        import optax

        return optax.softmax_cross_entropy_with_integer_labels(out, jnp.asarray(labels)).mean()

    sgd_step_matches(tm, net, variables, (_x(shape),), loss_t, loss_j)


def test_sources_run_without_torch(ported, tmp_path):
    names = ["resnet18", "convnext_tiny", "densenet121", "swin_t"]
    cases = [(ported[n][1].port_source, [(MODELS[n][1], "float32", 0.5)]) for n in names]
    sources_run_without_torch(tmp_path, cases)


def test_source_is_per_class_and_says_what_init_lacks(ported):
    src = ported["resnet18"][1].port_source
    assert "class BasicBlock(nn.Module):" in src and "class ResNet(nn.Module):" in src
    assert "ResNet.__init__ sets weights itself" in src  # the kaiming_normal_ loop
    assert "add = bn2 + x" in src or "add = bn2 + downsample" in src
    assert "import torch" not in src
