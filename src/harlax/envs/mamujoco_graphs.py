"""Body graphs and agent partitions of MaMuJoCo, as plain data.

Transcribed from the reference implementation, ``gymnasium_robotics`` 1.4.2,
``envs/multiagent_mujoco/obsk.py::get_parts_and_edges`` and
``mujoco_multi.py::_generate_local_categories``. Every callable of the reference
(``extra_obs`` lambdas, ``body_fn``) is replaced by :class:`Feature` tuples, i.e.
"scalar ``index`` of a named source array, clipped to ``[low, high]``", so the
tables can be turned into gather indices once at construction
(see :mod:`harlax.envs.mamujoco_layout`).

Indices follow the reference: ``qpos_id``/``qvel_id`` may be negative (counted
from the end of ``qpos``/``qvel``); body ids index MuJoCo's body arrays
(``cinert``, ``cvel``, ``cfrc_ext``). ``tests/test_mamujoco.py`` checks every
table against the reference.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple


class Feature(NamedTuple):
    """One observation scalar: ``clip(source[index], low, high)``.

    ``source`` names a flat array of the MuJoCo data (``"qpos"``, ``"qvel"``,
    ``"qfrc_actuator"``, ``"cinert"``, ``"cvel"``, ``"cfrc_ext"``, flattened
    row-major for the body arrays) or a derived one (``"sin_qpos"``,
    ``"cos_qpos"``, ``"fingertip_dist"``); see ``mamujoco_layout.SOURCES``.
    """

    source: str
    index: int
    low: float = -math.inf
    high: float = math.inf


def features(source: str, indices, clip: float | None = None) -> tuple[Feature, ...]:
    """Features ``source[i]`` for ``i`` in ``indices``, optionally clipped to ``[-clip, clip]``."""
    bound = math.inf if clip is None else clip
    return tuple(Feature(source, int(i), -bound, bound) for i in indices)


@dataclasses.dataclass(frozen=True)
class Node:
    """A joint of the body graph (reference ``obsk.Node``).

    Attributes:
        label: Node name; the reference orders observed nodes by label.
        qpos_id: Index into ``qpos`` (may be negative) or ``None``.
        qvel_id: Index into ``qvel``/``qfrc_actuator`` (may be negative) or ``None``.
        act_id: Index of the actuator driven by this node, ``None`` for global nodes.
        bodies: Body ids used by the body categories ``cinert``/``cvel``/``cfrc_ext``.
        body_clip: If set, body items are clipped to ``[-body_clip, body_clip]``
            (the reference's Ant ``body_fn``).
        extra_obs: ``(category, features)`` pairs overriding the default
            extraction of a category (the reference's ``extra_obs``).
    """

    label: str
    qpos_id: int | None
    qvel_id: int | None
    act_id: int | None
    bodies: tuple[int, ...] = ()
    body_clip: float | None = None
    extra_obs: tuple[tuple[str, tuple[Feature, ...]], ...] = ()

    def extra(self, category: str) -> tuple[Feature, ...] | None:
        """The overriding features of ``category``, or ``None`` if not overridden."""
        return dict(self.extra_obs).get(category)


@dataclasses.dataclass(frozen=True)
class RobotGraph:
    """Body graph of one Gymnasium MuJoCo robot and its named partitions.

    Attributes:
        nodes: Actuated nodes, by label.
        edges: Hyperedges as tuples of node labels (fully connected node sets).
        global_nodes: Nodes every agent observes (reference ``mujoco_globals``), in order.
        partitions: ``agent_conf`` name -> per-agent tuples of node labels, in
            action order.
        local_categories: Default observation categories per graph distance
            (the last entry repeats for larger distances).
    """

    nodes: dict[str, Node]
    edges: tuple[tuple[str, ...], ...]
    global_nodes: tuple[Node, ...]
    partitions: dict[str, tuple[tuple[str, ...], ...]]
    local_categories: tuple[tuple[str, ...], ...] = (("qpos", "qvel"), ("qpos",))


def _chain(*labels: str) -> tuple[tuple[str, str], ...]:
    """Edges between consecutive labels: ``(a, b), (b, c), ...``."""
    return tuple(zip(labels[:-1], labels[1:], strict=True))


def _by_label(*nodes: Node) -> dict[str, Node]:
    """Index nodes by their label."""
    return {node.label: node for node in nodes}


def _planar_roots(qvel_clip: float | None = None) -> tuple[Node, ...]:
    """Global nodes of the planar robots: root x (position hidden), z and pitch."""
    vel = lambda i: (("qvel", features("qvel", [i], qvel_clip)),) if qvel_clip else ()
    return (
        Node("root_x", 0, 0, None, extra_obs=(("qpos", ()),) + vel(0)),
        Node("root_z", 1, 1, None, extra_obs=vel(1)),
        Node("root_y", 2, 2, None, extra_obs=vel(2)),
    )


def _free_root() -> Node:
    """Global node of the free-floating robots: torso height/orientation and 6-D velocity."""
    return Node(
        "root",
        None,
        None,
        None,
        extra_obs=(("qpos", features("qpos", range(2, 7))), ("qvel", features("qvel", range(6)))),
    )


def _half_cheetah() -> RobotGraph:
    """HalfCheetah: back and front legs, three joints each."""
    labels = ("bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot")
    nodes = _by_label(*(Node(lab, i - 6, i - 6, i) for i, lab in enumerate(labels)))
    return RobotGraph(
        nodes=nodes,
        edges=_chain("bfoot", "bshin", "bthigh", "fthigh", "fshin", "ffoot"),
        global_nodes=_planar_roots(),
        partitions={"2x3": (labels[:3], labels[3:]), "6x1": tuple((lab,) for lab in labels)},
    )


def _ant() -> RobotGraph:
    """Ant: four legs (hip + ankle each) around a free torso (body 1)."""
    torso = 1
    # (hip label, ankle label, actuator of the hip, first body of the leg): legs 1-4.
    legs = ((1, 2, 2), (2, 4, 5), (3, 6, 8), (4, 0, 11))
    nodes = []
    for leg, hip_act, leg_body in legs:
        qid = -10 + 2 * leg
        nodes.append(Node(f"hip{leg}", qid, qid, hip_act, bodies=(torso, leg_body), body_clip=1.0))
        nodes.append(
            Node(
                f"ankle{leg}",
                qid + 1,
                qid + 1,
                hip_act + 1,
                bodies=(leg_body, leg_body + 1, leg_body + 2),
                body_clip=1.0,
            )
        )
    leg_nodes = lambda *legs_: tuple(f"{kind}{leg}" for leg in legs_ for kind in ("hip", "ankle"))
    return RobotGraph(
        nodes=_by_label(*nodes),
        edges=(
            ("ankle4", "hip4"),
            ("ankle1", "hip1"),
            ("ankle2", "hip2"),
            ("ankle3", "hip3"),
            ("hip4", "hip1", "hip2", "hip3"),
        ),
        global_nodes=(_free_root(),),
        partitions={
            "2x4": (leg_nodes(1, 2), leg_nodes(3, 4)),
            "2x4d": (leg_nodes(1, 4), leg_nodes(2, 3)),
            "4x2": tuple(leg_nodes(leg) for leg in (1, 2, 3, 4)),
        },
        local_categories=(("qpos", "qvel", "cfrc_ext"), ("qpos",)),
    )


def _hopper() -> RobotGraph:
    """Hopper: thigh, leg and foot joints; velocities are observed clipped to +-10."""
    labels = ("thigh_joint", "leg_joint", "foot_joint")
    nodes = _by_label(
        *(
            Node(lab, i - 3, i - 3, i, extra_obs=(("qvel", features("qvel", [i - 3], 10.0)),))
            for i, lab in enumerate(labels)
        )
    )
    return RobotGraph(
        nodes=nodes,
        edges=(("foot_joint", "leg_joint"), ("leg_joint", "thigh_joint")),
        global_nodes=_planar_roots(qvel_clip=10.0),
        partitions={"3x1": tuple((lab,) for lab in labels)},
    )


def _walker2d() -> RobotGraph:
    """Walker2d: right and left legs (thigh, leg, foot)."""
    labels = ("thigh_joint", "leg_joint", "foot_joint")
    labels += tuple(lab.replace("_joint", "_left_joint") for lab in labels)
    nodes = _by_label(*(Node(lab, i - 6, i - 6, i) for i, lab in enumerate(labels)))
    return RobotGraph(
        nodes=nodes,
        edges=(
            ("foot_joint", "leg_joint"),
            ("leg_joint", "thigh_joint"),
            ("foot_left_joint", "leg_left_joint"),
            ("leg_left_joint", "thigh_left_joint"),
            ("thigh_joint", "thigh_left_joint"),
        ),
        global_nodes=_planar_roots(),
        partitions={"2x3": (labels[2::-1], labels[:2:-1])},
    )


def _swimmer() -> RobotGraph:
    """Swimmer: two rotors; each also observes one of the root's planar velocities."""
    nodes = _by_label(
        Node("rot2", -2, -2, 0, extra_obs=(("qvel", features("qvel", [0, 3])),)),
        Node("rot3", -1, -1, 1, extra_obs=(("qvel", features("qvel", [1, 4])),)),
    )
    return RobotGraph(
        nodes=nodes,
        edges=(("rot2", "rot3"),),
        global_nodes=(Node("free_body_rot", 2, 2, None),),
        partitions={"2x1": (("rot2",), ("rot3",))},
    )


def _humanoid() -> RobotGraph:
    """Humanoid: abdomen, legs and arms; partition ``9|8`` splits upper and lower body."""
    # bodies: torso 1, lwaist 2, pelvis 3, right thigh/shin/foot 4-6, left thigh/shin/foot 7-9,
    # right upper/lower arm 10-11, left upper/lower arm 12-13.
    joints = (
        ("abdomen_y", (1, 2, 3)),
        ("abdomen_z", (1, 2, 3)),
        ("abdomen_x", (3, 4, 7)),
        ("right_hip_x", (4, 5)),
        ("right_hip_z", (4, 5)),
        ("right_hip_y", (4, 5)),
        ("right_knee", (5, 6)),
        ("left_hip_x", (7, 8)),
        ("left_hip_z", (7, 8)),
        ("left_hip_y", (7, 8)),
        ("left_knee", (8, 9)),
        ("right_shoulder1", (1, 10, 11)),
        ("right_shoulder2", (1, 10, 11)),
        ("right_elbow", (11,)),
        ("left_shoulder1", (1, 12, 13)),
        ("left_shoulder2", (1, 12, 13)),
        ("left_elbow", (13,)),
    )
    nodes = _by_label(
        *(Node(lab, i - 17, i - 17, i, bodies=bodies) for i, (lab, bodies) in enumerate(joints))
    )
    abdomen = ("abdomen_x", "abdomen_y", "abdomen_z")
    hip = lambda side: tuple(f"{side}_hip_{ax}" for ax in "xyz")
    arm = lambda side: (f"{side}_shoulder1", f"{side}_shoulder2", f"{side}_elbow")
    return RobotGraph(
        nodes=nodes,
        edges=(
            abdomen,
            hip("right"),
            hip("left"),
            ("left_elbow", "left_shoulder1", "left_shoulder2"),
            ("right_elbow", "right_shoulder1", "right_shoulder2"),
            ("left_knee", *hip("left")),
            ("right_knee", *hip("right")),
            (*arm("left")[:2], *abdomen),
            (*arm("right")[:2], *abdomen),
            (*abdomen, *hip("left")),
            (*abdomen, *hip("right")),
        ),
        global_nodes=(_free_root(),),
        partitions={
            "9|8": (
                abdomen + arm("right") + arm("left"),
                hip("right") + ("right_knee",) + hip("left") + ("left_knee",),
            )
        },
        local_categories=(
            ("qpos", "qvel", "cinert", "cvel", "qfrc_actuator", "cfrc_ext"),
            ("qpos",),
        ),
    )


def _reacher() -> RobotGraph:
    """Reacher: two arm joints observed as (sin, cos); the target is global."""
    angle = lambda i: (("qpos", (Feature("sin_qpos", i), Feature("cos_qpos", i))),)
    nodes = _by_label(
        Node("joint0", -4, -4, 0, bodies=(1, 2), extra_obs=angle(-4)),
        Node(
            "joint1",
            -3,
            -3,
            1,
            bodies=(2, 3),
            extra_obs=(("fingertip_dist", features("fingertip_dist", range(3))),) + angle(-3),
        ),
    )
    no_vel = (("qvel", ()),)
    return RobotGraph(
        nodes=nodes,
        edges=(("joint0", "joint1"),),
        global_nodes=(
            Node("target_x", -2, -2, None, extra_obs=no_vel),
            Node("target_y", -1, -1, None, extra_obs=no_vel),
        ),
        partitions={"2x1": (("joint0",), ("joint1",))},
        local_categories=(("qpos", "qvel", "fingertip_dist"), ("qpos",)),
    )


ROBOT_GRAPHS: dict[str, RobotGraph] = {
    "HalfCheetah": _half_cheetah(),
    "Ant": _ant(),
    "Hopper": _hopper(),
    "Walker2d": _walker2d(),
    "Swimmer": _swimmer(),
    "Humanoid": _humanoid(),
    "Reacher": _reacher(),
}
"""Robot name (as in Gymnasium) -> body graph."""

DEFAULT_GLOBAL_CATEGORIES: tuple[str, ...] = ("qpos", "qvel")
"""The reference's default ``global_categories``."""
