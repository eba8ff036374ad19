"""Loss modules as modules: their class weight is a buffer of the owning model, read bound."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit import nn
from jaxinit.nn import functional as F


def test_loss_inside_a_model_reads_the_bound_weight():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.criterion = nn.CrossEntropyLoss(weight=np.array([1.0, 0.0, 0.0], np.float32))

        def forward(self, x, y):
            return self.criterion(self.fc(x), y)

    net = Net()
    variables = net.init(jax.random.key(0))
    assert "criterion.weight" in net.state_dict(variables)
    x = jax.random.uniform(jax.random.key(1), (5, 4), minval=-2, maxval=2)
    y = jnp.array([0, 1, 2, 0, 1])
    logits = net.fc(variables["fc"], x)
    want = F.cross_entropy(logits, y, weight=variables["criterion"]["weight"])
    np.testing.assert_allclose(float(net(variables, x, y)), float(want), rtol=1e-6)
