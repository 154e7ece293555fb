"""The fast exact TreeSHAP equals shap.TreeExplainer and LightGBM on many random models."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import shap

from riskmodel import treeshap
from riskmodel.treeshap import FastTreeShap


def _model(seed: int, depth: int, leaves: int, missing: str) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1500, 9))
    x[rng.random(x.shape) < 0.15] = np.nan
    if missing == "zero":
        x[rng.random(x.shape) < 0.1] = 0.0
    signal = (
        np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2]) - (x[:, 3] > 1)
    )
    y = (signal + rng.normal(size=len(x)) > 0).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "max_depth": depth,
        "min_child_samples": 5,
        "verbose": -1,
        "seed": seed,
        "zero_as_missing": missing == "zero",
        "use_missing": missing != "none",
        "monotone_constraints": [1, 0, 0, -1, 0, 0, 0, 0, 0],
    }
    return lgb.train(params, lgb.Dataset(x, y), 40), x


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("depth", "leaves", "missing"),
    [(1, 2, "nan"), (3, 8, "nan"), (5, 15, "zero"), (8, 63, "nan"), (-1, 31, "none")],
)
def test_fast_treeshap_matches_shap_and_lightgbm(
    seed: int, depth: int, leaves: int, missing: str
) -> None:
    booster, x = _model(seed, depth, leaves, missing)
    rows = x  # more rows than one chunk, so the parallel path and a partial chunk run
    fast = FastTreeShap(booster)
    ours = fast.shap_values(rows)
    explainer = shap.TreeExplainer(booster)
    reference = np.asarray(explainer.shap_values(rows))

    assert np.abs(ours - reference).max() <= 1e-6
    assert abs(fast.expected_value - float(np.ravel(explainer.expected_value)[0])) <= 1e-6
    raw = booster.predict(rows, raw_score=True)
    assert np.abs(fast.expected_value + ours.sum(axis=1) - raw).max() <= 1e-6


def test_fast_treeshap_explains_single_rows_and_refuses_wrong_shapes() -> None:
    booster, x = _model(0, 5, 15, "nan")
    fast = FastTreeShap(booster)

    one = fast.shap_values(x[:1])
    assert one.shape == (1, 9)
    assert np.allclose(one, booster.predict(x[:1], pred_contrib=True)[:, :-1], atol=1e-9)
    with pytest.raises(ValueError, match="9 features"):
        fast.shap_values(x[:, :4])


def test_fast_treeshap_handles_a_tree_without_a_split() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(800, 4))
    y = (x[:, 0] + rng.normal(size=len(x)) > 0).astype(int)
    # No split is allowed: LightGBM stops after one single-leaf tree.
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "min_gain_to_split": 1e9}
    booster = lgb.train(params, lgb.Dataset(x, y), 5)
    assert [t["num_leaves"] for t in booster.dump_model()["tree_info"]] == [1]
    fast = FastTreeShap(booster)
    ours = fast.shap_values(x)
    assert not ours.any()
    raw = booster.predict(x, raw_score=True)
    assert np.abs(fast.expected_value - raw).max() <= 1e-12
    assert np.abs(fast.explain(x)[0] - raw).max() <= 1e-12
    assert np.array_equal(fast.raw_scores(x), fast.explain(x)[0])


@pytest.mark.parametrize("seed", range(3))
def test_the_raw_score_of_the_same_pass_is_lightgbms_prediction(seed: int) -> None:
    booster, x = _model(seed, 6, 31, "nan")
    fast = FastTreeShap(booster)
    for rows in (x, x[:1], x[:37]):  # the parallel path, one row, a partial chunk
        raw, contributions = fast.explain(rows)
        expected = booster.predict(rows, raw_score=True)
        assert np.abs(raw - expected).max() <= 1e-12
        assert np.abs(fast.expected_value + contributions.sum(axis=1) - raw).max() <= 1e-9


@pytest.mark.parametrize(("depth", "leaves"), [(6, 31), (-1, 63)])
def test_raw_scores_alone_are_exactly_the_explanations_raw_scores(depth: int, leaves: int) -> None:
    # What a weekly run ranks by, before it explains: the very same numbers.
    booster, x = _model(5, depth, leaves, "nan")
    fast = FastTreeShap(booster)
    for rows in (x, x[:1], x[:37], x[:513]):  # parallel, single row, one chunk, 1 over
        assert np.array_equal(fast.raw_scores(rows), fast.explain(rows)[0])
    with pytest.raises(ValueError, match="9 features"):
        fast.raw_scores(x[:, :4])


def test_linear_trees_are_refused_not_explained_wrongly() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 3))
    y = (x[:, 0] + rng.normal(size=len(x)) > 0).astype(int)
    params = {"objective": "binary", "linear_tree": True, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x, y), 5)
    with pytest.raises(NotImplementedError, match="linear trees"):
        FastTreeShap(booster)


def test_one_row_alone_gets_exactly_what_it_gets_in_a_batch() -> None:
    booster, x = _model(4, 8, 63, "nan")
    fast = FastTreeShap(booster)
    raw, contributions = fast.explain(x)  # chunks on threads
    for i in (0, 1, 700, len(x) - 1):
        one_raw, one = fast.explain(x[i : i + 1])  # the single-row kernel
        assert np.array_equal(one[0], contributions[i])
        assert one_raw[0] == raw[i]


def test_trees_are_explained_from_decision_tables_as_by_the_leaf_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 40 trees of up to 15 leaves (cut into blocks), 20 of at most 6 (one block each), and
    # 10 without a depth limit, some with a path too long for a block (walked).
    deep = {"objective": "binary", "num_leaves": 40, "verbose": -1, "min_child_samples": 2}
    large, x = _model(2, 5, 15, "nan")
    y = (np.nan_to_num(x[:, 0]) > 0).astype(int)
    small = {"objective": "binary", "num_leaves": 6, "verbose": -1, "min_child_samples": 5}
    booster = lgb.train(small, lgb.Dataset(x, y), 20, init_model=large)
    booster = lgb.train(deep, lgb.Dataset(x, y), 10, init_model=booster)
    fast = FastTreeShap(booster)
    tables = fast.tables
    blocks = np.diff(tables.tree_block_start)
    nodes = np.diff(tables.tree_node_start)
    assert (blocks[:40] > 1).any()  # larger trees cut into blocks
    assert (blocks[40:60] == 1).all()
    assert ((blocks == 0) & (nodes > 0)).any()  # a path too long: walked
    assert (np.diff(tables.block_node_start) <= treeshap.TABLE_NODES).all()

    monkeypatch.setattr(treeshap, "TABLE_NODES", 0)
    walked = FastTreeShap(booster)
    assert not walked.tables.tree_block_start.any()
    for rows in (x, x[:1], x[:37]):  # the parallel path, one row, a partial chunk
        raw, contributions = fast.explain(rows)
        walked_raw, walked_contributions = walked.explain(rows)
        assert np.abs(contributions - walked_contributions).max() <= 1e-12
        assert np.array_equal(raw, walked_raw)  # one leaf a tree, added in tree order
    raw, contributions = fast.explain(x)
    for i in (0, 5, 900, len(x) - 1):
        one_raw, one = fast.explain(x[i : i + 1])  # the single-row kernel, with the tables
        assert np.array_equal(one[0], contributions[i])
        assert one_raw[0] == raw[i]
