"""Observation layouts of MaMuJoCo: from body graphs to gather indices.

Re-implements the reference's rules (``gymnasium_robotics`` 1.4.2,
``obsk.get_joints_at_kdist`` and ``obsk.build_obs``) on the plain-data tables of
:mod:`harlax.envs.mamujoco_graphs`, producing for every agent a list of
:class:`~harlax.envs.mamujoco_graphs.Feature`. A :class:`Layout` then turns the
features of all agents (and of the world state) into one gather from a flat
"feature bank" plus one clip, usable with NumPy on ``mujoco.MjData`` and with
JAX on ``mjx.Data``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence

import numpy as np

from harlax.envs.mamujoco_graphs import Feature, Node, RobotGraph

BODY_WIDTHS: dict[str, int] = {"cinert": 10, "cvel": 6, "cfrc_ext": 6}
"""Items per body of the body categories (rows of MuJoCo's ``[nbody, width]`` arrays)."""

_SCALAR_IDS: dict[str, str] = {"qpos": "qpos_id", "qvel": "qvel_id", "qfrc_actuator": "qvel_id"}


def data_field(data, name: str):
    """Field ``name`` of ``mujoco.MjData`` or ``mjx.Data`` (JAX-only fields live in ``_impl``)."""
    impl = getattr(data, "_impl", None)
    if impl is not None and hasattr(impl, name):
        return getattr(impl, name)
    return getattr(data, name)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Sizes and body ids of a MuJoCo model needed to lay out features.

    Attributes:
        nq: Number of position coordinates.
        nv: Number of degrees of freedom.
        nbody: Number of bodies (including the world body 0).
        fingertip: Body id of ``fingertip`` (Reacher), else -1.
        target: Body id of ``target`` (Reacher), else -1.
    """

    nq: int
    nv: int
    nbody: int
    fingertip: int = -1
    target: int = -1

    @classmethod
    def from_model(cls, model) -> ModelInfo:
        """Read the sizes and body ids from a ``mujoco.MjModel``."""
        body_id = lambda name: next(
            (i for i in range(model.nbody) if model.body(i).name == name), -1
        )
        return cls(model.nq, model.nv, model.nbody, body_id("fingertip"), body_id("target"))


def _source_fns(info: ModelInfo, xp) -> dict[str, Callable]:
    """Per source name, a function ``data -> flat array`` (array module ``xp``)."""
    flat = lambda name: lambda d: xp.reshape(data_field(d, name), (-1,))
    return {
        "qpos": flat("qpos"),
        "qvel": flat("qvel"),
        "qfrc_actuator": flat("qfrc_actuator"),
        "cinert": flat("cinert"),
        "cvel": flat("cvel"),
        "cfrc_ext": flat("cfrc_ext"),
        "sin_qpos": lambda d: xp.sin(d.qpos),
        "cos_qpos": lambda d: xp.cos(d.qpos),
        "fingertip_dist": lambda d: d.xpos[info.fingertip] - d.xpos[info.target],
    }


def source_sizes(info: ModelInfo) -> dict[str, int]:
    """Length of every flat source array for a model."""
    sizes = {"qpos": info.nq, "qvel": info.nv, "qfrc_actuator": info.nv}
    sizes |= {name: info.nbody * width for name, width in BODY_WIDTHS.items()}
    sizes |= {"sin_qpos": info.nq, "cos_qpos": info.nq, "fingertip_dist": 3}
    return sizes


def nodes_within_k(
    partition: Sequence[Node], edges: Sequence[Sequence[Node]], k: int
) -> list[list[Node]]:
    """Nodes at graph distance 0..k from an agent's nodes (reference ``get_joints_at_kdist``).

    Args:
        partition: The agent's nodes.
        edges: Hyperedges; nodes of one hyperedge are pairwise adjacent.
        k: Largest distance.

    Returns:
        ``k + 1`` lists; list ``d`` holds the nodes first reached at distance ``d``,
        sorted by label.
    """
    explored = set(partition)
    frontier = set(partition)
    levels = [sorted(frontier, key=lambda n: n.label)]
    for _ in range(k):
        adjacent = {other for n in frontier for e in edges if n in e for other in e if other != n}
        frontier = adjacent - explored
        explored |= frontier
        levels.append(sorted(frontier, key=lambda n: n.label))
    return levels


def _node_features(node: Node, category: str, seen: dict[str, set[int]]) -> list[Feature]:
    """Features of one category of one node (one branch of the reference ``build_obs``).

    ``seen`` maps body categories to the bodies already emitted; it is updated in
    place so that a body shared by several nodes is observed once.
    """
    override = node.extra(category)
    if override is not None:
        return list(override)
    if category in _SCALAR_IDS:
        index = getattr(node, _SCALAR_IDS[category])
        if index is None:
            raise ValueError(f"node {node.label!r} has no {category} entry")
        return [Feature(category, index)]
    if category not in BODY_WIDTHS:
        return []
    width, clip = BODY_WIDTHS[category], node.body_clip
    bound = np.inf if clip is None else clip
    out = []
    for body in node.bodies:
        if body not in seen.setdefault(category, set()):
            seen[category].add(body)
            out += [Feature(category, body * width + j, -bound, bound) for j in range(width)]
    return out


def agent_features(
    levels: Sequence[Sequence[Node]],
    local_categories: Sequence[Sequence[str]],
    global_nodes: Sequence[Node],
    global_categories: Sequence[str],
) -> list[Feature]:
    """The observation of one agent as a list of features (reference ``build_obs``).

    Args:
        levels: Output of :func:`nodes_within_k` for the agent.
        local_categories: Categories observed at each distance (``len >= len(levels)``).
        global_nodes: The robot's global nodes.
        global_categories: Categories observed of the global nodes.

    Returns:
        Features in observation order: local items by distance, node and category,
        then global items by category and node.
    """
    seen: dict[str, set[int]] = {}
    local = [
        _node_features(node, category, seen)
        for nodes, categories in zip(levels, local_categories, strict=False)
        for node in nodes
        for category in categories
    ]
    seen = {}
    global_ = [
        _node_features(node, category, seen)
        for category in global_categories
        for node in global_nodes
    ]
    return list(itertools.chain(*local, *global_))


def expand_categories(
    categories: Sequence[Sequence[str]], agent_obsk: int
) -> list[tuple[str, ...]]:
    """Categories for distances ``0..agent_obsk``, repeating the last entry (as the reference)."""
    return [tuple(categories[min(k, len(categories) - 1)]) for k in range(agent_obsk + 1)]


def partition_features(
    graph: RobotGraph,
    agent_conf: str,
    agent_obsk: int,
    local_categories: Sequence[Sequence[str]] | None = None,
    global_categories: Sequence[str] = ("qpos", "qvel"),
) -> tuple[list[tuple[int, ...]], list[list[Feature]]]:
    """Actuator ids and observation features of every agent of a partition.

    Args:
        graph: Body graph of the robot.
        agent_conf: Partition name, e.g. ``"2x3"``.
        agent_obsk: Observation depth ``k`` (>= 0).
        local_categories: Per-distance categories; default: the robot's (reference) default.
        global_categories: Categories of the global nodes.

    Returns:
        ``(act_ids, feats)``: per agent, the actuator index of each action entry,
        and the observation features.
    """
    if agent_obsk < 0:
        raise ValueError(f"agent_obsk must be >= 0, got {agent_obsk}")
    nodes = graph.nodes
    edges = [tuple(nodes[lab] for lab in edge) for edge in graph.edges]
    categories = expand_categories(local_categories or graph.local_categories, agent_obsk)
    act_ids, feats = [], []
    for labels in graph.partitions[agent_conf]:
        part = [nodes[lab] for lab in labels]
        act_ids.append(tuple(node.act_id for node in part))
        levels = nodes_within_k(part, edges, agent_obsk)
        feats.append(agent_features(levels, categories, graph.global_nodes, global_categories))
    return act_ids, feats


@dataclasses.dataclass(frozen=True)
class Layout:
    """Gather-and-clip plan computing several observation vectors from MuJoCo data.

    Attributes:
        sources: Names of the flat source arrays concatenated into the feature bank.
        index: ``int32 [total]`` positions in the bank of all observation entries.
        low: ``float32 [total]`` lower clip bounds (``-inf`` if unclipped).
        high: ``float32 [total]`` upper clip bounds.
        sizes: Length of each output vector; ``sum(sizes) == total``.
        info: The model sizes used to resolve indices.
    """

    sources: tuple[str, ...]
    index: np.ndarray
    low: np.ndarray
    high: np.ndarray
    sizes: tuple[int, ...]
    info: ModelInfo

    @classmethod
    def build(cls, vectors: Sequence[Sequence[Feature]], info: ModelInfo) -> Layout:
        """Resolve the features of several output vectors against a model.

        Negative feature indices count from the end of their source, as in the reference.
        """
        flat = [f for vec in vectors for f in vec]
        sources = tuple(sorted({f.source for f in flat}))
        sizes = source_sizes(info)
        unknown = set(sources) - set(sizes)
        if unknown:
            raise ValueError(f"unknown observation sources {sorted(unknown)}")
        offsets = dict(zip(sources, np.cumsum([0] + [sizes[s] for s in sources]), strict=False))
        index = [offsets[f.source] + f.index % sizes[f.source] for f in flat]
        return cls(
            sources=sources,
            index=np.asarray(index, dtype=np.int32),
            low=np.asarray([f.low for f in flat], dtype=np.float32),
            high=np.asarray([f.high for f in flat], dtype=np.float32),
            sizes=tuple(len(vec) for vec in vectors),
            info=info,
        )

    def bank(self, data, xp=np):
        """Concatenation of the used source arrays: ``[bank_dim]``.

        Args:
            data: ``mujoco.MjData`` (with ``xp=numpy``) or ``mjx.Data`` (with ``xp=jax.numpy``).
            xp: Array module.
        """
        fns = _source_fns(self.info, xp)
        return xp.concatenate([fns[name](data) for name in self.sources])

    def apply(self, data, xp=np) -> list:
        """All output vectors, ``[sizes[i]]`` each, computed from ``data``."""
        values = xp.clip(self.bank(data, xp)[self.index], self.low, self.high)
        splits = np.cumsum(self.sizes)[:-1].tolist()
        return xp.split(values, splits)
