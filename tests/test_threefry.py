"""harlax.threefry: the straight-line Threefry-2x32 lowering gives JAX's random bits."""

import contextlib
import io
import json
import subprocess
import sys

import jax
import numpy as np
from jax.extend.random import threefry2x32_p

import harlax  # noqa: F401  (registers the lowering)
from harlax.threefry import threefry2x32_unrolled

MASK = 0xFFFFFFFF


def threefry_reference(key1: int, key2: int, count1: int, count2: int) -> tuple[int, int]:
    """Threefry-2x32 with 20 rounds on Python ints, round by round (Random123's definition)."""
    rotations = [13, 15, 26, 6, 17, 29, 16, 24]
    keys = [key1, key2, key1 ^ key2 ^ 0x1BD11BDA]
    x = [(count1 + keys[0]) & MASK, (count2 + keys[1]) & MASK]
    for round_index in range(20):
        x[0] = (x[0] + x[1]) & MASK
        r = rotations[round_index % 8]
        x[1] = ((x[1] << r) | (x[1] >> (32 - r))) & MASK
        x[1] ^= x[0]
        if round_index % 4 == 3:
            injection = round_index // 4 + 1
            x[0] = (x[0] + keys[injection % 3]) & MASK
            x[1] = (x[1] + keys[(injection + 1) % 3] + injection) & MASK
    return x[0], x[1]


# Random123's known-answer vectors for threefry2x32_20: (key, counter) -> output.
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


def test_known_answers():
    for key, counter, expected in KNOWN_ANSWERS:
        assert threefry_reference(*key, *counter) == expected
        words = threefry2x32_unrolled(*(np.array([w], dtype=np.uint32) for w in key + counter))
        assert tuple(int(w[0]) for w in words) == expected


def test_compiled_primitive_equals_the_reference_loop():
    rng = np.random.default_rng(0)
    words = [rng.integers(0, 2**32, size=(7, 3), dtype=np.uint32) for _ in range(4)]
    out = jax.jit(lambda *w: threefry2x32_p.bind(*w))(*words)
    for i, j in np.ndindex(7, 3):
        expected = threefry_reference(*(int(w[i, j]) for w in words))
        assert (int(out[0][i, j]), int(out[1][i, j])) == expected


def test_the_cpu_program_has_no_loop():
    hlo = jax.jit(lambda key: jax.random.split(key, 4)).lower(jax.random.PRNGKey(0))
    assert "while" not in hlo.compile().as_text()


SAMPLES = """
import json, jax, jax.numpy as jnp
key = jax.random.PRNGKey(7)
keys = jax.random.split(key, 3)
print(json.dumps({
    "split": jax.random.split(key, 5).tolist(),
    "fold_in": jax.random.fold_in(key, 11).tolist(),
    "bits": jax.random.bits(keys[0], (9,)).tolist(),
    "categorical": jax.random.categorical(keys[1], jnp.zeros((6, 5))).tolist(),
    "normal": jax.random.normal(keys[2], (4,)).tolist(),
}))
"""


def test_same_numbers_as_jax_own_lowering():
    """A process without harlax (JAX's rolled loop) draws exactly what this one draws."""
    jax_own = subprocess.run(
        [sys.executable, "-c", SAMPLES], capture_output=True, text=True, check=True
    ).stdout
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(SAMPLES, {})
    assert (
        "while"
        not in jax.jit(lambda k: jax.random.bits(k, (9,)))
        .lower(jax.random.PRNGKey(0))
        .compile()
        .as_text()
    )  # this process draws with the straight-line lowering
    ours, theirs = json.loads(printed.getvalue()), json.loads(jax_own)
    assert ours.keys() == theirs.keys()
    for name, values in theirs.items():
        np.testing.assert_array_equal(np.asarray(ours[name]), np.asarray(values), err_msg=name)
