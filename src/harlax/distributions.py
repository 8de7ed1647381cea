"""Action distributions over padded action spaces (distrax underneath).

A head turns a network output into a distribution for one agent; `mask` `[U]` marks
real actions (categorical: available actions; Gaussian: real dimensions). Padded
or unavailable categorical actions get probability zero; padded Gaussian dimensions
contribute nothing to log-probability, entropy or KL. All functions broadcast over
leading batch axes.
"""

from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp

from harlax.types import Array

# exp(-1e9) is exactly 0 in float32, and p * log p = 0 * -1e9 = 0 keeps entropy finite.
MASKED_LOGIT = -1e9


class CategoricalHead:
    """Network output: logits `[..., U]`. Actions: int `[...]`."""

    discrete = True

    @staticmethod
    def _dist(logits: Array, mask: Array) -> distrax.Categorical:
        return distrax.Categorical(logits=jnp.where(mask, logits, MASKED_LOGIT))

    @staticmethod
    def sample_noise(key: Array, shape: tuple[int, ...]) -> Array:
        """The Gumbel noise `shape = [..., U]` a sample from `key` adds to the logits."""
        return jax.random.gumbel(key, shape, jnp.float32)

    def sample_from_noise(self, noise: Array, out: Array, mask: Array) -> Array:
        """`sample(key, ...)` given `sample_noise(key, [..., U])`: the same action.

        `jax.random.categorical`'s Gumbel-max, and distrax's -1 where the logits are not
        finite. Apart from the noise, so that a rollout can draw all of it before its time
        scan: inside, XLA fuses the hash into the argmax's reduction loop, where it is
        slow."""
        logits = jnp.where(mask, out, MASKED_LOGIT)
        action = jnp.argmax(logits + noise, axis=-1).astype(jnp.int32)
        return jnp.where(jnp.all(jnp.isfinite(logits), axis=-1), action, -1)

    def sample(self, key: Array, out: Array, mask: Array) -> Array:
        shape = jnp.broadcast_shapes(out.shape, mask.shape)
        return self.sample_from_noise(self.sample_noise(key, shape), out, mask)

    def mode(self, out: Array, mask: Array) -> Array:
        return self._dist(out, mask).mode().astype(jnp.int32)

    def log_prob(self, out: Array, mask: Array, action: Array) -> Array:
        return self._dist(out, mask).log_prob(action)

    def entropy(self, out: Array, mask: Array) -> Array:
        return self._dist(out, mask).entropy()

    def kl(self, out_old: Array, out_new: Array, mask: Array) -> Array:
        """Exact KL(pi_old || pi_new) `[...]`."""
        return self._dist(out_old, mask).kl_divergence(self._dist(out_new, mask))


class GaussianHead:
    """Network output: `[..., 2U]` = mean and log-std. Actions: float `[..., U]`."""

    discrete = False

    @staticmethod
    def _normal(out: Array) -> distrax.Normal:
        mean, log_std = jnp.split(out, 2, axis=-1)
        return distrax.Normal(mean, jnp.exp(log_std))

    @staticmethod
    def sample_noise(key: Array, shape: tuple[int, ...]) -> Array:
        """The standard normal noise `[..., U]` of a sample from `key`."""
        return jax.random.normal(key, shape, jnp.float32)

    def sample_from_noise(self, noise: Array, out: Array, mask: Array) -> Array:
        """`sample(key, ...)` given `sample_noise(key, [..., U])`: `mean + std * noise`,
        distrax's reparameterisation."""
        normal = self._normal(out)
        return jnp.where(mask, normal.loc + normal.scale * noise, 0.0)

    def sample(self, key: Array, out: Array, mask: Array) -> Array:
        shape = jnp.broadcast_shapes(out.shape[:-1] + (out.shape[-1] // 2,), mask.shape)
        return self.sample_from_noise(self.sample_noise(key, shape), out, mask)

    def mode(self, out: Array, mask: Array) -> Array:
        return jnp.where(mask, self._normal(out).mode(), 0.0)

    def log_prob(self, out: Array, mask: Array, action: Array) -> Array:
        return jnp.sum(jnp.where(mask, self._normal(out).log_prob(action), 0.0), axis=-1)

    def entropy(self, out: Array, mask: Array) -> Array:
        return jnp.sum(jnp.where(mask, self._normal(out).entropy(), 0.0), axis=-1)

    def kl(self, out_old: Array, out_new: Array, mask: Array) -> Array:
        per_dim = self._normal(out_old).kl_divergence(self._normal(out_new))
        return jnp.sum(jnp.where(mask, per_dim, 0.0), axis=-1)


def make_head(discrete: bool) -> CategoricalHead | GaussianHead:
    return CategoricalHead() if discrete else GaussianHead()


def gumbel_softmax(
    key: Array, logits: Array, mask: Array, temperature: float, hard: bool = False
) -> Array:
    """A relaxed one-hot sample `[..., U]` from `softmax((logits + g) / temperature)`.

    `g` is standard Gumbel noise; masked actions get probability zero. With `hard`, the
    forward value is the one-hot of the sample's argmax while gradients flow through the
    relaxed sample (straight-through estimator, Jang et al. 2017).
    """
    logits = jnp.where(mask, logits, MASKED_LOGIT)
    noise = jax.random.gumbel(key, logits.shape, logits.dtype)
    soft = jax.nn.softmax((logits + noise) / temperature, axis=-1)
    if not hard:
        return soft
    one_hot = jax.nn.one_hot(jnp.argmax(soft, axis=-1), soft.shape[-1], dtype=soft.dtype)
    return one_hot + (soft - jax.lax.stop_gradient(soft))  # exactly one-hot forward
