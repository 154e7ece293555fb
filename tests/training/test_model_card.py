"""The model card's figures: every letter of their texts drawn in a font that has it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import unavailable
from training.model_card import THAI_FONTS, _thai_family, in_languages, plot_shap_summary


@pytest.fixture(autouse=True)
def thai_font() -> None:
    if _thai_family() is None:
        unavailable("no font with Thai letters: `apt-get install fonts-thai-tlwg`")


def test_an_english_name_that_keeps_a_thai_letter_is_drawn_with_it(tmp_path: Path) -> None:
    # "Incomplete (ร) marks last term": the English name keeps the Thai mark's letter.
    features = ["incomplete_marks_last_term", "absence_rate_20d", "gpa_last_term"]
    contributions = np.random.default_rng(0).normal(size=(50, len(features)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = in_languages(plot_shap_summary, contributions, features, path=tmp_path / "s.png")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    assert [p.name for p in paths] == ["s.png", "s.th.png"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_a_thai_font_installed_after_matplotlib_listed_the_fonts_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matplotlib import font_manager

    # Matplotlib's list of fonts as it was before fonts-thai-tlwg came: no Thai family.
    manager = font_manager.fontManager
    thai = {font.name for font in manager.ttflist} & set(THAI_FONTS)
    before = [font for font in manager.ttflist if font.name not in thai]
    monkeypatch.setattr(manager, "ttflist", before)
    _thai_family.cache_clear()
    try:
        assert _thai_family() in thai
    finally:
        _thai_family.cache_clear()


def test_a_table_of_counts_and_shares_shows_counts_as_whole_numbers() -> None:
    """A frame of counts beside shares became floats row by row: the card's calibration
    and levels tables read "16072.000" students and "35.000" who left."""
    import pandas as pd

    from training.model_card import markdown_table

    frame = pd.DataFrame({"students": [16072, 7], "left": [35, 0], "share": [0.00218, 0.0]})

    table = markdown_table(frame.set_index(pd.Index(["decile 1", "decile 2"])))

    assert "| decile 1 | 16072 | 35 | 0.002 |" in table
    assert "| decile 2 | 7 | 0 | 0.000 |" in table
