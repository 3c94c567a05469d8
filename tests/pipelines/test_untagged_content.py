"""Issue 14's acceptance on a simulated run whose assets lose their belief tags: no lead gets a
belief it has no evidence for; the route, the handoff and the report say unknown, with the
reason; the general route takes its configured name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from small_project import write_params

from readiness.domain import BELIEFS

HYPOTHESES = {
    **{b: f"BELIEF CLAIM {b}: engaged most with '{{title}}'." for b in BELIEFS},
    "general": "No belief claim: engaged most with '{title}'.",
}


def test_without_belief_tags_no_lead_is_given_a_belief(trained_project, tmp_path):
    from pipelines.features import stage as features
    from pipelines.report import stage as report
    from pipelines.score import stage as score

    sim = trained_project["sim"]
    folder = tmp_path / "untagged"
    shutil.copytree(
        trained_project["folder"], folder, ignore=shutil.ignore_patterns("mlflow.db", "mlruns")
    )
    validated = folder / "validated"
    shutil.copytree(sim["validated"], validated)
    assets = pd.read_parquet(validated / "assets").assign(belief_stage="general", audience="any")
    shutil.rmtree(validated / "assets")
    (validated / "assets").mkdir()
    assets.to_parquet(validated / "assets" / "part-00000.parquet", index=False)
    routing = {"general_route": "nurture_newsletter", "hypotheses": HYPOTHESES}
    # a low sales threshold, so that some leads are handed to sales and their handoff is checked
    thresholds = {"mql": 0.5, "sales_accepted": 0.4, "qualified_conversation": 0.02}
    thresholds |= {"opportunity": 0.3, "closed_won": 0.2}
    score_params = {"routing": routing, "thresholds": thresholds}
    project = write_params(folder, {**sim, "validated": validated}, extra={"score": score_params})

    built = features.run(project, parts=("scoring",))
    assert set(BELIEFS) <= set(built["unavailable_families"])
    summary = score.run(project)
    leads = pd.read_parquet(folder / "data" / "scores" / "leads.parquet")
    # no belief is named, and every unknown is counted with its reason
    assert set(leads["weakest_belief"]) == {"unknown"}
    assert sum(summary["weakest_belief_unknown"].values()) == len(leads)
    assert all("tag" in reason for reason in summary["weakest_belief_unknown"])
    # nurture leads take the general route under its configured name, never a belief route
    routes = set(leads["route"])
    assert "nurture_newsletter" in routes
    assert not routes & {f"nurture_{b}" for b in BELIEFS} and "nurture_general" not in routes
    # the handoff states no belief: every hypothesis is the general one
    handed = leads.loc[leads["route"] == "sales_now", "problem_hypothesis"]
    assert len(handed) and handed.str.startswith("No belief claim").all()

    rep = report.run(project)
    assert any("No open lead has a known weakest belief" in n for n in rep["notes"])
    coverage = rep["sections"]["stall"]["content_coverage"]
    assert coverage["tagged_share"] == 0.0 and "readiness assets --untagged" in coverage["reading"]
    # the urgency table is unknown, and says which of its two causes holds here
    html = Path(rep["file"]).read_text()
    assert "urgency content: unknown (no consumed content is tagged with the urgency belief" in html
    assert "the ladder has no" not in html
    # the account's committee features, filed under alignment, are measured without tags: the
    # drivers show them as such, never as a belief the data does not show (trial 8)
    assert any("shown as 'account_committee', not as a belief" in n for n in rep["notes"])


def test_account_features_of_an_unavailable_belief_are_read_as_the_committee():
    from features.catalog import build_catalog
    from pipelines.report.stage import ACCOUNT_COMMITTEE, as_measured

    catalog = build_catalog((7, 30, 90))
    read = {f.name: f.family for f in as_measured(catalog, {"alignment": "no tags"})}
    assert read["account_personas_engaged"] == ACCOUNT_COMMITTEE
    assert all(fam != ACCOUNT_COMMITTEE for n, fam in read.items() if not n.startswith("account_"))
    assert as_measured(catalog, {}) == catalog
