"""The training configuration: a TOML file of documented defaults, overridden by flags."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LabelConfig(_Section):
    horizon_days: int = Field(
        180, ge=7, le=730, description="Days after the as-of date a dropout counts."
    )
    m3_transition_counts: bool = Field(
        True, description="Whether failing to continue after M3 counts."
    )


class SplitConfig(_Section):
    train_until: date | None = Field(
        None, description="Last as-of date of training and validation."
    )
    test_from: date | None = Field(None, description="First as-of date of the test period.")
    first_as_of: date | None = Field(None, description="Earliest as-of date used.")

    @field_validator("train_until", "test_from", "first_as_of", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value


class FeatureConfig(_Section):
    use_sensitive: bool = Field(False, description="Use sex, nationality and disability as inputs.")


class ModelConfig(_Section):
    num_leaves: int = Field(15, ge=2, le=1024)
    max_depth: int = Field(5, ge=-1, le=64)
    learning_rate: float = Field(0.03, gt=0, le=1)
    min_child_samples: int = Field(1000, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(10.0, ge=0)
    num_boost_round: int = Field(1000, ge=1)
    early_stopping_rounds: int = Field(100, ge=1)
    seed: int = 7


class FairnessConfig(_Section):
    top_share: float = Field(0.10, gt=0, lt=1)
    low: float = Field(0.8, gt=0)
    high: float = Field(1.25, gt=1)
    min_flagged: int = Field(20, ge=1)
    min_positives: int = Field(20, ge=1)


class EvaluationConfig(_Section):
    top_shares: list[float] = Field(default_factory=lambda: [0.05, 0.10, 0.20])


class TrainConfig(_Section):
    """Everything ``ews train`` needs besides the data."""

    labels: LabelConfig = Field(default_factory=LabelConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    fairness: FairnessConfig = Field(default_factory=FairnessConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)

    @classmethod
    def load(cls, path: Path | None = None) -> TrainConfig:
        """Read the defaults, then the given file over them (a partial file is fine)."""
        merged = tomllib.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))
        if path is not None:
            for section, values in tomllib.loads(path.read_text(encoding="utf-8")).items():
                if not isinstance(values, dict):
                    raise ValueError(f"{path}: top-level key {section!r} must be a [section]")
                merged.setdefault(section, {}).update(values)
        return cls.model_validate(merged)
