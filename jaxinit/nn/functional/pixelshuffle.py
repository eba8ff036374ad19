"""``F.pixel_shuffle``, ``F.pixel_unshuffle`` and ``F.channel_shuffle`` as torch's: pure
reshapes and transposes over the last three dims (any leading batch dims)."""

from __future__ import annotations

import jax

__all__ = ["channel_shuffle", "pixel_shuffle", "pixel_unshuffle"]


def pixel_shuffle(input: jax.Array, upscale_factor: int) -> jax.Array:
    """``(*, C*r*r, H, W) -> (*, C, H*r, W*r)``: ``out[c, h*r+i, w*r+j] = in[c*r*r + i*r + j,
    h, w]``.

    Example::

        F.pixel_shuffle(jnp.zeros((1, 12, 4, 4)), 2).shape  # (1, 3, 8, 8)
    """
    r = upscale_factor
    if input.ndim < 3:
        raise RuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
            f"{input.ndim} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    y = input.reshape(*lead, c // (r * r), r, r, h, w)
    n = len(lead)
    y = y.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: jax.Array, downscale_factor: int) -> jax.Array:
    """Inverse of :func:`pixel_shuffle`: ``(*, C, H*r, W*r) -> (*, C*r*r, H, W)``.

    Example::

        F.pixel_unshuffle(jnp.zeros((1, 3, 8, 8)), 2).shape  # (1, 12, 4, 4)
    """
    r = downscale_factor
    if input.ndim < 3:
        raise RuntimeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
            f"{input.ndim} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError(
            "pixel_unshuffle expects height to be divisible by downscale_factor, but "
            f"input.size(-2)={h} is not divisible by {r}"
        )
    if w % r:
        raise RuntimeError(
            "pixel_unshuffle expects width to be divisible by downscale_factor, but "
            f"input.size(-1)={w} is not divisible by {r}"
        )
    n = len(lead)
    y = input.reshape(*lead, c, h // r, r, w // r, r)
    y = y.transpose(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: jax.Array, groups: int) -> jax.Array:
    """``(N, C, *)``: channels viewed as ``(groups, C // groups)`` and transposed, so
    ``out[:, k*groups + g] = in[:, g*(C//groups) + k]``.

    Example::

        F.channel_shuffle(jnp.arange(6.0).reshape(1, 6, 1), 2)[0, :, 0]  # [0 3 1 4 2 5]
    """
    if input.ndim <= 2:
        raise RuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes "
            f"{list(input.shape)}"
        )
    if groups <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{groups}"
        )
    c = input.shape[1]
    if c % groups:
        raise RuntimeError(
            f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups."
        )
    n, rest = input.shape[0], input.shape[2:]
    y = input.reshape(n, groups, c // groups, *rest).swapaxes(1, 2)
    return y.reshape(input.shape)
