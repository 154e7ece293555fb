"""Exact path-dependent TreeSHAP for LightGBM models, with per-leaf precomputation.

For a leaf l with unique path features U (d of them), value v, cover fractions z_j (the
share of training rows following the path at feature j's splits) and o_j(x) = 1 when x
follows the path at all of feature j's splits, path-dependent TreeSHAP gives feature i

    phi_i += v * (o_i - z_i) * sum_{S ⊆ U\\{i}} c(|S|, d) * prod_{j∈S} o_j * prod_{j∉S, j≠i} z_j

with c(s, d) = s!(d-s-1)!/d! (Lundberg et al. 2020). Because o_j is 0 or 1, the sum
depends only on which path features x satisfies: a d-bit pattern. FastTreeSHAP v2 (Yang
2021) precomputes the weights of all 2^d patterns once per model. Explaining a row is
then one pass down each tree, carrying the pattern from parent to child (one bit
operation per node), and a table lookup per leaf and path feature; rows are processed
in feature-major chunks so that every inner loop vectorises. The values equal
LightGBM's ``pred_contrib`` (and ``shap.TreeExplainer``) to floating-point precision.
Node decisions follow LightGBM's numerical splits exactly, missing values included.

Decision tables go further. What the leaves below a node add for a row depends only on
which way the row goes at that node's ancestors and at the internal nodes below it; when
those are at most ``TABLE_NODES`` decisions, the leaves' sum is precomputed for every
combination of them (2^decisions rows of the features of those nodes). A tree is cut
into such blocks from the root down (a small tree is one block; a larger one splits at
the root, then at its children, until every block is small enough), and explaining a
row is one comparison per node and, per block, one addition per feature of the block,
instead of a lookup per leaf and path feature. A tree with a path too long for any block
is walked leaf by leaf. The tables' sums are made once from the same per-leaf weights,
so the batch and the single-row kernels, which both use them, still agree bit for bit.

The same pass gives the model's raw score: a row reaches the one leaf of a tree whose
pattern still has every bit set, and the raw score is the sum of the leaf values reached
(LightGBM's own prediction, without a second call into LightGBM per request).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import TYPE_CHECKING, Any

import numba
import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb

MISSING = {"None": 0, "Zero": 1, "NaN": 2}
ZERO_THRESHOLD = 1e-35
MAX_PATH_FEATURES = 16
ROW_CHUNK = 512
FEW_ROWS = 1  # a single student's request: row by row, no chunk arrays
# Blocks of at most this many decisions are explained from a table of every combination
# of them: 2^8 rows of at most 9 values (18 KB) a block.
TABLE_NODES = 8


@dataclass(frozen=True)
class TreeTables:
    """The model flattened into arrays for the compiled kernel."""

    # Internal nodes (global index): feature, threshold, missing type, default left.
    feature: np.ndarray
    threshold: np.ndarray
    missing: np.ndarray
    default_left: np.ndarray
    tree_node_start: np.ndarray  # first internal node of each tree (length trees + 1)
    # Leaves (global index): first unique-feature slot, number of slots, first weight.
    leaf_unique_start: np.ndarray
    leaf_unique_count: np.ndarray
    leaf_weight_start: np.ndarray
    # Per internal node: its children (>= 0 an internal node, < 0 the leaf ~child) and the
    # slot of its feature among the unique features on the path from the root to it.
    left_child: np.ndarray
    right_child: np.ndarray
    node_slot: np.ndarray
    unique_feature: np.ndarray  # feature of each leaf's unique slots
    weights: np.ndarray  # per leaf: 2^d patterns x d slots, leaf value included
    leaf_value: np.ndarray  # per leaf: its value (what a row reaching it adds to the score)
    # Decision tables: tree t's blocks are ``tree_block_start[t]`` to ``[t + 1]`` (none:
    # the tree is walked leaf by leaf). Block b's decisions are the tree's nodes
    # ``block_node[block_node_start[b]:block_node_start[b + 1]]`` (numbered within the
    # tree), its features ``block_feature[block_feature_start[b]:...]``, and its table, at
    # ``block_table_start[b]`` in ``table``, has a row per combination of decisions (bit j
    # set when the row goes left at the block's j-th node): what the block's leaves add
    # to each of its features, then the value of the leaf reached (0 if not among them).
    tree_block_start: np.ndarray  # length trees + 1
    block_node_start: np.ndarray  # length blocks + 1
    block_node: np.ndarray
    block_feature_start: np.ndarray  # length blocks + 1
    block_feature: np.ndarray
    block_table_start: np.ndarray
    table: np.ndarray
    expected_value: float
    constant: float  # the values of trees without a split, in every row's raw score
    features: int


def _walk(node: dict[str, Any], path: list[tuple[int, bool, float]], out: dict[str, Any]) -> int:
    """Depth-first: number nodes, collect each leaf's path and cover fractions.

    Returns the node's reference: its internal index, or ``~leaf`` for a leaf.
    """
    if "leaf_index" in node or "leaf_value" in node and "split_index" not in node:
        if node.get("leaf_coeff"):
            raise NotImplementedError("linear trees are not supported by the fast explainer")
        out["leaves"].append(
            (float(node["leaf_value"]), float(node.get("leaf_count", 0)), list(path))
        )
        return ~(len(out["leaves"]) - 1)
    if node.get("decision_type", "<=") != "<=":
        raise NotImplementedError("categorical splits are not supported by the fast explainer")
    index = len(out["nodes"])
    out["nodes"].append(node)
    out["children"].append([0, 0])
    count = float(node["internal_count"])
    for side, (child_key, left) in enumerate((("left_child", True), ("right_child", False))):
        child = node[child_key]
        child_count = float(child.get("internal_count", child.get("leaf_count", 0)))
        fraction = child_count / count if count > 0 else 0.0
        out["children"][index][side] = _walk(child, [*path, (index, left, fraction)], out)
    return index


def _pattern_weights(z: np.ndarray) -> np.ndarray:
    """Weights of every pattern and slot for one leaf (value not yet applied)."""
    d = len(z)
    coefficient = np.array([factorial(s) * factorial(d - s - 1) / factorial(d) for s in range(d)])
    return _pattern_weights_kernel(z, coefficient)


@numba.njit(cache=True)
def _pattern_weights_kernel(
    z: np.ndarray, coefficient: np.ndarray
) -> np.ndarray:  # pragma: no cover
    d = len(z)
    out = np.zeros((1 << d, d))
    elementary = np.zeros(d + 1)
    for mask in range(1 << d):
        for k in range(d):
            o_k = (mask >> k) & 1
            if o_k - z[k] == 0.0:
                continue
            # Over S ⊆ ones(mask)\{k}: sum c(|S|) prod_{j∉S, j≠k} z_j. Split the product into
            # the slots outside the mask (always z) and the ones of the mask left out of S,
            # whose sum over S is an elementary symmetric polynomial.
            outside = 1.0
            count = 0
            elementary[:] = 0.0
            elementary[0] = 1.0
            for j in range(d):
                if j == k:
                    continue
                if (mask >> j) & 1:
                    count += 1
                    for r in range(count, 0, -1):
                        elementary[r] += elementary[r - 1] * z[j]
                else:
                    outside *= z[j]
            total = 0.0
            for s in range(count + 1):
                total += coefficient[s] * elementary[count - s]
            out[mask, k] = (o_k - z[k]) * outside * total
    return out


def _decision_tables(
    node_starts: list[int],
    *,
    feature: np.ndarray,
    left_child: np.ndarray,
    right_child: np.ndarray,
    node_slot: np.ndarray,
    leaf_arrays: tuple[np.ndarray, ...],
) -> dict[str, np.ndarray]:
    """Every tree's blocks and their tables (see ``TreeTables``)."""
    width = int(feature.max(initial=-1)) + 1
    tree_block_start = [0]
    node_start, nodes, feature_start, features, table_start = [0], [], [0], [], []
    parts: list[np.ndarray] = []
    offset = 0
    for first, last in zip(node_starts[:-1], node_starts[1:], strict=True):
        for block_nodes, leaves in _blocks(first, last, left_child, right_child):
            own = list(dict.fromkeys(feature[first + np.array(block_nodes)].tolist()))
            full = _fill_block_table(
                first,
                last,
                np.array(block_nodes, dtype=np.int64),
                leaves[0],
                leaves[1],
                left_child,
                right_child,
                node_slot,
                leaf_arrays,
                width,
            )
            part = full[:, [*own, width]]  # the block's features, then the leaf value
            nodes.extend(block_nodes)
            node_start.append(len(nodes))
            features.extend(own)
            feature_start.append(len(features))
            table_start.append(offset)
            parts.append(part.ravel())
            offset += part.size
        tree_block_start.append(len(table_start))
    return {
        "tree_block_start": np.array(tree_block_start, dtype=np.int64),
        "block_node_start": np.array(node_start, dtype=np.int64),
        "block_node": np.array(nodes, dtype=np.int64),
        "block_feature_start": np.array(feature_start, dtype=np.int64),
        "block_feature": np.array(features, dtype=np.int64),
        "block_table_start": np.array(table_start, dtype=np.int64),
        "table": np.concatenate(parts) if parts else np.zeros(0),
    }


def _blocks(
    first: int, last: int, left_child: np.ndarray, right_child: np.ndarray
) -> list[tuple[list[int], tuple[int, int]]]:
    """A tree's blocks: each block's decisions (nodes numbered within the tree) and the
    range of its leaves; none when a path is too long for a block (the tree is walked).

    Nodes are numbered depth first, so a node's subtree is the nodes from it on, as many
    as it has, and its leaves are consecutive too.
    """
    if last == first:
        return []
    size: dict[int, int] = {}  # internal nodes in each node's subtree
    leaves: dict[int, tuple[int, int]] = {}  # each node's leaves, first and past the last

    def span(child: int) -> tuple[int, int]:
        return leaves[child] if child >= 0 else (~child, ~child + 1)

    def measure(node: int) -> None:
        children = (int(left_child[node]), int(right_child[node]))
        size[node] = 1
        for child in children:
            if child >= 0:
                measure(child)
                size[node] += size[child]
        leaves[node] = (span(children[0])[0], span(children[1])[1])

    measure(first)
    blocks: list[tuple[list[int], tuple[int, int]]] = []

    def cut(node: int, above: list[int]) -> bool:
        inside = list(range(node - first, node - first + size[node]))
        if len(above) + len(inside) <= TABLE_NODES:
            blocks.append((above + inside, leaves[node]))
            return True
        if len(above) + 1 > TABLE_NODES:
            return False
        path = [*above, node - first]
        for child in (int(left_child[node]), int(right_child[node])):
            if child < 0:
                blocks.append((path, span(child)))
            elif not cut(child, path):
                return False
        return True

    return blocks if cut(first, []) else []


@numba.njit(cache=True)
def _fill_block_table(  # pragma: no cover  # noqa: PLR0917 (numba: positional only)
    first: int,
    last: int,
    block_nodes: np.ndarray,
    first_leaf: int,
    past_leaf: int,
    left_child: np.ndarray,
    right_child: np.ndarray,
    node_slot: np.ndarray,
    leaf_arrays: tuple[np.ndarray, ...],
    width: int,
) -> np.ndarray:
    # Row ``key``: what the block's leaves add to every feature (and the value of the leaf
    # reached if it is one of them, in the last column) for a row whose decision at the
    # block's j-th node is bit j of key. The other nodes' decisions do not matter to them.
    count = len(block_nodes)
    out = np.zeros((1 << count, width + 1))
    went_left = np.zeros(last - first, dtype=np.bool_)
    pattern = np.empty(last - first, dtype=np.int64)
    for key in range(1 << count):
        for j in range(count):
            went_left[block_nodes[j]] = (key >> j) & 1
        out[key, width] = _add_leaf_weights(
            first,
            last,
            went_left,
            left_child,
            right_child,
            node_slot,
            leaf_arrays,
            out[key],
            pattern,
            first_leaf,
            past_leaf,
        )
    return out


@numba.njit(cache=True, nogil=True)
def _add_leaf_weights(  # pragma: no cover  # noqa: PLR0917 (numba: positional only)
    first: int,
    last: int,
    went_left: np.ndarray,
    left_child: np.ndarray,
    right_child: np.ndarray,
    node_slot: np.ndarray,
    leaf_arrays: tuple[np.ndarray, ...],
    phi: np.ndarray,
    pattern: np.ndarray,
    first_leaf: int,
    past_leaf: int,
) -> float:
    # One tree's leaf walk for one row, given its decision at each node: adds the weights
    # of the leaves from ``first_leaf`` to before ``past_leaf`` for the row's pattern to
    # phi and returns the value of the leaf reached if it is one of them (else 0). A row's
    # pattern at a node: bit s is cleared once the row leaves the path at a split on the
    # feature in slot s. Nodes are in depth-first order, so a parent comes first.
    leaf_unique_start, leaf_unique_count, leaf_weight_start, unique_feature, weights, leaf_value = (
        leaf_arrays
    )
    reached = 0.0
    pattern[0] = -1
    for node in range(first, last):
        here = pattern[node - first]
        bit = np.int64(1) << node_slot[node]
        left = went_left[node - first]
        for side in range(2):
            child = left_child[node] if side == 0 else right_child[node]
            # The bit is cleared on the side the row did not take.
            child_pattern = here & ~(bit if left == (side == 1) else np.int64(0))
            if child >= 0:
                pattern[child - first] = child_pattern
                continue
            leaf = ~child
            if not first_leaf <= leaf < past_leaf:
                continue
            d = leaf_unique_count[leaf]
            full = (np.int64(1) << d) - 1
            bits = child_pattern & full
            index = leaf_weight_start[leaf] + bits * d
            if bits == full:  # the row followed the whole path: its leaf
                reached = leaf_value[leaf]
            start = leaf_unique_start[leaf]
            for k in range(d):
                phi[unique_feature[start + k]] += weights[index + k]
    return reached


def build_tables(booster: lgb.Booster) -> TreeTables:
    """Flatten a LightGBM booster and precompute every leaf's pattern weights."""
    model = booster.dump_model()
    if model.get("num_class", 1) != 1:
        raise NotImplementedError("only single-output models are supported")
    nodes: list[dict[str, Any]] = []
    children: list[tuple[int, int]] = []
    node_slot: list[int] = []
    node_starts = [0]
    leaf_unique_start: list[int] = []
    leaf_unique_count: list[int] = []
    leaf_weight_start: list[int] = []
    unique_feature: list[int] = []
    weights: list[np.ndarray] = []
    leaf_value: list[float] = []
    expected = constant = 0.0
    weight_offset = 0
    for tree in model["tree_info"]:
        out: dict[str, Any] = {"nodes": [], "children": [], "leaves": []}
        _walk(tree["tree_structure"], [], out)
        node_base, leaf_base = len(nodes), len(leaf_unique_count)
        nodes.extend(out["nodes"])
        node_slot.extend([0] * len(out["nodes"]))
        # Children in global numbering: internal nodes offset, leaves ~(global leaf).
        children.extend(
            (
                pair[0] + node_base if pair[0] >= 0 else ~(~pair[0] + leaf_base),
                pair[1] + node_base if pair[1] >= 0 else ~(~pair[1] + leaf_base),
            )
            for pair in out["children"]
        )
        node_starts.append(len(nodes))
        root_count = float(tree["tree_structure"].get("internal_count", 0)) or 1.0
        for value, count, path in out["leaves"]:
            if len(out["leaves"]) == 1:  # a tree with no split: the same for every row
                expected += value
                constant += value
                continue
            expected += value * count / root_count
            # Slots in order of first use along the path, so a node's slot is the same
            # for every leaf below it.
            slots: dict[int, int] = {}
            fractions: list[float] = []
            leaf_unique_start.append(len(unique_feature))
            for node_index, _left, fraction in path:
                feature = int(out["nodes"][node_index]["split_feature"])
                if feature not in slots:
                    slots[feature] = len(slots)
                    unique_feature.append(feature)
                    fractions.append(1.0)
                fractions[slots[feature]] *= fraction
                node_slot[node_base + node_index] = slots[feature]
            if len(slots) > MAX_PATH_FEATURES:
                raise NotImplementedError(
                    f"a path uses {len(slots)} features; at most {MAX_PATH_FEATURES}"
                )
            table = _pattern_weights(np.asarray(fractions)) * value
            leaf_unique_count.append(len(slots))
            leaf_weight_start.append(weight_offset)
            leaf_value.append(value)
            weights.append(table.ravel())
            weight_offset += table.size
    pairs = np.array(children, dtype=np.int64).reshape(-1, 2)
    left_child = np.ascontiguousarray(pairs[:, 0])
    right_child = np.ascontiguousarray(pairs[:, 1])
    node_feature = np.array([int(n["split_feature"]) for n in nodes], dtype=np.int64)
    node_slot_array = np.array(node_slot, dtype=np.int64)
    leaf_arrays = (
        np.array(leaf_unique_start, dtype=np.int64),
        np.array(leaf_unique_count, dtype=np.int64),
        np.array(leaf_weight_start, dtype=np.int64),
        np.array(unique_feature, dtype=np.int64),
        np.concatenate(weights) if weights else np.zeros(0),
        np.array(leaf_value, dtype=np.float64),
    )
    blocks = _decision_tables(
        node_starts,
        feature=node_feature,
        left_child=left_child,
        right_child=right_child,
        node_slot=node_slot_array,
        leaf_arrays=leaf_arrays,
    )
    return TreeTables(
        feature=node_feature,
        threshold=np.array([float(n["threshold"]) for n in nodes], dtype=np.float64),
        missing=np.array([MISSING[n.get("missing_type", "None")] for n in nodes], dtype=np.int64),
        default_left=np.array([bool(n.get("default_left", True)) for n in nodes], dtype=np.bool_),
        tree_node_start=np.array(node_starts, dtype=np.int64),
        leaf_unique_start=leaf_arrays[0],
        leaf_unique_count=leaf_arrays[1],
        leaf_weight_start=leaf_arrays[2],
        left_child=left_child,
        right_child=right_child,
        node_slot=node_slot_array,
        unique_feature=leaf_arrays[3],
        weights=leaf_arrays[4],
        leaf_value=leaf_arrays[5],
        **blocks,
        expected_value=expected,
        constant=constant,
        features=int(model["max_feature_idx"]) + 1,
    )


@numba.njit(cache=True, nogil=True)
def _goes_left(
    x: float, threshold: float, missing: int, default_left: bool
) -> bool:  # pragma: no cover
    # LightGBM's NumericalDecision.
    if np.isnan(x) and missing != 2:
        x = 0.0
    if (missing == 1 and -ZERO_THRESHOLD <= x <= ZERO_THRESHOLD) or (missing == 2 and np.isnan(x)):
        return default_left
    return x <= threshold


@numba.njit(cache=True, nogil=True)
def _explain_rows(  # pragma: no cover  # noqa: PLR0917 (numba: positional only)
    rows: np.ndarray,
    start: int,
    stop: int,
    tables: tuple[Any, ...],
    out: np.ndarray,
    raw: np.ndarray,
    max_tree_nodes: int,
    contributions: bool,
) -> None:
    (
        feature,
        threshold,
        missing,
        default_left,
        tree_node_start,
        left_child,
        right_child,
        node_slot,
        leaf_unique_start,
        leaf_unique_count,
        leaf_weight_start,
        unique_feature,
        weights,
        leaf_value,
        tree_block_start,
        block_node_start,
        block_node,
        block_feature_start,
        block_feature,
        block_table_start,
        table,
    ) = tables
    # Without ``contributions``, only the raw score: the same walk and the same sums,
    # none of the weights' (``out`` is left as it is).
    # Feature-major layout: every inner loop runs over the chunk's rows with unit stride,
    # so the compiler vectorises it. Each tree serves all the chunk's rows before the next
    # tree, so its weight tables stay in cache. The sums are ``_explain_few``'s, in the
    # same order, a row per lane.
    n = stop - start
    width = rows.shape[1]
    x = np.empty((width, n))
    for i in range(n):
        for f in range(width):
            x[f, i] = rows[start + i, f]
    phi = np.zeros((width, n))
    score = np.zeros(n)
    pattern = np.empty((max(max_tree_nodes, 1), n), dtype=np.int64)
    leaf_pattern = np.empty((2, n), dtype=np.int64)
    went = np.empty((max(max_tree_nodes, 1), n), dtype=np.bool_)
    index = np.empty(n, dtype=np.int64)
    for t in range(len(tree_node_start) - 1):
        first_node = tree_node_start[t]
        last_node = tree_node_start[t + 1]
        if first_node == last_node:
            continue  # a tree with no split adds only to the expected value
        if tree_block_start[t] < tree_block_start[t + 1]:
            for node in range(first_node, last_node):
                values = x[feature[node]]
                decided = went[node - first_node]
                for i in range(n):
                    decided[i] = _goes_left(
                        values[i], threshold[node], missing[node], default_left[node]
                    )
            for b in range(tree_block_start[t], tree_block_start[t + 1]):
                # The row's decisions at the block's nodes are its key in the block's table.
                index[:] = 0
                for j in range(block_node_start[b], block_node_start[b + 1]):
                    decided = went[block_node[j]]
                    bit = np.int64(1) << (j - block_node_start[b])
                    for i in range(n):
                        if decided[i]:
                            index[i] |= bit
                own = block_feature_start[b]
                count = block_feature_start[b + 1] - own
                for i in range(n):
                    index[i] = block_table_start[b] + index[i] * (count + 1)
                for k in range(count if contributions else 0):
                    target = phi[block_feature[own + k]]
                    for i in range(n):
                        target[i] += table[index[i] + k]
                for i in range(n):
                    score[i] += table[index[i] + count]
            continue
        pattern[0, :] = -1
        for node in range(first_node, last_node):
            here = pattern[node - first_node]
            left = left_child[node]
            right = right_child[node]
            to_left = pattern[left - first_node] if left >= 0 else leaf_pattern[0]
            to_right = pattern[right - first_node] if right >= 0 else leaf_pattern[1]
            values = x[feature[node]]
            bit = np.int64(1) << node_slot[node]
            for i in range(n):
                went_left = _goes_left(
                    values[i], threshold[node], missing[node], default_left[node]
                )
                to_left[i] = here[i] & ~(np.int64(0) if went_left else bit)
                to_right[i] = here[i] & ~(bit if went_left else np.int64(0))
            for child, child_pattern in ((left, to_left), (right, to_right)):
                if child >= 0:
                    continue
                leaf = ~child
                d = leaf_unique_count[leaf]
                full = (np.int64(1) << d) - 1
                base = leaf_weight_start[leaf]
                value = leaf_value[leaf]
                for i in range(n):
                    bits = child_pattern[i] & full
                    index[i] = base + bits * d
                    if bits == full:  # the row followed the whole path: its leaf
                        score[i] += value
                first = leaf_unique_start[leaf]
                for k in range(d if contributions else 0):
                    target = phi[unique_feature[first + k]]
                    for i in range(n):
                        target[i] += weights[index[i] + k]
    for i in range(n):
        raw[start + i] += score[i]
        if contributions:
            for f in range(width):
                out[start + i, f] += phi[f, i]


@numba.njit(cache=True, nogil=True)
def _explain_few(  # pragma: no cover
    rows: np.ndarray,
    tables: tuple[Any, ...],
    out: np.ndarray,
    raw: np.ndarray,
    max_tree_nodes: int,
) -> None:
    # One row at a time, with scalars where ``_explain_rows`` keeps a row per lane: the
    # same sums in the same order (so the same values), without the chunk's arrays, which
    # cost more than a single row's work.
    (
        feature,
        threshold,
        missing,
        default_left,
        tree_node_start,
        left_child,
        right_child,
        node_slot,
        leaf_unique_start,
        leaf_unique_count,
        leaf_weight_start,
        unique_feature,
        weights,
        leaf_value,
        tree_block_start,
        block_node_start,
        block_node,
        block_feature_start,
        block_feature,
        block_table_start,
        table,
    ) = tables
    leaf_arrays = (
        leaf_unique_start,
        leaf_unique_count,
        leaf_weight_start,
        unique_feature,
        weights,
        leaf_value,
    )
    went_left = np.empty(max(max_tree_nodes, 1), dtype=np.bool_)
    pattern = np.empty(max(max_tree_nodes, 1), dtype=np.int64)
    for r in range(rows.shape[0]):
        row = rows[r]
        phi = out[r]
        score = 0.0
        for t in range(len(tree_node_start) - 1):
            first_node = tree_node_start[t]
            last_node = tree_node_start[t + 1]
            if first_node == last_node:
                continue
            blocks = tree_block_start[t + 1] - tree_block_start[t]
            key = 0  # a tree of one block: its decisions are its nodes in order
            for node in range(first_node, last_node):
                went = _goes_left(
                    row[feature[node]], threshold[node], missing[node], default_left[node]
                )
                went_left[node - first_node] = went
                if went and blocks == 1:
                    key |= 1 << (node - first_node)
            for b in range(tree_block_start[t], tree_block_start[t + 1]):
                if blocks > 1:
                    key = 0
                    for j in range(block_node_start[b], block_node_start[b + 1]):
                        if went_left[block_node[j]]:
                            key |= 1 << (j - block_node_start[b])
                own = block_feature_start[b]
                count = block_feature_start[b + 1] - own
                at = block_table_start[b] + key * (count + 1)
                for k in range(count):
                    phi[block_feature[own + k]] += table[at + k]
                score += table[at + count]
            if blocks:
                continue
            score += _add_leaf_weights(
                first_node,
                last_node,
                went_left,
                left_child,
                right_child,
                node_slot,
                leaf_arrays,
                phi,
                pattern,
                0,
                len(leaf_value),
            )
        raw[r] += score


@numba.njit(cache=True, nogil=True, parallel=True)
def _explain_parallel(  # pragma: no cover  # noqa: PLR0917 (numba: positional only)
    rows: np.ndarray,
    tables: tuple[Any, ...],
    out: np.ndarray,
    raw: np.ndarray,
    chunk: int,
    max_tree_nodes: int,
    contributions: bool,
) -> None:
    n = rows.shape[0]
    for c in numba.prange((n + chunk - 1) // chunk):
        start, stop = c * chunk, min(n, (c + 1) * chunk)
        _explain_rows(rows, start, stop, tables, out, raw, max_tree_nodes, contributions)


class FastTreeShap:
    """Exact TreeSHAP of a LightGBM model's raw score, fast for batches and single rows."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.tables = build_tables(booster)
        self.max_tree_nodes = int(np.diff(self.tables.tree_node_start).max(initial=0))
        t = self.tables
        # The kernels' arrays, in the order they unpack them: a plain tuple, which
        # Numba's dispatcher types in C. A named tuple (read by field, no unpacking)
        # cost 1.3 us a call, a fifth of one student's explanation.
        self.arrays = (
            t.feature,
            t.threshold,
            t.missing,
            t.default_left,
            t.tree_node_start,
            t.left_child,
            t.right_child,
            t.node_slot,
            t.leaf_unique_start,
            t.leaf_unique_count,
            t.leaf_weight_start,
            t.unique_feature,
            t.weights,
            t.leaf_value,
            t.tree_block_start,
            t.block_node_start,
            t.block_node,
            t.block_feature_start,
            t.block_feature,
            t.block_table_start,
            t.table,
        )

    @property
    def expected_value(self) -> float:
        return self.tables.expected_value

    def shap_values(self, rows: np.ndarray) -> np.ndarray:
        """Contributions (rows × features); the base value is ``expected_value``."""
        return self.explain(rows)[1]

    def explain(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's raw score (LightGBM's ``raw_score``) and its contributions."""
        rows = self._checked(rows)
        out = np.zeros((rows.shape[0], rows.shape[1]))
        raw = np.zeros(rows.shape[0])  # (np.full costs more than a single row's work here)
        if self.tables.constant:
            raw[:] = self.tables.constant
        if len(rows) <= FEW_ROWS:
            _explain_few(rows, self.arrays, out, raw, self.max_tree_nodes)
        else:
            self._walk(rows, out, raw, contributions=True)
        return raw, out

    def raw_scores(self, rows: np.ndarray) -> np.ndarray:
        """``explain``'s raw scores alone, the same values (the same walk and sums) at a
        fraction of the cost: what ranking students needs."""
        rows = self._checked(rows)
        raw = np.zeros(rows.shape[0])
        if self.tables.constant:
            raw[:] = self.tables.constant
        self._walk(rows, np.zeros((0, 0)), raw, contributions=False)
        return raw

    def _checked(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] < self.tables.features:
            raise ValueError(
                f"expected rows with {self.tables.features} features, got shape {rows.shape}"
            )
        return rows

    def _walk(
        self, rows: np.ndarray, out: np.ndarray, raw: np.ndarray, contributions: bool
    ) -> None:
        if len(rows) <= ROW_CHUNK:
            # A thread hand-off costs more than a few rows do: one chunk, on this thread.
            _explain_rows(
                rows, 0, len(rows), self.arrays, out, raw, self.max_tree_nodes, contributions
            )
        else:
            _explain_parallel(
                rows, self.arrays, out, raw, ROW_CHUNK, self.max_tree_nodes, contributions
            )
