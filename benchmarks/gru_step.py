"""Time per step of harlax's GRU layer against flax's `GRUCell` in a `lax.scan`.

Both run the layer a recurrent MAPPO minibatch runs: `T` steps of `N` sequences, input
width `D`, hidden width `H`, resets where `first` is set. `harlax` is `nets.GRU` (input
projections before the loop, `gru.gru_recurrence` with its written-out backward pass);
`flax_scan` is `flax.linen.GRUCell` stepped by `lax.scan` and differentiated by autodiff,
the way JaxMARL's `ScannedRNN` runs it. "fwd" is the layer's outputs; "fwd_bwd" the
gradient of a loss of its outputs for the inputs and every parameter.

Both compile with the options of a recurrent training program
(`compiling.jit(..., recurrent=True)`). Each timed call runs the function `--inner`
times inside one compiled loop (as a training chunk reuses its buffers), and the
variants alternate round by round so that they see the same machine state. Reported:
the median and the best round, in milliseconds per step.

    python -m benchmarks.gru_step                      # N = 12, 48, 96, 192
    python -m benchmarks.gru_step --num-seqs 96 --rounds 5

Writes benchmarks/results/gru_step.csv.
"""

from __future__ import annotations

import argparse
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp

from benchmarks.common import print_row, write_table
from harlax.compiling import jit
from harlax.nets import GRU


class FlaxScanGRU(nn.Module):
    """`GRUCell` stepped by `nn.scan`, carry reset where `first` is set."""

    @nn.compact
    def __call__(self, carry, inputs, first):
        def step(cell, carry, step_in):
            x, reset = step_in
            carry = jnp.where(reset[:, None], 0.0, carry)
            return cell(carry, x)

        scan = nn.scan(step, variable_broadcast="params", split_rngs={"params": False})
        return scan(nn.GRUCell(features=carry.shape[-1]), carry, (inputs, first))


def layer_functions(module: nn.Module, inputs, first, carry, inner: int):
    """`(params, fwd, fwd_bwd)`: jitted functions of `(params, inputs, carry)` that run the
    layer `inner` times in one `lax.scan`, each time on slightly changed parameters."""
    params = module.init(jax.random.PRNGKey(0), carry, inputs, first)

    def outputs(params, inputs, carry):
        return module.apply(params, carry, inputs, first)[1]

    def loss(params, inputs, carry):
        return jnp.mean(outputs(params, inputs, carry) ** 2)

    grad = jax.grad(loss, argnums=(0, 1))

    def repeated(fn):
        def run(params, inputs, carry):
            def body(total, i):
                scaled = jax.tree.map(lambda p: p * (1.0 + 1e-3 * i), params)
                return jax.tree.map(jnp.add, total, fn(scaled, inputs, carry)), None

            shapes = jax.eval_shape(fn, params, inputs, carry)
            zero = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
            steps = jnp.arange(inner, dtype=jnp.float32)
            return jax.lax.scan(body, zero, steps)[0]

        return jit(run, recurrent=True)  # as a recurrent training program compiles

    return params, repeated(outputs), repeated(grad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-seqs", nargs="+", type=int, default=[12, 48, 96, 192])
    parser.add_argument("--time-steps", type=int, default=128)
    parser.add_argument("--input-dim", type=int, default=128)
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--inner", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--name", default="gru_step")
    args = parser.parse_args()
    t, d, h = args.time_steps, args.input_dim, args.hidden_dim

    header = ["num_seqs", "impl", "pass", "ms_per_step_median", "ms_per_step_best"]
    rows = []
    for n in args.num_seqs:
        keys = jax.random.split(jax.random.PRNGKey(n), 2)
        inputs = jax.random.normal(keys[0], (t, n, d))
        first = jax.random.bernoulli(keys[1], 0.04, (t, n))
        carry = jnp.zeros((n, h))
        timed = {}
        for impl, module in (("harlax", GRU()), ("flax_scan", FlaxScanGRU())):
            params, fwd, fwd_bwd = layer_functions(module, inputs, first, carry, args.inner)
            for name, fn in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
                jax.block_until_ready(fn(params, inputs, carry))  # compile and warm up
                timed[(impl, name)] = (fn, params, [])
        for _ in range(args.rounds):
            for fn, params, times in timed.values():
                start = time.perf_counter()
                jax.block_until_ready(fn(params, inputs, carry))
                times.append((time.perf_counter() - start) * 1e3 / (t * args.inner))
        for (impl, name), (_, _, times) in timed.items():
            row = [n, impl, name, statistics.median(times), min(times)]
            rows.append(row)
            print_row(dict(zip(header, row, strict=True)))
    settings = dict(
        time_steps=t,
        input_dim=d,
        hidden_dim=h,
        inner=args.inner,
        rounds=args.rounds,
        reset_probability=0.04,
    )
    print(write_table(args.name, header, rows, settings))


if __name__ == "__main__":
    main()
