"""The feature catalog (``catalog.toml``): names, units, directions and reason templates."""

from __future__ import annotations

import dataclasses
import math
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
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
    # When the reason's statement is true of a value, as "<op> <number>" (">0", "==1",
    # "<0"); empty: by the unit and direction (``reason_condition``).
    reason_if: str = ""
    # Reasons of one group say the same thing (absent 8 of 20 days, absent 40% of recent
    # days): a student is given the first of them only.
    group: str = ""

    @cached_property
    def reason_condition(self) -> tuple[str, float] | None:
        """(operator, number) a value must meet for the reason to be true of it; None:
        every recorded value (an amount stated as it is, such as a GPA)."""
        text = self.reason_if.strip()
        if text:
            for op in (">=", "<=", "==", ">", "<"):
                if text.startswith(op):
                    return op, float(text[len(op) :])
            raise ValueError(f"catalog entry {self.id!r}: reason_if {text!r} is not '<op> <n>'")
        if self.unit == "flag":
            return "==", 1.0
        if self.levels_en:
            return ">=", 1.0
        if self.monotone > 0:
            return ">", 0.0
        return None

    def holds(self, value: Any) -> bool:
        """Whether this feature's reason states something true of ``value``."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        condition = self.reason_condition
        return condition is None or bool(compare(float(value), *condition))

    @cached_property
    def reason_inputs(self) -> tuple[str, ...]:
        """The row values this feature's reason texts read (its own value first)."""
        named = {
            field.split(".")[0].split("[")[0]
            for template in (self.reason_th, self.reason_en)
            for _, field, _, _ in string.Formatter().parse(template)
            if field
        }
        return (self.id, *sorted(named - {"value", "level", "s", self.id}))

    def reason(self, row: Mapping[str, Any], language: str) -> str:
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
        text = template.format_map(
            _FormatValues(
                row,
                value=value,
                level=self._level(value, language),
                # English plurals: "1 year", "2 years".
                s="" if round(float(value)) in (1, -1) else "s",
            )
        )
        if "nan" in text:  # a context value the template names is unknown
            return self.statement(value, language)
        return text

    def statement(self, value: Any, language: str) -> str:
        """The feature and the student's value, stated plainly ("Transition grade: no"):
        true of any value, for where a reason's statement is not."""
        name = self.name_th if language == "th" else self.name_en
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return f"{name}: {'ไม่มีข้อมูล' if language == 'th' else 'not recorded'}"
        return f"{name}: {self.formatted(float(value), language)}"

    def formatted(self, value: float, language: str) -> str:
        """A value in its unit, in words of the language."""
        thai = language == "th"
        if self.levels_en:
            return self._level(value, language)
        if self.unit == "flag":
            return ("ใช่" if thai else "yes") if value >= 0.5 else ("ไม่ใช่" if thai else "no")
        if self.unit == "share":
            return f"{value:.0%}"
        if self.unit == "share points":
            return f"{value * 100:+.0f} {'จุด' if thai else 'points'}"
        sign = "+" if "change" in self.id or "trend" in self.id else ""
        if self.unit in ("grade points", "points"):
            return f"{value:{sign}.2f}" if self.unit == "grade points" else f"{value:{sign}.0f}"
        words = UNIT_WORDS.get(self.unit)
        number = f"{value:,.1f}" if self.unit == "km" else f"{value:,.0f}"
        if words is None:
            return number
        return f"{number} {words[0] if thai else words[1]}"

    def _level(self, value: Any, language: str) -> str:
        levels = self.levels_th if language == "th" else self.levels_en
        return levels[int(min(max(value, 0), len(levels) - 1))] if levels else ""


def compare(value: float, op: str, number: float) -> bool:
    """``value <op> number``."""
    return {
        ">": value > number,
        ">=": value >= number,
        "<": value < number,
        "<=": value <= number,
        "==": abs(value - number) < 1e-9,
    }[op]


# Units in words (Thai, English), for values stated plainly.
UNIT_WORDS: dict[str, tuple[str, str]] = {
    "days": ("วัน", "days"),
    "subjects": ("วิชา", "subjects"),
    "pieces": ("ชิ้น", "pieces"),
    "baht a month": ("บาทต่อเดือน", "baht a month"),
    "people": ("คน", "people"),
    "km": ("กม.", "km"),
    "minutes": ("นาที", "minutes"),
    "domains": ("ด้าน", "domains"),
    "years": ("ปี", "years"),
    "moves": ("ครั้ง", "moves"),
    "schools": ("โรงเรียน", "schools"),
    "actions": ("ครั้ง", "actions"),
}


# Plausible bounds by unit, for checking feature values sent by integrators.
UNIT_RANGES: dict[str, tuple[float, float]] = {
    "share": (0.0, 1.0),
    "flag": (0.0, 1.0),
    "share points": (-1.0, 1.0),
    "days": (0.0, 3650.0),
    "years": (-10.0, 30.0),
    "baht a month": (0.0, 10_000_000.0),
    "km": (0.0, 500.0),
    "minutes": (0.0, 600.0),
}


def value_range(spec: FeatureSpec) -> tuple[float, float]:
    """The values a feature can take; anything outside is an input error."""
    if spec.levels_en:
        return 0.0, float(len(spec.levels_en) - 1)
    if spec.unit == "level":
        return 0.0, 19.0
    if spec.unit == "grade points":
        return (-4.0, 4.0) if "change" in spec.id else (0.0, 4.0)
    if spec.unit == "points":
        return (-40.0, 40.0) if "change" in spec.id else (0.0, 40.0)
    return UNIT_RANGES.get(spec.unit, (0.0, 1000.0))


class _FormatValues:
    """A row's values for a template, read on demand (a row has dozens, a template names
    one or two); a context value the caller did not send shows as unknown."""

    def __init__(self, row: Mapping[str, Any], **extra: Any) -> None:
        self.row = row
        self.extra = extra

    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        value = self.row.get(key)
        return math.nan if value is None else value


def load_catalog(path: Path = CATALOG_PATH) -> dict[str, FeatureSpec]:
    """Read and check the catalog; raises ValueError naming an incomplete entry."""
    return specs_from_entries(tomllib.loads(path.read_text(encoding="utf-8")))


def specs_from_entries(raw: dict[str, Any]) -> dict[str, FeatureSpec]:
    """Catalog entries (from the TOML file or a model bundle's JSON) as specs."""
    specs = {}
    for feature_id, entry in raw.items():
        missing = [f for f in REQUIRED_FIELDS if not str(entry.get(f, "")).strip()]
        if missing:
            raise ValueError(f"catalog entry {feature_id!r} lacks {', '.join(missing)}")
        entry = {k: v for k, v in entry.items() if k != "id"}
        for key in ("levels_en", "levels_th"):
            entry[key] = tuple(entry.get(key, ()))
        specs[feature_id] = FeatureSpec(id=feature_id, **entry)
    return specs


@lru_cache(maxsize=1)
def catalog() -> dict[str, FeatureSpec]:
    """The packaged catalog, read once per process."""
    return load_catalog()


def catalog_entries() -> dict[str, dict[str, Any]]:
    """The catalog as a model bundle keeps it (JSON-ready dictionaries)."""
    return {f: dataclasses.asdict(spec) for f, spec in catalog().items()}
