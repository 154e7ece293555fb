"""Reasons advisors see, and the words of the pages."""

from __future__ import annotations

import numpy as np
import orjson

from features.catalog import FeatureSpec, catalog
from serving import i18n
from serving.reasons import (
    STEPS,
    ReasonTexts,
    _Text,
    first_steps,
    reason_indices,
    suggested_step,
    top_reasons,
)
from serving.store import reasons_text


def test_only_actionable_adverse_values_become_reasons() -> None:
    specs = catalog()
    features = [
        "absent_days_20d",
        "absence_trend_20d",
        "sex_female",
        "school_dropout_rate_past_years",
    ]
    values = {
        "absent_days_20d": 9.0,
        "school_days_20d": 20.0,
        "absence_trend_20d": 0.0,
        "sex_female": 1.0,
        "school_dropout_rate_past_years": 0.05,
    }
    shap = np.array([0.8, 0.3, 0.5, 0.4])  # every one pushes risk up
    medians = {"absent_days_20d": 1.0, "absence_trend_20d": 0.0}

    reasons = top_reasons(values, shap, features, specs, medians=medians)

    # Sex is protected, the school's past rate is not actionable, a +0% trend is ordinary.
    assert [r["feature"] for r in reasons] == ["absent_days_20d"]
    assert reasons[0]["text_en"] == "absent 9 of the last 20 school days"
    assert suggested_step(reasons, specs) == STEPS["attendance"]


def adverse(spec: FeatureSpec, value: float, median: float | None) -> bool:
    """The rule one student at a time: on the risky side of the median, by direction."""
    if median is None or spec.monotone == 0:
        return True
    return value > median if spec.monotone > 0 else value < median


def test_a_reason_follows_the_known_direction() -> None:
    specs = catalog()
    shap = np.array([0.5])

    def shown(feature: str, value: float, median: float | None) -> bool:
        medians = {} if median is None else {feature: median}
        found = top_reasons({feature: value}, shap, [feature], specs, medians=medians)
        return [r["feature"] for r in found] == [feature]

    assert shown("gpa_last_term", 1.2, 2.5)
    assert not shown("gpa_last_term", 3.4, 2.5)
    assert shown("absence_rate_term", 0.3, 0.04)
    assert not shown("absence_rate_term", 0.01, 0.04)
    assert shown("lives_without_parents", 1.0, None)


def test_a_batch_picks_the_reasons_one_student_at_a_time_would() -> None:
    # The weekly run chooses a million students' reasons at once; each must be the
    # features a walk down that student's contributions would stop at.
    specs = catalog()
    features = [f for f in specs if specs[f].model_input][:30]
    rng = np.random.default_rng(3)
    inputs = rng.choice([0.0, 1.0, 2.0, 5.0, np.nan], size=(400, len(features)))
    shap = rng.normal(0, 0.3, size=inputs.shape).round(1)  # many ties, kept in column order
    medians = dict.fromkeys(features[::2], 1.0) | {features[1]: float("nan")}

    batch = reason_indices(inputs, shap, features, specs, medians=medians)

    for row, chosen in zip(range(len(inputs)), batch, strict=True):
        walked: list[int] = []
        said: set[str] = set()
        for j in np.argsort(-shap[row], kind="stable"):
            spec = specs[features[j]]
            if shap[row, j] <= 0 or len(walked) == 3:
                break
            known = spec.id in medians and spec.monotone != 0
            if spec.sensitive or not spec.actionable or not spec.holds(inputs[row, j]):
                continue
            if not adverse(spec, inputs[row, j], medians[spec.id] if known else None):
                continue
            if spec.group and spec.group in said:  # the same thing said already
                continue
            said.add(spec.group)
            walked.append(int(j))
        assert chosen.tolist() == walked
    assert sum(len(c) for c in batch) > 400  # the walk is not trivially empty


def test_no_page_word_hides_behind_a_dict_method() -> None:
    # Templates read words as attributes (t.save); a key named like a dict method would
    # show the method instead of the word.
    assert not [key for key in i18n.TEXT if hasattr(dict, key)]
    assert all(th and en for th, en in i18n.TEXT.values())


def test_reason_texts_kept_between_batches_are_the_ones_rendered_afresh_and_bounded() -> None:
    # A scorer keeps its rendered texts from batch to batch: a kept text must be the one
    # a fresh rendering gives, and the store of texts must not grow without end.
    specs = catalog()
    features = [f for f in specs if specs[f].model_input][:30]
    rng = np.random.default_rng(5)
    kept = ReasonTexts(specs, limit=300)
    sizes = []
    for _ in range(6):
        inputs = (rng.random(size=(200, len(features))) * 10).round(2)  # many distinct
        shap = rng.normal(0, 0.3, size=inputs.shape)
        chosen = reason_indices(inputs, shap, features, specs)
        values = [dict(zip(features, row, strict=True)) for row in inputs.tolist()]
        fresh = ReasonTexts(specs).of_batch(values, inputs, shap, chosen, features).as_dicts()

        assert kept.of_batch(values, inputs, shap, chosen, features).as_dicts() == fresh
        sizes.append(len(kept.rendered))
    assert sum(len(r) for r in fresh) > 200  # reasons were really rendered
    # Emptied once past the limit: never more than the limit plus one batch's texts
    # (at most three a student), though six batches render far more than that.
    assert sum(sizes) > 900, sizes
    assert max(sizes) <= 300 + 3 * 200, sizes


def test_stored_reasons_and_steps_are_those_of_the_reasons_one_by_one() -> None:
    # A weekly run writes each student's reasons as JSON text made from pieces, and picks
    # the next step from the reasons' columns: the very characters and steps the reasons
    # themselves give (Thai, quotes and backslashes in texts, no reason at all).
    specs = catalog()
    features = [f for f in specs if specs[f].model_input][:30]
    rng = np.random.default_rng(8)
    inputs = rng.choice([0.0, 1.0, 2.5, 7.0, 40.0, np.nan], size=(300, len(features)))
    shap = rng.normal(0, 0.3, size=inputs.shape) * rng.choice([1e-7, 1.0, 3e3], size=inputs.shape)
    shap[0] = -np.abs(shap[0])  # nothing pushes the first student's risk up
    chosen = reason_indices(inputs, shap, features, specs)
    values = [dict(zip(features, row, strict=True)) for row in inputs.tolist()]
    texts = ReasonTexts(specs)

    found = ReasonTexts(specs).of_batch(values, inputs, shap, chosen, features).as_dicts()
    stored = texts.of_batch(values, inputs, shap, chosen, features).as_stored()

    assert stored == [reasons_text(r) for r in found]
    assert first_steps(chosen, features, specs) == [suggested_step(r, specs) for r in found]
    assert stored[0] == "[]"
    assert any(s is None for s in first_steps(chosen, features, specs))
    # Texts are escaped as JSON (a quote or backslash in a reason's words).
    assert _Text.of('say "ไม่" \\ here', "x").json == (
        ',"text_th":' + orjson.dumps('say "ไม่" \\ here').decode() + ',"text_en":"x"}'
    )


def test_every_input_the_drift_table_compares_is_named_in_both_languages() -> None:
    """The drift table compares the catalog's features and the model's own score; the
    score showed as "model score" on the Thai page."""
    from features.catalog import catalog
    from riskmodel.input_counts import SCORE

    for feature in [*catalog(), SCORE]:
        thai, english = i18n.feature_name(feature, "th"), i18n.feature_name(feature, "en")
        assert any("\u0e00" <= ch <= "\u0e7f" for ch in thai), feature
        assert thai != english
