"""The cube service: the one door to the cubes for every front end (see cube_service)."""

from .cellset import Axis, AxisLevel, CellSet, CutInfo, Explain, MeasureInfo, Member
from .cube_service import CubeService, CutDetail, ServiceLimits
from .principal import ANONYMOUS, PUBLIC_ROLE, Principal

__all__ = [
    "ANONYMOUS",
    "PUBLIC_ROLE",
    "Axis",
    "AxisLevel",
    "CellSet",
    "CubeService",
    "CutDetail",
    "CutInfo",
    "Explain",
    "MeasureInfo",
    "Member",
    "Principal",
    "ServiceLimits",
]
