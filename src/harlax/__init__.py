"""harlax: multi-agent reinforcement learning as single compiled JAX programs."""

from harlax.config import ALGOS, Config, presets
from harlax.envs.registry import env_names, make_env
from harlax.train import TrainResult, make_train, train

__all__ = ["ALGOS", "Config", "TrainResult", "env_names", "make_env", "make_train", "presets",
           "train"]
__version__ = "0.1.0"
