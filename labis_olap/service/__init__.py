"""The cube service: the one door to the cubes for every front end (see cube_service)."""

from ..query.limits import Cancellation
from .cellset import STATUS, Axis, AxisLevel, CellSet, CutInfo, Explain, MeasureInfo, Member
from .cube_service import CubeService, CutDetail, PartLimits, ServiceLimits
from .principal import ANONYMOUS, OPERATOR, PUBLIC_ROLE, Principal

__all__ = [
    "ANONYMOUS",
    "OPERATOR",
    "PUBLIC_ROLE",
    "STATUS",
    "Axis",
    "AxisLevel",
    "Cancellation",
    "CellSet",
    "CubeService",
    "CutDetail",
    "CutInfo",
    "Explain",
    "MeasureInfo",
    "Member",
    "PartLimits",
    "Principal",
    "ServiceLimits",
]
