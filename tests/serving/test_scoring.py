"""The weekly run's store, the export, start-up refusals and accounts."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ews.cli import app as cli
from riskmodel.ranking import TIE_BREAK
from schooldata.partitions import plan_partitions
from schooldata.tables import score_runs, student_scores, users
from serving import scoring, store
from serving.app import create_app
from serving.export import COLUMNS, THAI_HEADERS, excel_safe, list_frame, write_csv
from serving.model_store import ModelUnavailable, load_champion, load_scorer_bundle
from serving.records import full_list
from tests.conftest import scratch_settings
from tests.serving.conftest import WEEKS, Api

ROOT = Path(__file__).resolve().parents[2]


def _runs(api: Api) -> pd.DataFrame:
    with api.engine.connect() as connection:
        return pd.DataFrame(connection.execute(sa.select(score_runs)).mappings().all())


def _scores(api: Api, run_id: int) -> pd.DataFrame:
    with api.engine.connect() as connection:
        rows = (
            connection.execute(
                sa.select(student_scores).where(student_scores.c.run_id == int(run_id))
            )
            .mappings()
            .all()
        )
    assert rows, f"run {run_id} has no stored scores"
    return pd.DataFrame(rows)


def test_rerunning_a_week_with_the_same_model_replaces_it(api: Api) -> None:
    before = _runs(api)
    report = scoring.weekly_run(api.engine, api.scorer, pd.Timestamp(WEEKS[1]))
    after = _runs(api)

    assert report.replaced
    assert len(after) == len(before)
    assert (after["as_of"].astype(str) == WEEKS[1]).sum() == 1
    assert len(_scores(api, report.run_id)) == report.students


@pytest.mark.parametrize("partitioned", [False, True], ids=["whole", "partitioned"])
def test_a_crash_midway_leaves_the_previous_complete_run(
    api: Api, monkeypatch: pytest.MonkeyPatch, partitioned: bool
) -> None:
    run = _runs(api).set_index("as_of").loc[pd.Timestamp(WEEKS[1]).date(), "run_id"]
    complete = _scores(api, run)
    # A partitioned run stores batch by batch: break the second batch, after the delete
    # and after the first batch went in; a whole run is one batch.
    partitions = plan_partitions(api.engine.url.render_as_string(), None, 2)
    crash_at = 2 if partitioned else 1
    original = store._columns
    batches: list[int] = []

    def broken_columns(scored: pd.DataFrame, run_id: int) -> tuple[list[str], list[tuple]]:
        names, rows = original(scored, run_id)
        batches.append(len(rows))
        if len(batches) == crash_at:
            tier = names.index("tier")
            rows[-1] = tuple(None if i == tier else v for i, v in enumerate(rows[-1]))  # NOT NULL
        return names, rows

    monkeypatch.setattr(store, "_columns", broken_columns)
    with pytest.raises(sa.exc.IntegrityError):
        scoring.weekly_run(
            api.engine,
            api.scorer,
            pd.Timestamp(WEEKS[1]),
            partitions=partitions if partitioned else None,
        )

    assert len(batches) == crash_at
    pd.testing.assert_frame_equal(_scores(api, run), complete)


def test_change_since_last_week_is_stored(api: Api) -> None:
    runs = _runs(api).sort_values(["as_of", "run_id"])
    latest = runs.iloc[-1]
    before = runs[runs["as_of"] < latest["as_of"]].iloc[-1]
    week = _scores(api, latest["run_id"]).merge(
        _scores(api, before["run_id"])[["school_id", "student_id", "tier", "rank_in_school"]],
        on=["school_id", "student_id"],
        how="left",
        suffixes=("", "_before"),
    )
    levels = {"low": 0, "watch": 1, "high": 2}
    level, level_before = week["tier"].map(levels), week["tier_before"].map(levels)
    on_list, was_on = level > 0, level_before > 0

    assert set(week["change"]) <= {"new", "up", "down", "same"}
    assert week["change"].isin(["up", "down"]).any()
    # By tier: a rank moving within a tier is not news to an advisor.
    assert (week["change"] == "new").equals(on_list & ~was_on)
    assert (week["change"] == "up").equals(was_on & (level > level_before))
    assert (week["change"] == "down").equals(was_on & (level < level_before))
    assert week["previous_rank_in_school"].equals(week["rank_in_school_before"])


def test_export_is_excel_safe_with_thai_headers_and_english_on_request(
    api: Api, tmp_path: Path
) -> None:
    day = pd.Timestamp(WEEKS[1]).date()
    frame = list_frame(full_list(api.engine, day, api.school))
    frame.loc[frame.index[0], "ห้อง"] = '=HYPERLINK("http://x")'
    path = tmp_path / "list.csv"
    write_csv(frame, path)
    raw = path.read_bytes()
    back = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    english = list_frame(full_list(api.engine, day, api.school), language="en")

    assert raw.startswith(b"\xef\xbb\xbf")
    assert list(back.columns) == [THAI_HEADERS[c] for c in COLUMNS]
    assert set(back["รหัสโรงเรียน"]) == {api.school}
    assert back.loc[0, "ห้อง"].startswith("'=")
    assert back["เหตุผลหลัก"].str.contains("[\u0e00-\u0e7f]").any()
    assert back["ห้อง"].iloc[1:].str.match(r"^(ป|ม|อ|ปวช|ปวส)\.\d").all()
    assert set(back["กลุ่ม"]) <= {"เสี่ยงสูง", "เฝ้าระวัง", "ปกติ"}
    assert list(english.columns) == COLUMNS
    assert set(english["tier"]) <= {"high", "watch", "low"}
    assert excel_safe("-1+2") == "'-1+2"
    assert excel_safe("@SUM(A1)") == "'@SUM(A1)"
    assert excel_safe("ขาดเรียน") == "ขาดเรียน"


def test_without_a_champion_the_service_starts_with_the_abc_rule(tmp_path: Path) -> None:
    settings = scratch_settings(f"sqlite:///{tmp_path / 'ews.db'}", tmp_path)

    with pytest.raises(ModelUnavailable, match="ews train, ews promote"):
        load_champion(settings, tmp_path / "download")
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        model = client.get("/api/v1/model")
    assert health == {"status": "ok", "champion_version": "abc-rule", "scorer": "abc_rule"}
    assert model.status_code == 401  # signed-in users only, as with a model


def test_a_registry_that_does_not_answer_is_not_taken_for_one_without_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tracking server that is down said "no champion registered", so the weekly run
    quietly ranked by the ABC rule while a model was champion."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings = scratch_settings(f"sqlite:///{tmp_path / 'ews.db'}", tmp_path).model_copy(
        update={"mlflow_tracking_uri": f"http://127.0.0.1:{closed}"}
    )

    with pytest.raises(ModelUnavailable, match="the model registry did not answer"):
        load_scorer_bundle(settings, tmp_path / "download")


def test_a_tampered_champion_is_refused(api: Api, tmp_path: Path) -> None:
    model_files = list(Path(api.settings.mlflow_artifact_root).rglob("serving/model.txt"))
    assert model_files
    original = {path: path.read_bytes() for path in model_files}
    try:
        for path in model_files:
            path.write_bytes(original[path] + b"\n")
        with pytest.raises(ModelUnavailable, match="SHA-256"):
            load_champion(api.settings, tmp_path / "download")
        # A broken champion is not quietly replaced by the rule: the service stops.
        with pytest.raises(ModelUnavailable, match="SHA-256"):
            load_scorer_bundle(api.settings, tmp_path / "again")
    finally:
        for path, content in original.items():
            path.write_bytes(content)


def test_users_create_prints_the_token_once_on_its_last_line(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EWS_DATABASE_URL", api.settings.database_url)
    result = CliRunner().invoke(
        cli, ["users", "create", "--role", "committee", "--name", "ครูใหญ่", "--school", api.school]
    )
    token = result.output.strip().splitlines()[-1]

    assert result.exit_code == 0
    with api.engine.connect() as connection:
        stored = connection.execute(
            sa.select(users.c.token_hash).order_by(users.c.user_id.desc())
        ).scalar()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    refused = CliRunner().invoke(cli, ["users", "create", "--role", "advisor", "--name", "x"])
    assert refused.exit_code == 2
    assert "--staff-id" in refused.output


def test_students_with_the_same_score_are_ranked_by_their_recent_absence(
    synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    # The ABC rule ties many students (its count of flags); a model ties a new intake.
    from features.build import features_as_of
    from features.sources import Sources
    from serving.model_store import rule_bundle
    from tests.serving.conftest import copy_without_runs

    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    settings = scratch_settings(f"sqlite:///{tmp_path / 'ews.db'}", tmp_path)
    week = pd.Timestamp(WEEKS[-1])
    scoring.weekly_run(engine, scoring.Scorer(rule_bundle(settings), "abc-rule"), week)
    run_id = pd.read_sql(sa.select(sa.func.max(score_runs.c.run_id)), engine).iloc[0, 0]
    stored = pd.read_sql(
        sa.select(
            student_scores.c.school_id,
            student_scores.c.student_id,
            student_scores.c.raw_score,
            student_scores.c.rank_in_school,
        ).where(student_scores.c.run_id == int(run_id)),
        engine,
    )
    rows = features_as_of(Sources.from_database(engine), week)
    ranked = stored.merge(rows, on=["school_id", "student_id"]).sort_values(
        ["school_id", "rank_in_school"]
    )
    assert len(ranked) == len(stored)

    def order_key(row: pd.Series) -> tuple[float, ...]:
        # Larger first; a missing value after every present one, except a recent absence
        # rate missing because the child has not been recorded lately (a last day at
        # school, and no rate over the last days): as absent every day.
        values = {name: row[name] for name in TIE_BREAK}
        if pd.isna(values["absence_rate_20d"]) and pd.notna(values["days_since_last_present"]):
            values["absence_rate_20d"] = 1.0
        return tuple(-v if pd.notna(v) else float("inf") for v in values.values())

    decided_by_absence = 0
    for _, school in ranked.groupby("school_id"):
        for (_, one), (_, next_one) in zip(
            school.iloc[:-1].iterrows(), school.iloc[1:].iterrows(), strict=True
        ):
            if one["raw_score"] != next_one["raw_score"]:
                assert one["raw_score"] > next_one["raw_score"]
                continue
            assert order_key(one) <= order_key(next_one)
            decided_by_absence += order_key(one) < order_key(next_one)
    assert decided_by_absence > 10  # ties were there, and the rule decided them


def test_a_child_the_register_stopped_listing_is_told_as_such_not_by_old_counts(
    synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    """A child still enrolled whose attendance stopped weeks ago (the register went on
    without them) used to read "absent 7 of the last 20 school days", counted over their
    last weeks at school, under "last at school 87 days ago". No reason of theirs counts
    over recent days now; the rule flags the days without a record and says so."""
    from features.attendance import RECENT_WITHIN_SCHOOL_DAYS
    from features.build import features_as_of
    from features.sources import Sources
    from serving.model_store import rule_bundle
    from tests.serving.conftest import copy_without_runs

    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    settings = scratch_settings(f"sqlite:///{tmp_path / 'ews.db'}", tmp_path)
    week = pd.Timestamp(WEEKS[-1])
    report = scoring.weekly_run(engine, scoring.Scorer(rule_bundle(settings), "abc-rule"), week)
    stored = _stored_reasons(engine, report.run_id)
    rows = features_as_of(Sources.from_database(engine), week)
    gone = rows[rows["school_days_unrecorded"] > RECENT_WITHIN_SCHOOL_DAYS]
    assert len(gone) >= 3, "the synthetic week holds children whose records stopped"
    recent = {
        "absent_days_20d",
        "absence_rate_20d",
        "absence_streak_current",
        "absence_trend_20d",
        "late_rate_20d",
    }
    told = stored.merge(gone[["school_id", "student_id"]], on=["school_id", "student_id"])
    assert len(told) == len(gone)
    for reasons in told["reasons"]:
        named = {reason["feature"] for reason in reasons}
        assert not named & recent, reasons
        assert "school_days_unrecorded" in named, reasons
        unrecorded = next(r for r in reasons if r["feature"] == "school_days_unrecorded")
        assert unrecorded["text_en"].startswith("no attendance recorded for the last ")


def _stored_reasons(engine: sa.Engine, run_id: int) -> pd.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                student_scores.c.school_id, student_scores.c.student_id, student_scores.c.reasons
            ).where(student_scores.c.run_id == run_id)
        ).all()
    return pd.DataFrame(
        [(school, code, json.loads(reasons)) for school, code, reasons in rows],
        columns=["school_id", "student_id", "reasons"],
    )


def test_a_school_that_keeps_no_attendance_gets_a_rule_list_ordered_by_grades(
    synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    """Without attendance (or before any), students with the same flags tied: a tie
    across a school's capacity left the whole group out of the list (one school of this
    data listed 1 student in 17 places). Ordered by last term's GPA, lowest first, they
    fill each school's places."""
    from features.build import features_as_of
    from features.sources import Sources
    from riskmodel.rules import RULE_INPUTS, ABCRule
    from schooldata.tables import TABLES
    from serving.model_store import WATCH_SHARE, rule_bundle
    from tests.serving.conftest import copy_without_runs

    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    with engine.begin() as connection:
        connection.execute(sa.delete(TABLES["attendance"]))
    settings = scratch_settings(f"sqlite:///{tmp_path / 'ews.db'}", tmp_path)
    week = pd.Timestamp(WEEKS[-1])
    report = scoring.weekly_run(engine, scoring.Scorer(rule_bundle(settings), "abc-rule"), week)
    stored = pd.read_sql(
        sa.select(
            student_scores.c.school_id,
            student_scores.c.student_id,
            student_scores.c.rank_in_school,
            student_scores.c.tier,
        ).where(student_scores.c.run_id == report.run_id),
        engine,
    )
    rows = features_as_of(Sources.from_database(engine), week)
    ranked = stored.merge(rows, on=["school_id", "student_id"])
    assert len(ranked) == len(stored)
    assert ranked["absence_rate_term"].isna().all()
    ranked["flags"] = ABCRule().flags(ranked[RULE_INPUTS].to_numpy(dtype=float)).sum(axis=1)
    schools = ranked.groupby("school_id").agg(
        students=("student_id", "size"),
        flagged=("flags", lambda flags: int((flags > 0).sum())),
        listed=("tier", lambda tier: int((tier != "low").sum())),
    )
    places = np.floor(WATCH_SHARE * schools["students"])
    # More students raise a flag than a school can watch: the tie the list must break.
    assert (schools["flagged"] > places).any()
    assert (schools["listed"] <= places).all()
    assert (schools["listed"] >= 0.8 * np.minimum(schools["flagged"], places)).all()
    for _, group in ranked[ranked["flags"] > 0].groupby(["school_id", "flags"]):
        gpa = group.sort_values("rank_in_school")["gpa_last_term"].fillna(4).to_numpy()
        assert (gpa[:-1] <= gpa[1:]).all()  # lowest first
