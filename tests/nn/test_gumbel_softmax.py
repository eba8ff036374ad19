"""F.gumbel_softmax: keyed samples of the softmax distribution (torch's random stream is not
reproduced, so this is checked statistically rather than against torch's values)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit.nn import functional as F


def test_gumbel_softmax_samples_the_softmax_and_passes_soft_gradients():
    """Hard samples from fixed keys: each class's frequency over n = 20000 draws lies within
    6 standard deviations of softmax(logits) (a false failure has probability < 1e-8 per
    class); hard=True is one-hot with the soft sample's gradient (straight-through)."""
    logits = jnp.log(jnp.array([0.1, 0.2, 0.3, 0.4]))
    n = 20000
    keys = jax.random.split(jax.random.key(0), n)
    hard = jax.vmap(lambda k: F.gumbel_softmax(logits, hard=True, rng=k))(keys)
    assert set(np.unique(np.asarray(hard))) == {0.0, 1.0}
    freq = np.asarray(hard.mean(0))
    p = np.array([0.1, 0.2, 0.3, 0.4])
    assert np.all(np.abs(freq - p) < 6 * np.sqrt(p * (1 - p) / n)), freq
    w = jnp.arange(4.0)
    key = jax.random.key(3)
    g_hard = jax.grad(lambda z: (w * F.gumbel_softmax(z, 0.7, True, rng=key)).sum())(logits)
    g_soft = jax.grad(lambda z: (w * F.gumbel_softmax(z, 0.7, False, rng=key)).sum())(logits)
    np.testing.assert_allclose(np.asarray(g_hard), np.asarray(g_soft), rtol=1e-6)
    soft = F.gumbel_softmax(logits, rng=key)
    np.testing.assert_allclose(float(soft.sum()), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="rng="):
        F.gumbel_softmax(logits)
