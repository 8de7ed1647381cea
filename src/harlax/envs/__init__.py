"""Everything that produces observations."""

from harlax.envs._quiet import import_jaxmarl_quietly

import_jaxmarl_quietly()

from harlax.envs.jaxmarl import JaxMARLAdapter  # noqa: E402
from harlax.envs.registry import env_names, make_env  # noqa: E402
from harlax.envs.spec import MultiAgentSpec  # noqa: E402

__all__ = ["JaxMARLAdapter", "MultiAgentSpec", "env_names", "make_env"]
