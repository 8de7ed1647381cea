"""Everything that produces observations."""

from harlax.envs.jaxmarl import JaxMARLAdapter
from harlax.envs.registry import env_names, make_env
from harlax.envs.spec import MultiAgentSpec

__all__ = ["JaxMARLAdapter", "MultiAgentSpec", "env_names", "make_env"]
