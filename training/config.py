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


class Shape(_Section):
    """One tree shape the search tries."""

    name: str
    num_leaves: int = Field(ge=2, le=1024)
    max_depth: int = Field(ge=-1, le=64)
    min_leaf_share: float = Field(
        gt=0, lt=0.5, description="A leaf holds at least this share of the training rows."
    )


class ModelConfig(_Section):
    shapes: list[Shape] = Field(
        default_factory=lambda: [
            Shape(name="shallow", num_leaves=7, max_depth=3, min_leaf_share=0.004),
            Shape(name="medium", num_leaves=15, max_depth=5, min_leaf_share=0.002),
            Shape(name="deep", num_leaves=31, max_depth=8, min_leaf_share=0.001),
        ],
        min_length=1,
        description="Shapes tried on the folds; the best (with its number of trees) wins.",
    )
    max_trees: int = Field(500, ge=10, description="The most trees the search looks at.")
    trees: int = Field(
        0, ge=0, description="0: choose the number of trees on the folds; else use this many."
    )
    default_trees: int = Field(
        150, ge=1, description="Trees used when the history is too short for any fold."
    )
    fold_week_stride: int = Field(
        2, ge=1, description="Fold fits use every n-th Monday (consecutive weeks nearly repeat)."
    )
    learning_rate: float = Field(0.05, gt=0, le=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(10.0, ge=0)
    seed: int = 7
    baselines_may_serve: bool = Field(
        True,
        description="When the LightGBM model fails a guard and a baseline (the logistic "
        "regression or the ABC rule) ranks best, register that baseline instead.",
    )


class ValidationConfig(_Section):
    max_folds: int = Field(3, ge=1, le=10, description="Rolling-origin folds, latest first.")
    fold_weeks: int = Field(
        8, ge=2, description="Weeks per validation block when there are too few terms."
    )
    min_positives: int = Field(
        10, ge=1, description="Students who left a fit or a judged period needs at least."
    )


class TierConfig(_Section):
    high_share: float = Field(
        0.05, gt=0, lt=1, description="At most this share of a school's students is 'high'."
    )
    watch_share: float = Field(
        0.15, gt=0, lt=1, description="At most this share (high included) is 'high' or 'watch'."
    )
    min_lift: float = Field(
        1.5,
        ge=1,
        description=(
            "Tiers above 'low' also need a risk of this many times the base rate (on the "
            "odds: about this many times a rare rate, below 1 for a common one)."
        ),
    )
    high_lift: float = Field(
        3.0,
        ge=1,
        description="'High' also needs a risk of this many times the base rate (on the odds).",
    )


class GuardConfig(_Section):
    min_trees: int = Field(10, ge=1, description="Fewer trees: the model learned almost nothing.")
    min_distinct_risks: int = Field(
        10, ge=2, description="Fewer distinct risks on the test period cannot rank students."
    )
    bootstrap: int = Field(200, ge=20, description="Bootstrap resamples of students.")


class PromotionConfig(_Section):
    margin: float = Field(
        0.01,
        ge=0,
        description="Non-inferiority margin on within-school precision at capacity: the "
        "challenger may be this much worse (lower end of its bootstrap interval) and win.",
    )
    bootstrap: int = Field(200, ge=20, description="Bootstrap resamples of students.")


class FairnessConfig(_Section):
    top_share: float = Field(0.10, gt=0, lt=1)
    low: float = Field(0.8, gt=0)
    high: float = Field(1.25, gt=1)
    min_flagged: int = Field(20, ge=1, description="Students flagged a group needs to be judged.")
    min_positives: int = Field(20, ge=1, description="Students who left a group needs.")
    bootstrap: int = Field(200, ge=20, description="Bootstrap resamples of students.")


class EvaluationConfig(_Section):
    top_shares: list[float] = Field(default_factory=lambda: [0.05, 0.10, 0.20])


class TrainConfig(_Section):
    """Everything ``ews train`` needs besides the data."""

    labels: LabelConfig = Field(default_factory=LabelConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    tiers: TierConfig = Field(default_factory=TierConfig)
    guards: GuardConfig = Field(default_factory=GuardConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
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
