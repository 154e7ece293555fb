"""The feature catalog (``catalog.toml``): names, units, directions and reason templates."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).with_name("catalog.toml")
REQUIRED_FIELDS = ("name_en", "name_th", "description", "unit", "theme", "reason_en", "reason_th")


@dataclass(frozen=True)
class FeatureSpec:
    """One catalog entry."""

    id: str
    name_en: str
    name_th: str
    description: str
    unit: str
    theme: str
    reason_en: str
    reason_th: str
    monotone: int = 0
    sensitive: bool = False
    actionable: bool = True
    model_input: bool = True
    levels_en: tuple[str, ...] = field(default_factory=tuple)
    levels_th: tuple[str, ...] = field(default_factory=tuple)

    def reason(self, row: dict[str, Any], language: str) -> str:
        """Render this feature's reason with the student's own values.

        Args:
            row: the student's feature values by id.
            language: ``"th"`` or ``"en"``.
        """
        value = row.get(self.id)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (
                f"{self.name_th}: ไม่มีข้อมูล" if language == "th" else f"{self.name_en}: not recorded"
            )
        template = self.reason_th if language == "th" else self.reason_en
        levels = self.levels_th if language == "th" else self.levels_en
        level = levels[int(min(max(value, 0), len(levels) - 1))] if levels else ""
        values = {k: (math.nan if v is None else v) for k, v in row.items()}
        return template.format(**values, value=value, level=level)


def load_catalog(path: Path = CATALOG_PATH) -> dict[str, FeatureSpec]:
    """Read and check the catalog; raises ValueError naming an incomplete entry."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    specs = {}
    for feature_id, entry in raw.items():
        missing = [f for f in REQUIRED_FIELDS if not str(entry.get(f, "")).strip()]
        if missing:
            raise ValueError(f"catalog entry {feature_id!r} lacks {', '.join(missing)}")
        entry = dict(entry)
        for key in ("levels_en", "levels_th"):
            entry[key] = tuple(entry.get(key, ()))
        specs[feature_id] = FeatureSpec(id=feature_id, **entry)
    return specs


@lru_cache(maxsize=1)
def catalog() -> dict[str, FeatureSpec]:
    """The packaged catalog, read once per process."""
    return load_catalog()
