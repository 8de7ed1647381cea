"""MJX collision details aligned with CPU MuJoCo for the Gymnasium robots.

MJX (``mujoco-mjx`` 3.17) builds the tangent frame of a plane-capsule contact
from the capsule axis projected on the plane, but falls back to a fixed axis
when that projection is shorter than 0.5 (capsule steeper than 60 degrees).
CPU MuJoCo (``mjc_PlaneCapsule`` + ``mju_makeFrame``) always uses the
projected capsule axis. With pyramidal friction cones the tangent frame
orients the friction pyramid, so the two disagree on every contact of a steep
capsule in 3-D robots (Ant's legs, Humanoid's limbs), changing the contact
forces by several percent. Planar robots are unaffected (the two frames differ
by a multiple of 90 degrees there, which leaves the pyramid unchanged).

:func:`cpu_contact_frames` swaps MJX's plane-capsule collider for one with
CPU MuJoCo's frame while a function is traced. It relies on MJX internals;
if they are missing, it leaves MJX unchanged and warns.
"""

from __future__ import annotations

import contextlib
import warnings

import jax.numpy as jnp
import mujoco

try:  # MJX internals (mujoco-mjx 3.x, JAX backend)
    from mujoco.mjx._src import collision_driver, collision_primitive
    from mujoco.mjx._src.types import GeomType

    _KEY = (GeomType.PLANE, GeomType.CAPSULE)
    _HAVE_INTERNALS = _KEY in collision_driver._COLLISION_FUNC
except (ImportError, AttributeError):  # pragma: no cover - depends on the MJX version
    _HAVE_INTERNALS = False


def _cpu_tangent(normal, axis):
    """CPU MuJoCo's first tangent: ``axis`` orthogonalised against ``normal``, unit: ``[3]``.

    ``mju_makeFrame`` keeps a given unit y-axis, removes its normal component and
    normalises (to ``(1, 0, 0)`` if it vanishes).
    """
    tangent = axis - normal * jnp.dot(normal, axis)
    norm = jnp.linalg.norm(tangent)
    safe = jnp.where(norm < mujoco.mjMINVAL, 1.0, norm)
    return jnp.where(norm < mujoco.mjMINVAL, jnp.array([1.0, 0.0, 0.0]), tangent / safe)


def _plane_capsule(plane, cap):
    """Two plane-capsule contacts (one per cap end) with CPU MuJoCo's contact frame.

    Args:
        plane: ``GeomInfo`` of the plane (``pos [3]``, ``mat [3, 3]``, ``size``).
        cap: ``GeomInfo`` of the capsule (``size[0]`` radius, ``size[1]`` half-length).

    Returns:
        ``(dist [2], pos [2, 3], frame [2, 3, 3])``.
    """
    normal, axis = plane.mat[:, 2], cap.mat[:, 2]
    tangent = _cpu_tangent(normal, axis)
    frame = jnp.stack([normal, tangent, jnp.cross(normal, tangent)])
    segment = axis * cap.size[1]
    ends = [
        collision_primitive._plane_sphere(normal, plane.pos, cap.pos + s, cap.size[0])
        for s in (segment, -segment)
    ]
    dist = jnp.stack([e[0] for e in ends])
    pos = jnp.stack([e[1] for e in ends])
    return dist, pos, jnp.stack([frame, frame])


if _HAVE_INTERNALS:
    _plane_capsule_collider = collision_primitive.collider(ncon=2)(_plane_capsule)


@contextlib.contextmanager
def cpu_contact_frames():
    """Within the block, MJX traces plane-capsule contacts with CPU MuJoCo's frames.

    Only affects functions *traced* inside the block (e.g. the body of a jitted
    step); the original collider is restored on exit.
    """
    if not _HAVE_INTERNALS:
        warnings.warn(
            "MJX internals changed: plane-capsule contact frames differ from CPU MuJoCo",
            stacklevel=2,
        )
        yield
        return
    table = collision_driver._COLLISION_FUNC
    original = table[_KEY]
    table[_KEY] = _plane_capsule_collider
    try:
        yield
    finally:
        table[_KEY] = original
