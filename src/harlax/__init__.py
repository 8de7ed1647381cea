"""harlax: multi-agent reinforcement learning as single compiled JAX programs."""

# isort: off
from harlax import _distributed  # noqa: F401  (first: joins a multi-host run, see module)
# isort: on

from harlax.aggregate import aggregate
from harlax.choices import ALGOS
from harlax.compiling import enable_compilation_cache
from harlax.config import Config
from harlax.envs.registry import env_names, make_env
from harlax.named_configs import presets
from harlax.plot import plot
from harlax.runs import evaluate, load, resume
from harlax.train import TrainResult, make_train, train

__all__ = [
    "ALGOS",
    "Config",
    "TrainResult",
    "aggregate",
    "enable_compilation_cache",
    "env_names",
    "evaluate",
    "load",
    "make_env",
    "make_train",
    "plot",
    "presets",
    "resume",
    "train",
]
__version__ = "0.1.0"
