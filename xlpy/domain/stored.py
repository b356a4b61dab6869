"""Reading back the domain config libxl stores (Xen 4.17): a save file's,
or the one kept for a running domain (see xlpy.domain.setdefault.for_storage
for what it holds).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xlpy.domain.config import DomainConfig


def config_from_json(text: str) -> DomainConfig:
    """A DomainConfig from libxl's JSON (a save file's, or the stored one)."""
    from xlpy.domain.config import DomainConfig, DomainType, PvhGeneration

    dc = DomainConfig.from_json_obj(json.loads(text))
    if dc.c_info.pvh:
        dc.pvh_generation = PvhGeneration.LEGACY
    elif dc.c_info.type is DomainType.PVH:
        dc.pvh_generation = PvhGeneration.MODERN
    return dc
