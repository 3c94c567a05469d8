"""Ground truth: replays are exact and true probabilities agree with what actually happened."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from readiness.domain import DEFAULT_LADDER
from readiness.errors import ReadinessError
from readiness.simulator.truth import true_probabilities

CUTOFF = pd.Timestamp("2025-02-23")  # a belief-cadence date (Sundays, 7 days apart from 2023-01-01)


@pytest.fixture(scope="module")
def truth_at_cutoff(small_sim):
    beliefs = pd.read_parquet(small_sim["truth"] / "beliefs")
    at = beliefs[beliefs["as_of"] == CUTOFF]
    queries = at[["lead_id"]].assign(cutoff=CUTOFF).reset_index(drop=True)
    res = true_probabilities(
        small_sim["params"], queries, DEFAULT_LADDER, horizon_days=90, rollouts=96
    )
    return at.reset_index(drop=True), res


def test_replay_reproduces_the_recorded_latent_state(truth_at_cutoff):
    recorded, res = truth_at_cutoff
    merged = res.merge(recorded, on="lead_id", suffixes=("", "_recorded"))
    assert len(merged) == len(recorded) > 500
    for belief in ("urgency", "category", "capability", "alignment"):
        np.testing.assert_allclose(merged[belief], merged[f"{belief}_recorded"], atol=1e-6)
    assert (merged["stage"] == merged["stage_recorded"]).all()


def test_gates_already_crossed_are_not_at_risk(truth_at_cutoff):
    _, res = truth_at_cutoff
    assert res.loc[res["stage"] >= 1, "p_mql"].isna().all()
    assert res.loc[res["stage"] == 0, "p_mql"].notna().all()
    probs = res.filter(like="p_").stack().dropna()
    assert probs.between(0, 1).all()


def test_true_probabilities_match_realised_rates(truth_at_cutoff, small_sim):
    _, res = truth_at_cutoff
    ms = pd.read_parquet(small_sim["raw"] / "milestones")
    end = CUTOFF + pd.Timedelta(days=90)
    for gate in ("mql", "sales_accepted", "opportunity"):
        at_risk = res[res[f"p_{gate}"].notna()]
        crossed = ms[
            (ms["milestone"] == gate) & (ms["occurred_at"] >= CUTOFF) & (ms["occurred_at"] < end)
        ]["lead_id"]
        realised = at_risk["lead_id"].isin(crossed)
        expected = at_risk[f"p_{gate}"].sum()
        # the realised count is one draw from the true probabilities: within 4 standard deviations
        sd = np.sqrt((at_risk[f"p_{gate}"] * (1 - at_risk[f"p_{gate}"])).sum()) + 1
        assert abs(realised.sum() - expected) < 4 * sd, (gate, realised.sum(), expected)
        # and the truth ranks the leads that crossed far above those that did not
        if 5 < realised.sum() < len(realised) - 5:
            from sklearn.metrics import roc_auc_score

            assert roc_auc_score(realised, at_risk[f"p_{gate}"]) > 0.75


def test_revenue_anchoring_only_removes_probability(small_sim):
    queries = pd.DataFrame({"lead_id": np.arange(1, 301), "cutoff": CUTOFF})
    gates = ("qualified_conversation", "opportunity")
    plain = true_probabilities(small_sim["params"], queries, gates, horizon_days=90, rollouts=64)
    anchored = true_probabilities(
        small_sim["params"],
        queries,
        gates,
        horizon_days=90,
        rollouts=64,
        anchored=gates,
        follow_through_days=180,
    )
    both = plain["p_opportunity"].notna()
    # same roll-out streams, so anchoring can only turn crossings into non-crossings
    assert (anchored.loc[both, "p_opportunity"] <= plain.loc[both, "p_opportunity"] + 1e-12).all()


def test_bad_queries_are_refused(small_sim):
    with pytest.raises(ReadinessError, match="outside this simulation"):
        true_probabilities(
            small_sim["params"],
            pd.DataFrame({"lead_id": [10**9], "cutoff": [CUTOFF]}),
            ("mql",),
            horizon_days=90,
        )
    with pytest.raises(ReadinessError, match="midnight"):
        true_probabilities(
            small_sim["params"],
            pd.DataFrame({"lead_id": [1], "cutoff": [CUTOFF + pd.Timedelta(hours=3)]}),
            ("mql",),
            horizon_days=90,
        )
    with pytest.raises(ReadinessError, match="unknown gate"):
        true_probabilities(
            small_sim["params"],
            pd.DataFrame({"lead_id": [1], "cutoff": [CUTOFF]}),
            ("signed",),
            horizon_days=90,
        )
