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
    plain = true_probabilities(
        small_sim["params"], queries, gates, horizon_days=90, rollouts=64, estimator="sampled"
    )
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
    # same roll-out streams, so anchoring can only turn crossings into non-crossings (anchored
    # gates are always counted from hits, so the plain ones are counted the same way here)
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


def _one_lead_state(params, *, stage: int):
    """A chunk state where one lead (alone alive in its account, no triggers, no energy) sits at
    `stage`: its daily chance of stepping up is a constant, so the truth has a closed form."""
    from readiness.simulator.engine import initial_state
    from readiness.simulator.run import plan_chunks
    from readiness.simulator.world import build_world

    world = build_world(params)
    chunk = plan_chunks(world, params.chunk_leads)[0]
    state = initial_state(world, chunk.leads, chunk.accounts)
    lead = 0
    mates = state.acct == state.acct[lead]
    state.stage[mates] = 6  # closed_lost: not alive
    state.stage[lead], state.created[lead], state.energy[lead] = stage, 0, 0.0
    state.trigger_rate[:] = 0.0
    return world, state, lead


def _truth_of_one(world, state, lead, gates, horizon, estimator, rollouts=4000) -> dict:
    """The lead's estimate and standard error per gate, from `rollouts` copies."""
    from readiness.simulator.engine import AssetPools
    from readiness.simulator.truth import estimate, finish, roll_out

    _, hits, chances, _ = roll_out(
        state,
        np.array([lead]),
        day=300,
        total=horizon,
        horizon=horizon,
        gates=gates,
        anchored=(),
        follow=0,
        rollouts=rollouts,
        pools=AssetPools(world),
        streams=(7, 0, 0),
    )
    out = {}
    for g in gates:
        copies = finish(hits[g], chances[g], estimator)
        out[g] = (estimate(copies)[0], copies.std(ddof=1) / np.sqrt(rollouts))
    return out


@pytest.mark.parametrize("estimator", ["combined", "compensator", "sampled"])
def test_truth_matches_a_closed_form(make_params, estimator):
    from readiness.simulator.engine import CLOSE_RATE, MQL_SYNC, MQL_THRESHOLD, OPP

    params = make_params(n_leads=400, chunk_leads=400)
    # an open opportunity closes (won or lost) with a constant daily chance
    world, state, lead = _one_lead_state(params, stage=OPP)
    state.open_opp[state.acct[lead]] = True
    horizon = 60
    res = _truth_of_one(world, state, lead, ("closed_won", "closed_lost"), horizon, estimator)
    (won, se_won), (lost, se_lost) = res["closed_won"], res["closed_lost"]
    exact = 1 - (1 - CLOSE_RATE[state.segment[lead]]) ** horizon
    se = se_won + se_lost  # at least the sum's standard error
    assert 0 < se < 0.03
    assert abs(won + lost - exact) < 4 * se, (won + lost, exact, se)
    assert 0 < won < won + lost

    # a lead whose marketing score stays above the threshold is flagged MQL with chance MQL_SYNC a day
    world, state, lead = _one_lead_state(params, stage=0)
    state.score[lead] = 10 * MQL_THRESHOLD
    (mql, se), *_ = _truth_of_one(world, state, lead, ("mql",), 3, estimator).values()
    exact = 1 - (1 - MQL_SYNC) ** 3
    assert abs(mql - exact) < 4 * se + 1e-6, (mql, exact, se)


def test_the_combined_estimate_is_unbiased_and_steadier_than_counting_hits(small_sim):
    # the same leads, two disjoint sets of roll-outs per estimator
    queries = pd.DataFrame({"lead_id": np.arange(1, 401), "cutoff": CUTOFF})
    gates = ("mql", "sales_accepted", "opportunity", "closed_won")
    runs = {
        (est, stream): true_probabilities(
            small_sim["params"],
            queries,
            gates,
            horizon_days=90,
            rollouts=48,
            estimator=est,
            stream=stream,
        )
        for est in ("combined", "sampled")
        for stream in (0, 1)
    }
    for gate in gates:
        col, se_col = f"p_{gate}", f"se_{gate}"
        at_risk = runs[("sampled", 0)][col].notna()
        combined = [runs[("combined", s)].loc[at_risk] for s in (0, 1)]
        hits = [runs[("sampled", s)].loc[at_risk] for s in (0, 1)]
        # both estimate the same probabilities: on independent roll-outs (streams 0 and 1) their
        # totals agree within Monte Carlo error
        se = np.sqrt((combined[0][se_col] ** 2).sum() + (hits[1][se_col] ** 2).sum())
        assert abs(combined[0][col].sum() - hits[1][col].sum()) < 4 * se, gate
        # the combined estimate's two disjoint estimates are no further apart than the hit
        # counts' (up to the noise of one draw: on mql the compensator adds nothing), and far
        # closer on the late gates, where the last step is the rare one
        combined_var = ((combined[0][col] - combined[1][col]) ** 2).mean()
        hits_var = ((hits[0][col] - hits[1][col]) ** 2).mean()
        assert combined_var <= 1.1 * hits_var, gate
        if gate in ("opportunity", "closed_won"):
            assert combined_var < 0.5 * hits_var, gate
        # and it gives no more exact zeros (rare crossings are not rounded down to nothing)
        assert (combined[0][col] == 0).sum() <= (hits[0][col] == 0).sum(), gate


def test_truth_within_a_shorter_horizon_matches_the_closed_form(make_params):
    """Time to threshold's truth: each copy's crossing within h days of a longer horizon."""
    from readiness.simulator.engine import CLOSE_RATE, OPP, AssetPools
    from readiness.simulator.truth import roll_out

    params = make_params(n_leads=400, chunk_leads=400)
    world, state, lead = _one_lead_state(params, stage=OPP)
    state.open_opp[state.acct[lead]] = True
    gates, rollouts = ("closed_won", "closed_lost"), 4000
    _, hits, _, early = roll_out(
        state,
        np.array([lead]),
        day=300,
        total=60,
        horizon=60,
        gates=gates,
        anchored=(),
        follow=0,
        rollouts=rollouts,
        pools=AssetPools(world),
        streams=(7, 0, 0),
        within=(10, 30),
    )
    rate = CLOSE_RATE[state.segment[lead]]
    for h in (10, 30):
        closed = early["closed_won", h] + early["closed_lost", h]
        exact = 1 - (1 - rate) ** h
        se = np.sqrt(exact * (1 - exact) / rollouts)
        assert abs(closed.mean() - exact) < 4 * se + 1e-3
    for g in gates:  # within 10 days implies within 30 and within the horizon, copy by copy
        assert (early[g, 10] <= early[g, 30]).all() and (early[g, 30] <= hits[g]).all()


def test_copies_come_back_in_the_order_of_the_queries(small_sim):
    from readiness.simulator.truth import estimate, true_probability_copies

    later = CUTOFF + pd.Timedelta(days=28)
    queries = pd.DataFrame(
        {"lead_id": [300, 5, 1200, 5, 40], "cutoff": [later, CUTOFF, CUTOFF, later, later]}
    )
    frame, copies = true_probability_copies(
        small_sim["params"], queries, ("mql", "opportunity"), horizon_days=60, rollouts=8
    )
    assert frame[["lead_id", "cutoff"]].equals(queries)
    for gate, values in copies.items():
        assert values.shape == (5, 8)
        np.testing.assert_allclose(estimate(values), frame[f"p_{gate}"].to_numpy())
    # the same lead at two cutoffs is two queries: rolled out from two different states
    assert frame.loc[1, "stage"] <= frame.loc[3, "stage"]


def test_what_if_a_lead_downloads_an_asset(small_sim):
    from readiness.simulator.world import build_world

    params = small_sim["params"]
    beliefs = pd.read_parquet(small_sim["truth"] / "beliefs")
    at = beliefs[(beliefs["as_of"] == CUTOFF) & (beliefs["stage"] == 0)]  # no MQL yet
    state = true_probabilities(
        params, at[["lead_id"]].assign(cutoff=CUTOFF), ("mql",), horizon_days=1, rollouts=2
    )
    # the leads whose marketing score is closest below the threshold: a download can tip them
    leads = state.sort_values("marketing_score")["lead_id"].to_numpy()[-300:]
    assets = build_world(params).assets
    urgency = assets[(assets["belief_stage"] == "urgency") & (assets["published_day"] < 0)]
    asset_id = int(urgency["quality"].idxmax()) + 1  # the best urgency asset, id = position + 1
    queries = pd.DataFrame({"lead_id": leads, "cutoff": CUTOFF})
    options = {"horizon_days": 60, "rollouts": 32}
    base = true_probabilities(params, queries, ("mql",), **options)
    # an empty asset_id is no intervention: the very same copies
    same = true_probabilities(params, queries.assign(asset_id=pd.NA), ("mql",), **options)
    np.testing.assert_array_equal(base["p_mql"], same["p_mql"])
    read = true_probabilities(params, queries.assign(asset_id=asset_id), ("mql",), **options)
    # the download raises urgency, engagement and the score: the chance of an MQL goes up, far
    # beyond the Monte Carlo error of the two estimates
    uplift = read["p_mql"] - base["p_mql"]
    se = np.sqrt((read["se_mql"] ** 2 + base["se_mql"] ** 2).sum()) / len(uplift)
    assert uplift.mean() > 4 * se > 0, (uplift.mean(), se)
    # the latent state returned is the one before the download
    np.testing.assert_array_equal(read["urgency"], base["urgency"])


def test_what_if_refuses_what_cannot_be_consumed(small_sim):
    from readiness.simulator.world import build_world

    params = small_sim["params"]
    assets = build_world(params).assets
    late = int(np.flatnonzero(assets["published_at"] > CUTOFF)[0]) + 1
    for asset_id, message in ((10**6, "not in this simulation"), (late, "published after")):
        with pytest.raises(ReadinessError, match=message):
            true_probabilities(
                params,
                pd.DataFrame({"lead_id": [5], "cutoff": [CUTOFF], "asset_id": [asset_id]}),
                ("mql",),
                horizon_days=30,
            )
    with pytest.raises(ReadinessError, match="two assets at the same cutoff"):
        true_probabilities(
            params,
            pd.DataFrame({"lead_id": [5, 5], "cutoff": [CUTOFF] * 2, "asset_id": [1, 2]}),
            ("mql",),
            horizon_days=30,
        )
