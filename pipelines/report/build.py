"""The leadership report: what moves buyers to readiness, where they stall, metrics backward from
revenue, whether to trust the model, and this run's routing, as one self-contained HTML page.

`build_report` takes frames and returns the HTML and a summary of its numbers; the `report`
stage (pipelines/report.py) reads the inputs and writes the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.catalog import Feature
from features.sources import CATEGORICAL_VOCABULARY
from models.bundle import ReadinessModel
from models.explain import GateAttribution, exact_shap
from pipelines.report import metrics as m
from pipelines.report.render import COLORS, Section, draw, draw_grid, page
from readiness.domain import BELIEFS, STAKEHOLDER_AUDIENCES
from readiness.raw import tagging
from readiness.scores import UNKNOWN_BELIEF

SEGMENTS = ("industry", "employee_band", "source_channel")


@dataclass
class ReportInputs:
    ladder: tuple[str, ...]
    leads: pd.DataFrame
    accounts: pd.DataFrame
    milestones: pd.DataFrame
    opportunities: pd.DataFrame
    events: pd.DataFrame  # lead_id, occurred_at, event_type, asset_id (content events only)
    assets: pd.DataFrame
    catalog: tuple[Feature, ...]
    model: ReadinessModel | None = None
    model_version: str | None = None
    test_features: pd.DataFrame | None = None  # test-cohort snapshots (drivers)
    evaluation: dict | None = None  # artifacts/metrics/evaluate.json
    calibration: pd.DataFrame | None = None
    lift: pd.DataFrame | None = None
    sufficiency: pd.DataFrame | None = None
    leakage_screen: list[dict] | None = None  # artifacts/models/leakage_screen.json
    monitor: dict | None = None  # artifacts/metrics/monitor.json
    scores: pd.DataFrame | None = None  # data/scores/leads.parquet
    # leads without a weakest belief per reason (data/scores/run.json)
    belief_unknown: dict[str, int] = field(default_factory=dict)
    sales_gate: str = "qualified_conversation"
    flat_as_of: str | None = None  # a flat export's as-of date: its dates are not measured
    notes: list[str] = field(default_factory=list)
    driver_rows: int = 20_000
    shap_rows: int = 1_000
    seed: int = 7


def _label(gate: str) -> str:
    return gate.replace("_", " ")


def build_report(inp: ReportInputs) -> tuple[str, dict]:
    ladder = inp.ladder
    crossings = m.first_crossings(inp.milestones, ladder)
    sections = [
        _drivers_section(inp),
        _stall_section(inp, crossings),
        _revenue_section(inp, crossings),
        _trust_section(inp),
        _routing_section(inp),
        _monitor_section(inp),
    ]
    notes = [*inp.notes, *(n for sec in sections for n in sec.notes)]
    summary: dict = {"sections": {sec.id: sec.summary for sec in sections if sec.summary}}
    won = inp.opportunities[inp.opportunities["outcome"] == "won"]
    first = ladder[0]
    reached = int(crossings[first].notna().sum()) if first in crossings else 0
    amounts = pd.to_numeric(won["amount"], errors="coerce")
    kpis = [
        ("leads in the data", f"{len(inp.leads):,}"),
        ("became MQLs" if first == "mql" else f"reached {_label(first)}", f"{reached:,}"),
        (
            "won revenue",
            f"${amounts.sum():,.0f}"
            if (amounts > 0).any()
            else "unknown (no won deal with an amount)",
        ),
    ]
    if inp.scores is not None:
        kpis.append(("open leads scored", f"{len(inp.scores):,}"))
        kpis.append(("sales handoffs now", f"{int((inp.scores['route'] == 'sales_now').sum()):,}"))
        revenue = inp.scores["expected_revenue"]
        kpis.append(
            (
                "expected revenue of open leads",
                f"${revenue.sum():,.0f}" if revenue.notna().any() else "unknown (no deal sizes)",
            )
        )
    start, end = inp.leads["created_at"].min(), inp.milestones["occurred_at"].max()
    when = (
        f"a flat export as of {inp.flat_as_of} (no dates: one snapshot per lead)"
        if inp.flat_as_of
        else f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
    )
    subtitle = [
        "What moves buyers to readiness, where they stall, and whether to trust the model.",
        f"Data: {when}; model version {inp.model_version or '-'}; ladder: "
        + " -> ".join(_label(g) for g in ladder)
        + ".",
    ]
    summary["kpis"] = dict(kpis)
    summary["notes"] = notes
    return page("Readiness report", subtitle, kpis, notes, sections), summary


def _drivers_section(inp: ReportInputs) -> Section:
    s = Section(
        "drivers",
        "Readiness drivers",
        "What moves a lead's readiness to cross each gate, from the model's own explanations "
        "(path attributions of the gate models on test-cohort leads whose next gate it is; "
        "log-odds). Features are named as in the feature catalogue; + means more of it raises "
        "readiness.",
    )
    X, model = inp.test_features, inp.model
    if X is None or model is None or X.empty:
        s.add_text("No model or test-cohort features are available, so drivers cannot be shown.")
        s.notes.append("Readiness drivers are missing: no trained model or test-cohort features.")
        return s
    rng = np.random.default_rng(inp.seed)
    stage = (
        X["ladder_stage"].to_numpy().astype(int) if "ladder_stage" in X else np.zeros(len(X), int)
    )
    fams, agreement, per_gate, segment_tables = [], [], {}, {}
    panels = []
    ladder = inp.ladder
    for rank, gate in enumerate(ladder):
        gm = model.gates.get(gate)
        rows = np.flatnonzero(stage == rank)
        if gm is None or gm.booster is None or len(rows) < 50:
            continue
        rows = rng.choice(rows, size=min(inp.driver_rows, len(rows)), replace=False)
        Xg = X.iloc[rows].reset_index(drop=True)
        attribution = GateAttribution.of(gm, model.features)
        if attribution is None:
            continue
        feats, fam, contrib = m.driver_importance(attribution, Xg, model.features, inp.catalog)
        per_gate[gate] = feats
        fams.append(fam.assign(gate=gate))
        # agreement of the global ranking with exact SHAP on a subsample: exact TreeSHAP of the
        # booster, plus (for a gate that blends in its logistic side) the linear part, which is
        # exact already: SHAP of the blend = w x TreeSHAP + (1 - w) x linear contributions
        if attribution.path is not None:
            w = gm.lightgbm_weight
            sub = Xg.head(inp.shap_rows)[model.features].astype(float)
            linear_part = contrib[: len(sub)] - w * attribution.path.contributions(sub)
            phi = w * exact_shap(gm.booster, sub) + linear_part
            exact = np.abs(phi - phi.mean(axis=0)).mean(axis=0)
            fast = np.abs(contrib[: len(sub)]).mean(axis=0)
            top_e, top_f = set(np.argsort(-exact)[:10]), set(np.argsort(-fast)[:10])
            agreement.append(
                {
                    "gate": gate,
                    "rows": len(Xg),
                    "spearman_with_exact_shap": float(
                        pd.Series(exact).corr(pd.Series(fast), method="spearman")
                    ),
                    "top10_overlap": len(top_e & top_f) / 10,
                }
            )
        top = feats.head(8).iloc[::-1]

        def panel(ax, top=top):
            colors = [COLORS[0] if d >= 0 else COLORS[1] for d in top["direction"]]
            labels = [t[:90] + ("..." if len(t) > 90 else "") for t in top["description"]]
            ax.barh(range(len(top)), top["mean_abs_contribution"], color=colors)
            ax.set_yticks(range(len(top)), labels, fontsize=7)
            ax.set_xlabel("mean |contribution| (log-odds)", fontsize=7)
            ax.set_ylabel("feature", fontsize=7)

        panels.append((f"{_label(gate)} ({len(Xg):,} leads)", panel))
        if gate in (ladder[0], inp.sales_gate):
            segs = {
                seg: pd.Series(Xg[seg].astype(int)).map(
                    dict(enumerate(CATEGORICAL_VOCABULARY[seg]))
                )
                for seg in SEGMENTS
                if seg in Xg
            } | _attribute_segments(Xg, inp.catalog)
            segment_tables[gate] = m.drivers_by_segment(
                contrib, Xg, model.features, inp.catalog, segs
            )
    if not per_gate:
        s.add_text("Too few test-cohort leads per gate to explain the models.")
        return s
    first = next(iter(per_gate))
    lead_feature = per_gate[first].iloc[0]
    s.add_figure(
        draw_grid(
            "Top drivers per gate (blue raises readiness, red lowers it)",
            f"For the {_label(first)} gate the strongest driver is '{lead_feature['description']}'. "
            "Strongest family per gate: "
            + ", ".join(f"{_label(f['gate'].iloc[0])}: {f['family'].iloc[0]}" for f in fams)
            + ".",
            panels,
            cols=1,
            panel_size=(10, 2.3),
        )
    )
    fam_all = pd.concat(fams, ignore_index=True)
    pivot = fam_all.pivot_table(
        index="gate", columns="family", values="share", fill_value=0
    ).reindex([g for g in ladder if g in per_gate])

    def stacked(ax):
        bottom = np.zeros(len(pivot))
        for i, fam in enumerate(pivot.columns):
            ax.bar(
                [_label(g) for g in pivot.index],
                pivot[fam],
                bottom=bottom,
                label=fam,
                color=COLORS[i] if i < len(COLORS) else None,
            )
            bottom += pivot[fam].to_numpy()
        ax.set_ylabel("share of the gate's attribution")
        ax.set_xlabel("gate")
        ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.25))

    belief_share = pivot[[c for c in pivot.columns if c in BELIEFS]].sum(axis=1)
    s.add_figure(
        draw(
            "Which feature families move readiness, per gate",
            f"Belief signals (urgency, category, capability, alignment) carry {belief_share.min():.0%} to "
            f"{belief_share.max():.0%} of the attribution depending on the gate."
            if belief_share.max() > 1e-6
            else "Belief signals (urgency, category, capability, alignment) carry none of the "
            "attribution: the data has no belief-tagged content for them to learn from, or the "
            "model found no use for it.",
            stacked,
            size=(7.5, 4.6),
        )
    )
    agree = pd.DataFrame(agreement)
    s.add_table(
        "How these drivers relate to exact SHAP values",
        agree,
        {"rows": "int", "spearman_with_exact_shap": "float", "top10_overlap": "pct"},
        "Rank correlation of the features' mean absolute attributions with exact TreeSHAP's on the "
        f"first {inp.shap_rows:,} leads of each gate, and the overlap of the two top-10 lists.",
    )
    for gate, table in segment_tables.items():
        if table.empty:
            continue
        s.add_table(
            f"How drivers differ by segment: {_label(gate)}",
            table,
            {"rows": "int", "top_family_share": "pct", "belief_share": "pct", "value": "label"},
            "Per industry, company size and channel: the feature family, the belief and the single "
            "feature that move readiness most for leads of that segment.",
        )
    s.summary = {
        "gates": list(per_gate),
        "top_feature": {g: t.iloc[0]["feature"] for g, t in per_gate.items()},
        "agreement_with_exact_shap": agreement,
    }
    return s


def _stall_section(inp: ReportInputs, crossings: pd.DataFrame) -> Section:
    ladder = inp.ladder
    s = Section(
        "stall",
        "Where buyers stall",
        "The funnel between gates by the quarter leads were created: how many reached each gate, "
        "the conversion from one gate to the next, and the median days between them. Recent "
        "cohorts are still maturing, so their later gates read low.",
    )
    funnel = m.funnel_by_cohort(inp.leads, crossings, ladder)
    conv_cols = [c for c in funnel.columns if c.startswith("conv_")]

    def conv(ax):
        for i, c in enumerate(conv_cols):
            ax.plot(
                funnel["cohort"],
                funnel[c],
                marker="o",
                color=COLORS[i % len(COLORS)],
                label=c.removeprefix("conv_").replace("_to_", " -> ").replace("_", " "),
            )
        ax.set_ylabel("conversion rate")
        ax.set_xlabel("lead creation quarter")
        ax.tick_params(axis="x", rotation=45, labelsize=7)
        ax.legend(fontsize=7)

    worst = min(conv_cols[1:] or conv_cols, key=lambda c: funnel[c].median())
    s.add_figure(
        draw(
            "Conversion between gates by cohort",
            f"The narrowest step is {worst.removeprefix('conv_').replace('_to_', ' -> ').replace('_', ' ')} "
            f"(median {funnel[worst].median():.0%} across cohorts).",
            conv,
            size=(7.5, 4.0),
        )
    )
    counts = ["cohort", "leads", *[c for c in funnel if c.startswith("reached_")]]
    s.add_table(
        "Funnel by cohort: leads reaching each gate", funnel[counts], {c: "int" for c in counts[1:]}
    )
    s.add_table(
        "Funnel by cohort: conversion from the previous gate",
        funnel[["cohort", *conv_cols]],
        {c: "pct" for c in conv_cols},
    )
    days = [c for c in funnel if c.startswith("median_days")]
    if inp.flat_as_of:
        s.add_text(
            "Days between gates: unknown. A flat export has no dates: the import dates every "
            "lead the day before its as-of date and every outcome on it, so a day count would "
            "measure that convention, not your buyers."
        )
    else:
        s.add_table(
            "Funnel by cohort: median days from the previous gate",
            funnel[["cohort", *days]],
            {c: "days" for c in days},
        )
    if inp.scores is not None:
        stalled = m.stalled_beliefs(inp.scores)
        s.add_table(
            "Stalled open leads: which belief is missing",
            stalled,
            {
                "open_leads": "int",
                **{b: "pct" for b in (*BELIEFS, UNKNOWN_BELIEF)},
                "current_stage": "label",
            },
            "Open leads not with sales and not disqualified, by the gate they stand at; each row's shares "
            "say which belief holds them back (the weakest belief of the score); unknown where the "
            "data cannot say (no belief-tagged content, or none consumed by the lead).",
        )
        named = stalled.set_index("current_stage")[list(BELIEFS)].sum()
        if named.sum() == 0:
            why = "; ".join(f"{r}: {n:,} leads" for r, n in inp.belief_unknown.items())
            s.notes.append(
                "No open lead has a known weakest belief ("
                + (why or "no consumed content carries a belief tag")
                + "): belief routes are unavailable; nurture leads go to the general route."
            )
        else:

            def beliefs(ax):
                bottom = np.zeros(len(stalled))
                for i, b in enumerate((*BELIEFS, UNKNOWN_BELIEF)):
                    ax.bar(
                        stalled["current_stage"].str.replace("_", " "),
                        stalled[b],
                        bottom=bottom,
                        color=COLORS[i] if b != UNKNOWN_BELIEF else "#cccccc",
                        label=b,
                    )
                    bottom += stalled[b].to_numpy()
                ax.set_ylabel("share of the stage's open leads")
                ax.set_xlabel("gate the lead stands at (last crossed)")
                ax.legend(fontsize=7)

            s.add_figure(
                draw(
                    "The missing belief of stalled leads",
                    f"Across stages, {named.idxmax()} is the belief most often holding open leads "
                    "back (grey: unknown).",
                    beliefs,
                )
            )
    s.summary = {
        "cohorts": len(funnel),
        "funnel": funnel.to_dict("records"),
        "content_coverage": _content_coverage(s, inp),
    }
    return s


def _content_coverage(s: Section, inp: ReportInputs) -> dict:
    """How much consumed content carries a belief tag, per belief, and the most-consumed untagged
    assets (what to tag first): belief features and routes are only as good as this."""
    cov = tagging.coverage(inp.assets, inp.events["asset_id"])
    if cov["consumed_events"] == 0:
        s.add_text(f"Content coverage: {cov['reading']}.")
        return cov
    shares = pd.DataFrame(
        [
            {"belief": b, "share_of_consumed_events": v}
            for b, v in {**cov["by_belief"], "untagged (general)": cov["untagged_share"]}.items()
        ]
    )
    s.add_table(
        "Content coverage: consumed events by the belief their asset is tagged with",
        shares,
        {"belief": "label", "share_of_consumed_events": "pct"},
        f"{cov['reading']}. Events naming an asset: {cov['consumed_events']:,}; assets tagged "
        f"with a belief: {cov['tagged_assets']:,} of {cov['assets']:,}. A belief with no tagged "
        "content cannot be measured: its features are unavailable and no lead is routed to it.",
    )
    untagged = tagging.usage(inp.assets, inp.events)
    untagged = untagged[~untagged["tagged"] & (untagged["events"] > 0)].head(10)
    if len(untagged):
        s.add_table(
            "Most-consumed untagged assets (tag these first)",
            untagged[["asset_id", "title", "events", "leads"]],
            {"asset_id": "text", "title": "text", "events": "int", "leads": "int"},
            "Add tagging rules to the mapping (keywords, patterns or value maps on the title, URL "
            "or a category column); `readiness assets --untagged` lists them all.",
        )
    return cov


def _revenue_section(inp: ReportInputs, crossings: pd.DataFrame) -> Section:
    s = Section(
        "revenue",
        "Metrics backward from revenue",
        "Rates and money measured from closed revenue backwards: how many MQLs sales accepts, how "
        "many become opportunities, win rates, revenue and pipeline velocity by segment and by "
        "the quarter opportunities were created.",
    )
    rates = m.gate_rates(crossings, inp.ladder)
    rev = m.revenue_metrics(inp.opportunities, inp.accounts)
    money = {
        "opportunities": "int",
        "closed": "int",
        "won": "int",
        "win_rate": "pct",
        "revenue": "money",
        "mean_won_deal": "money",
        "median_cycle_days": "days",
        "pipeline_velocity_per_day": "money",
        "segment": "label",
    }
    said = m.gate_rates_text(rates)
    if said:
        s.add_text(said)
    seg = rev["by_segment"]
    s.add_table(
        "Win rate, revenue and pipeline velocity by segment",
        seg,
        money,
        "Pipeline velocity = opportunities x win rate x mean won deal / median days to close.",
    )

    def seg_plot(ax):
        ax.bar(seg["segment"].str.replace("_", " "), seg["revenue"] / 1e6, color=COLORS[0])
        ax2 = ax.twinx()
        ax2.plot(seg["segment"].str.replace("_", " "), seg["win_rate"], color=COLORS[1], marker="o")
        ax2.set_ylabel("win rate", color=COLORS[1])
        ax.set_ylabel("won revenue ($ millions)")
        ax.set_xlabel("segment")

    best = seg.loc[seg["revenue"].idxmax()] if len(seg) else None
    if best is not None:
        s.add_figure(
            draw(
                "Revenue and win rate by segment",
                f"{str(best['segment']).replace('_', ' ').title()} brings the most revenue "
                f"(${best['revenue']:,.0f}) at a {best['win_rate']:.0%} win rate.",
                seg_plot,
            )
        )
    coh = rev["by_cohort"]
    s.add_table("By the quarter the opportunity was created", coh, {**money, "cohort": "text"})

    def coh_plot(ax):
        ax.bar(coh["cohort"], coh["revenue"] / 1e6, color=COLORS[3])
        ax.set_ylabel("won revenue ($ millions)")
        ax.set_xlabel("opportunity creation quarter")
        ax.tick_params(axis="x", rotation=45, labelsize=7)

    if len(coh):
        s.add_figure(
            draw(
                "Won revenue by opportunity cohort",
                "The newest quarters are still open deals, so their revenue is not final.",
                coh_plot,
            )
        )
    urg = m.urgency_among_interested(inp.events, inp.assets, crossings)
    if not urg.empty:
        s.add_table(
            "Interested leads that consumed urgency content",
            urg,
            {"leads": "int", "consumed_urgency_before_mql": "int", "share": "pct"},
            "MQLs that read urgency content (cost of delay, benchmarks) before becoming MQLs, split by "
            "whether they went on to an opportunity.",
        )
    else:
        lacks = [g for g in ("mql", "opportunity") if g not in crossings]
        why = (
            f"the ladder has no {' and no '.join(lacks)}"
            if lacks
            else "no consumed content is tagged with the urgency belief: tag it (the mapping's "
            "tagging rules; `readiness assets --untagged` lists the most-read untagged assets)"
        )
        s.add_text(f"Interested leads that consumed urgency content: unknown ({why}).")
    stake = m.stakeholder_accounts(inp.events, inp.assets, inp.leads, inp.opportunities)
    if inp.assets["audience"].isin(STAKEHOLDER_AUDIENCES).any():
        s.add_table(
            "Accounts that downloaded internal-selling (stakeholder) assets",
            stake,
            {
                "count": "int",
                "share_of_accounts": "pct",
                "closed_opportunities": "int",
                "win_rate": "pct",
            },
            ""
            if len(inp.opportunities)
            else "Closed opportunities and win rates: unknown (the data holds no deals: the "
            "mapping gives no opportunities table).",
        )
    else:
        s.add_text(
            "Accounts that downloaded internal-selling (stakeholder) assets: unknown (no asset "
            "is tagged for a stakeholder audience; see the mapping's tagging rules)."
        )
    ttt = m.time_to_threshold(inp.leads, crossings)
    if not ttt.empty:
        s.add_table(
            "Time to threshold: days from lead creation to MQL",
            ttt,
            {"leads": "int", "p25_days": "days", "median_days": "days", "p75_days": "days"},
        )

        def ttt_plot(ax):
            ax.bar(
                ttt["group"],
                ttt["median_days"],
                color=[COLORS[0], COLORS[1]][: len(ttt)],
                yerr=[ttt["median_days"] - ttt["p25_days"], ttt["p75_days"] - ttt["median_days"]],
                capsize=6,
            )
            ax.set_ylabel("days from creation to MQL (median, quartiles)")
            ax.set_xlabel("MQLs")

        s.add_figure(
            draw(
                "Time to MQL: converters versus stalled",
                "Bars are medians, whiskers the middle half of leads.",
                ttt_plot,
            )
        )
    s.summary = {
        "rates": rates,
        "by_segment": seg.to_dict("records"),
        "urgency": urg.to_dict("records"),
        "stakeholder": stake.to_dict("records"),
    }
    return s


def _attribute_segments(
    X: pd.DataFrame, catalog: tuple[Feature, ...], top: int = 8
) -> dict[str, pd.Series]:
    """The user's categorical attributes as segments, in their own words: the `top` most
    frequent values of each (rarer values are left out of the segment table)."""
    out = {}
    for f in catalog:
        if f.family != "profile" or not f.categorical or not f.vocabulary or f.name not in X:
            continue
        names = pd.Series(X[f.name].astype(int)).map(dict(enumerate(f.vocabulary)))
        frequent = names.value_counts().index[:top]
        out[f.description] = names.where(names.isin(frequent))
    return out


def _trust_section(inp: ReportInputs) -> Section:
    s = Section(
        "trust",
        "Model trust",
        "Calibration (does a 20 % readiness mean one in five?) and lift on the newest complete "
        "cohort, next to marketing's points score and a logistic regression on the same features; "
        "whether each gate had enough data; on simulated data, the gap to the truth.",
    )
    ev = (inp.evaluation or {}).get("gates")
    if not ev:
        s.add_text("No evaluation is available: run `readiness evaluate`.")
        s.notes.append("Model trust is missing: no evaluation.")
        return s
    rows = []
    for gate, g in ev.items():
        row = {"gate": gate}
        for model_name in ("model", "logistic", "your_columns", "points"):
            if model_name in g:
                row[f"{model_name}_auc"] = g[model_name].get("roc_auc")
                row[f"{model_name}_ece"] = g[model_name].get("ece")
        row["model_top_decile_lift"] = g.get("model", {}).get("top_decile_lift")
        gate_model = inp.model.gates.get(gate) if inp.model is not None else None
        if gate_model is not None:
            row["scorer"] = (
                gate_model.info.get("scorer", "lightgbm") if gate_model.booster else "base rate"
            )
        gt = g.get("ground_truth", {})
        row["truth_auc"] = gt.get("truth_auc")
        row["model_to_truth"] = gt.get("model_to_truth_auc_ratio")
        rows.append(row)
    table = pd.DataFrame(rows)
    fmts = {c: "float" for c in table.columns if c not in ("gate", "scorer")}
    fmts.update({"gate": "label", "scorer": "label", "model_to_truth": "pct"})
    method = (inp.evaluation or {}).get("evaluation_method", "time split")
    cross_validated = method.startswith("stratified")
    s.add_text(
        f"Evaluated by {method}."
        + (
            " These are cross-validated figures, not a test on a later cohort: how the model "
            "holds up on next quarter's leads is not measured."
            if cross_validated
            else ""
        )
    )
    s.add_table(
        "Cross-validated metrics per gate" if cross_validated else "Test-cohort metrics per gate",
        table,
        fmts,
        "AUC ranks leads (1 is perfect, 0.5 is chance); ECE is the average gap between predicted and "
        "observed rates; your_columns is a logistic regression on your own columns only "
        "(your attributes and mapped lead/account fields; numbers on their own and on a log "
        "scale, blanks flagged, categories one-hot): what your columns say alone, without the "
        "lead's age, stage or activity; logistic is Readiness's regression on every feature, "
        "made the same way, the bar a data scientist's own model would set; "
        "truth columns exist on simulated data only. Scorer: what the gate uses, chosen on the "
        "validation rows (LightGBM, a logistic regression, or a blend; the base rate when the gate "
        "had too little data).",
    )
    for gate, warning in ((inp.evaluation or {}).get("implausible_your_columns") or {}).items():
        s.notes.append(f"{_label(gate)}: {warning}")
    versus = (inp.evaluation or {}).get("model_minus_baseline_auc", {})
    behind = []
    for r in rows:
        d = versus.get(r["gate"], {}).get("your_columns")
        if d and d["difference"] < 0:
            noise = "within noise" if d["high"] > 0 else "beyond noise"
            behind.append(
                f"{_label(r['gate'])} ({d['difference']:+.3f} AUC, 95 % interval "
                f"{d['low']:+.3f} to {d['high']:+.3f}: {noise})"
            )
    if behind:
        s.notes.append(
            "The model ranks leads worse than a logistic regression on your own columns for: "
            + "; ".join(behind)
            + "."
        )
    if inp.calibration is not None and not inp.calibration.empty:
        worst = table.loc[table["model_ece"].idxmax()]
        s.add_figure(
            _curve_grid(
                inp.calibration,
                "Calibration per gate: model and baselines",
                f"Points on the dashed diagonal are perfectly calibrated; the model's worst gate "
                f"({_label(worst['gate'])}) is off by {worst['model_ece']:.3f} on average.",
                ("predicted", "observed", "predicted probability", "observed rate"),
                markers=True,
            )
        )
    dormant = (inp.evaluation or {}).get("dormant") or {}
    if dormant.get("gates"):
        idle = pd.DataFrame([{"gate": g, **d} for g, d in dormant["gates"].items()])
        first = idle.iloc[0]
        s.add_table(
            "Dormant leads: expected against realised crossings on the test cohort's sample",
            idle[
                [
                    "gate",
                    "snapshots",
                    "positives",
                    "expected_before",
                    "expected_after",
                    "auc",
                    "map",
                ]
            ],
            {
                "snapshots": "int",
                "positives": "int",
                "expected_before": "float",
                "expected_after": "float",
                "auc": "float",
                "gate": "label",
                "map": "label",
            },
            "A lead with no sign of life for a while has no training snapshot, yet it is scored: "
            "its probabilities are recalibrated on a sample of dormant snapshots of the "
            "validation cohorts (platt: Platt scaling; shift: the log-odds shifted, with few "
            "positives; none: the model's own, consistent with what happened). On "
            f"{int(first['snapshots']):,} dormant test snapshots at {_label(first['gate'])}, "
            f"{int(first['positives']):,} crossed; the model alone expected "
            f"{first['expected_before']:.1f}, recalibrated {first['expected_after']:.1f}."
            + "".join(
                f" At {_label(r.gate)}, {int(r.positives):,} crossed against "
                f"{r.expected_after:.1f} expected (Poisson p = {r.poisson_p:.3g}): dormant "
                f"leads' probabilities are too {'high' if r.expected_after > r.positives else 'low'}."
                for r in idle.itertuples()
                if getattr(r, "consistent", True) is False
            ),
        )
    if inp.lift is not None and not inp.lift.empty:
        best = table.loc[table["model_top_decile_lift"].idxmax()]
        s.add_figure(
            _curve_grid(
                inp.lift,
                "Lift per gate: model and baselines",
                f"Working the model's top 10 % catches {best['model_top_decile_lift']:.1f}x the "
                f"average rate of {_label(best['gate'])} crossings.",
                ("targeted", "recall", "share of leads targeted", "share of crossings caught"),
            )
        )
    if inp.sufficiency is not None and not inp.sufficiency.empty:
        suff = inp.sufficiency[inp.sufficiency["cohort"] != "outside"]
        s.add_table(
            "Data sufficiency: labelled snapshots and positives per cohort",
            suff,
            {
                "labelled_snapshots": "int",
                "positives": "int",
                "leads_with_positive": "int",
                "positive_rate": "pct",
                "gate": "label",
            },
            "A gate with too few positives in training is not trained and is scored by its base rate.",
        )
    if inp.leakage_screen:
        screen = pd.DataFrame(inp.leakage_screen)
        flagged = screen[screen["flagged"]]
        n_suspects = int(screen["suspect"].sum()) if "suspect" in screen else 0
        if flagged.empty:
            s.add_text(
                f"The leakage guard screened {len(screen)} features on the training cohort and "
                "flagged none: no feature separates a gate almost perfectly on its own and no "
                "attribute is filled almost only for positives"
                + (
                    f"; but {n_suspects} of your columns are strong enough alone to be "
                    "suspicious (below)."
                    if n_suspects
                    else "."
                )
            )
        else:
            s.add_table(
                "Leakage guard: features that look like they know the outcome",
                flagged[["feature", "single_feature_auc", "gate", "excluded", "reason"]],
                {"single_feature_auc": "float", "gate": "label", "excluded": "label"},
                f"{int(flagged['excluded'].sum())} of the {len(flagged)} flagged features were "
                "left out of training: a user's attribute that separates a gate almost perfectly "
                "alone, or is filled almost only for positives, usually was written after the "
                "outcome. Built-in features are computed point in time and only reported.",
            )
        shifted = screen[screen["shifted"]] if "shifted" in screen else screen.iloc[:0]
        if not shifted.empty:
            s.add_table(
                "Shift screen: features whose test cohort lies outside the training range",
                shifted[["feature", "family", "test_psi", "excluded", "reason"]],
                {"family": "label", "test_psi": "float", "excluded": "label"},
                f"{int(shifted['excluded'].sum())} of the {len(shifted)} features whose "
                "distribution in the test cohort is far from the training cohort's (population "
                "stability index above train.shift_exclude_psi) were left out of training: on "
                "rows unlike any it was trained on a regression extrapolates and a tree sees one "
                "edge value. Only the test rows' features are read, never their labels; "
                "train.admit_shifted re-admits one by name.",
            )
        suspects = screen[screen["suspect"]] if "suspect" in screen else screen.iloc[:0]
        if not suspects.empty:
            s.add_table(
                "Leakage guard: your columns kept but suspiciously strong alone",
                suspects[["feature", "single_feature_auc", "gate", "reason"]],
                {"single_feature_auc": "float", "gate": "label"},
                f"{len(suspects)} of your columns predict a gate almost alone and were kept: "
                "only you know whether they were filled in before the outcome. A column sales "
                "fills in after contact inflates every figure of this report; declare it "
                "known: at_export to leave it out.",
            )
    s.summary = {
        "gates": rows,
        "leakage_guard": {
            "screened": len(inp.leakage_screen or []),
            "flagged": [r["feature"] for r in inp.leakage_screen or [] if r["flagged"]],
            "left_out": [
                r["feature"]
                for r in inp.leakage_screen or []
                if "leakage" in r.get("excluded_for", ["leakage"] if r["excluded"] else [])
            ],
            "suspects": [r["feature"] for r in inp.leakage_screen or [] if r.get("suspect")],
        },
        "shift_screen": {
            "left_out": [
                r["feature"]
                for r in inp.leakage_screen or []
                if "shift" in r.get("excluded_for", [])
            ],
        },
    }
    return s


def _curve_grid(
    frame: pd.DataFrame,
    title: str,
    reading: str,
    axes: tuple[str, str, str, str],
    markers: bool = False,
):
    """One panel per gate of a curve table (calibration or lift); `axes` is (x column, y column,
    x label, y label)."""
    return draw_grid(
        title,
        reading,
        [(_label(g), _curves(frame, g, *axes, markers=markers)) for g in frame["gate"].unique()],
    )


def _curves(
    frame: pd.DataFrame, gate: str, x: str, y: str, xlabel: str, ylabel: str, markers: bool = False
):
    """A panel with one curve per model (the model and both baselines) of one gate, and the
    diagonal (perfect calibration, or random targeting)."""

    def plot(ax):
        g = frame[frame["gate"] == gate]
        for i, (name, gg) in enumerate(g.groupby("model")):
            ax.plot(
                gg[x], gg[y], marker="o" if markers else None, ms=3, label=name, color=COLORS[i]
            )
        hi = float(max(g[x].max(), g[y].max())) if markers else 1.0
        ax.plot([0, hi], [0, hi], ls="--", color="#999", lw=1)
        ax.set_xlabel(xlabel, fontsize=7)
        ax.set_ylabel(ylabel, fontsize=7)
        ax.legend(fontsize=6)

    return plot


def _routing_section(inp: ReportInputs) -> Section:
    s = Section(
        "routing",
        "This run's routing",
        "Where this scoring run sends open leads, who owns the sales handoffs and when their SLAs fall due.",
    )
    if inp.scores is None:
        s.add_text("No scores yet: run `readiness score`.")
        s.notes.append("This run's routing is missing: no scores.")
        return s
    t = m.routing_tables(inp.scores)
    routes = t["routes"]

    def route_plot(ax):
        ax.barh(routes["route"].str.replace("_", " ")[::-1], routes["leads"][::-1], color=COLORS[0])
        ax.set_xlabel("open leads")
        ax.set_ylabel("route")

    top = routes.iloc[0]
    s.add_figure(
        draw(
            "Open leads per route",
            f"{top['share']:.0%} of open leads are routed to {top['route'].replace('_', ' ')}.",
            route_plot,
        )
    )
    s.add_table("Leads per route", routes, {"leads": "int", "share": "pct", "route": "label"})
    owners = t["owners"]
    if not owners.empty:
        s.add_table(
            "Sales handoffs per owner", owners, {"sales_now_leads": "int", "mean_readiness": "pct"}
        )
        load = t["sla_load"]

        def load_plot(ax):
            ax.bar(load["due"].dt.strftime("%m-%d %H:%M"), load["leads_due"], color=COLORS[1])
            ax.set_xlabel("SLA due (hour)")
            ax.set_ylabel("handoffs due")
            ax.tick_params(axis="x", rotation=45, labelsize=7)

        s.add_figure(
            draw(
                "SLA load",
                f"{int(load['leads_due'].sum()):,} handoffs fall due in {len(load)} hour slot(s); "
                f"the busiest owner has {int(owners['sales_now_leads'].max())}.",
                load_plot,
            )
        )
    timing = _timing_tables(s, inp)
    s.summary = {
        "routes": routes.set_index("route")["leads"].to_dict(),
        "owners": len(owners),
        "time_to_threshold": timing,
    }
    return s


def _timing_tables(s: Section, inp: ReportInputs) -> dict:
    """When the open leads are likely to cross each gate, and how well the timing ranked the
    test cohort's crossings (models/timing.py)."""
    assert inp.scores is not None
    table = m.open_lead_timing(inp.scores, inp.ladder)
    judged = ((inp.evaluation or {}).get("time_to_threshold") or {}).get("gates", {})
    if table.empty:
        why = ((inp.evaluation or {}).get("time_to_threshold") or {}).get(
            "unknown", "this run was scored by a model without time to threshold"
        )
        s.add_text(f"Time to threshold: unknown ({why}).")
        return {"unknown": why}
    unknown = {g: d["reason"] for g, d in judged.items() if d.get("method") == "unknown"}
    nxt = inp.scores["next_gate"].mode().iloc[0]
    row = table.set_index("gate").loc[nxt]
    horizons = [c for c in table.columns if c.startswith("expected_within_") and c[-1] == "d"]
    first = horizons[0] if horizons else None
    reading = (
        f"Of the {int(row['open_leads']):,} open leads short of {_label(nxt)} (the most common next "
        f"gate), about {row['expected_within_horizon']:,.0f} are expected to cross it within the "
        "horizon"
        + (
            f", {row[first]:,.0f} within {first.removeprefix('expected_within_')}"
            if first and pd.notna(row[first])
            else ""
        )
        + ". Expected crossings are sums of calibrated probabilities; median days are read off "
        "each lead's curve, for the leads more likely than not to cross within the horizon."
    )
    if unknown:
        reading += " Unknown timing: " + "; ".join(f"{g}: {r}" for g, r in unknown.items()) + "."
    s.add_table(
        "When open leads are likely to cross each gate",
        table,
        {
            **{c: "int" for c in table.columns if c.startswith("expected_within")},
            "open_leads": "int",
            "likely_within_horizon": "int",
            "median_days_if_likely": "days",
            "gate": "label",
        },
        reading,
    )
    rows = [
        {
            "gate": g,
            "test_crossings": d.get("crossings"),
            "concordance": d.get("concordance"),
            "concordance_readiness_alone": d.get("concordance_readiness_alone"),
            "concordance_among_crossings": d.get("concordance_among_crossings"),
            "among_crossings_readiness_alone": d.get("concordance_among_crossings_readiness_alone"),
            **{f"auc_within_{h}d": v.get("auc") for h, v in (d.get("by_horizon") or {}).items()},
            "timing": d.get("method"),
        }
        for g, d in judged.items()
        if d.get("method") != "unknown" and "concordance" in d
    ]
    if rows:
        judged_table = pd.DataFrame(rows)
        gains = (
            judged_table["concordance_among_crossings"]
            - judged_table["among_crossings_readiness_alone"]
        ).dropna()
        if gains.empty:
            verdict = ""
        elif gains.max() <= 0:
            verdict = " At no gate does the timing order the crossings better than readiness alone."
        else:
            best = judged_table.loc[gains.idxmax()]
            verdict = (
                f" Among the crossings, the timing adds most at {_label(best['gate'])} "
                f"({best['concordance_among_crossings']:.3f} vs "
                f"{best['among_crossings_readiness_alone']:.3f} for readiness alone)."
            )
        s.add_table(
            "Time to threshold on the test cohort (realised crossings)",
            judged_table,
            {
                **{
                    c: "float"
                    for c in judged_table.columns
                    if c.startswith(("auc", "conc", "among"))
                },
                "test_crossings": "int",
                "gate": "label",
            },
            "Concordance: how often, of two test leads, the one that crossed first had the "
            "sooner expected crossing (0.5 = chance); beside it, readiness alone ranking them. "
            "Most pairs set a lead that crossed against one that did not, which readiness "
            "already orders; among the leads that crossed, concordance says whether the curve "
            "orders when they crossed." + verdict,
        )
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    return {"open_leads": records, "unknown": unknown}


def _estimated_auc(run: dict, gate: str, leads: str) -> float | None:
    """A published run's label-free AUC estimate for `gate`, on every open lead (`leads` "")
    or the active ones ("_active"): as made at publication once the run is realised."""
    realised = run.get(f"gates{leads}", {}).get(gate)
    if realised:
        return realised.get("estimated_auc_at_publication")
    return run.get(f"estimates{leads}", {}).get(gate, {}).get("estimated_auc")


def _monitor_section(inp: ReportInputs) -> Section:
    s = Section(
        "monitor",
        "Is the model still right?",
        "Whether the leads scored now look like the ones the model learnt from (population "
        "stability index, PSI: below 0.1 stable, above 0.25 a strong shift), each gate's AUC "
        "estimated without labels from the calibrated probabilities, what became of every "
        "published run once its horizon passed, and whether to retrain.",
    )
    mon = inp.monitor
    if not mon:
        s.add_text("Not measured: run `readiness monitor` (after `readiness publish`).")
        s.notes.append("Is the model still right? unknown: no monitor run.")
        return s
    rows = []
    for gate, g in mon["gates"].items():
        now = g["estimate_now"]
        band = now.get("band_90")
        rows.append(
            {
                "gate": gate,
                "score_psi": g["score_psi"],
                "score_drift": g["score_drift"],
                "estimated_auc_now": now.get("estimated_auc"),
                "band_90": f"{band[0]:.3f} to {band[1]:.3f}" if band else "unknown",
                "estimated_auc_on_test_cohort": g["estimate_on_test_cohort"].get("estimated_auc"),
                "test_auc": g["test_auc"],
                "retrain": "yes" if g["retrain"] else "no",
                "reasons": "; ".join(g["reasons"]),
            }
        )
    retrain = mon.get("retrain", [])
    s.add_table(
        "Drift and the label-free estimate per gate",
        pd.DataFrame(rows),
        {
            "score_psi": "float",
            "estimated_auc_now": "float",
            "estimated_auc_on_test_cohort": "float",
            "test_auc": "float",
            "gate": "label",
            "score_drift": "label",
            "retrain": "label",
        },
        (
            f"Retraining is recommended for {', '.join(_label(g) for g in retrain)}"
            + (
                f", once newer labelled data arrive: {mon['model_age']['retrain_note']}."
                if mon.get("model_age", {}).get("retrain_note")
                else "."
            )
            if retrain
            else "No gate needs retraining by these measures."
        )
        + " A gate's estimate now is judged against the same estimate on its test cohort (the "
        "estimator's own bias cancels), not against the realised test AUC."
        + " The estimate assumes the probabilities stay calibrated on the new leads: it follows "
        "a change in who the leads are, not in how the signals relate to buying; realised "
        "figures below settle it once a run's horizon has passed.",
    )
    watched = mon.get("model", {})
    if watched.get("version") is not None:
        s.add_text(f"Model watched: version {watched['version']}, {watched['which']}.")
    cur = mon.get("current", {})
    if "compared_leads" in cur:
        s.add_text(
            f"Compared with the training cohort: {cur['compared_leads']:,} of the "
            f"{cur['open_leads']:,} open leads ({cur['compared']})."
        )
    age = mon.get("model_age", {})
    if age.get("days") is not None:
        limit = age.get("limit_days")
        s.add_text(
            f"The model learnt from snapshots up to {age['learnt_until']}, {age['days']} days "
            f"before the leads scored now ({age['scored_as_of']}); "
            + (
                f"the limit is {limit} days, so its age "
                + (
                    "calls for retraining."
                    if age.get("too_old")
                    else f"is {age['note']}."
                    if age.get("note")
                    else "is within it."
                )
                if limit is not None
                else "no age limit is set (monitor.max_model_age_days)."
            )
        )
    elif age:
        s.add_text(f"The model's age: {age.get('reason', 'unknown')}.")
    families = pd.DataFrame(mon.get("families", []))
    current = mon.get("current", {})
    if not families.empty and families["max_psi"].isna().all():
        s.add_text(
            f"Feature drift since training: unknown. It compares {current.get('compared', 'the open leads')} "
            f"with the training snapshots, and {current.get('compared_leads', 0):,} of the "
            f"{current.get('open_leads', 0):,} open leads qualify."
        )
    elif not families.empty:
        top = families.iloc[0]
        s.add_table(
            "Feature drift since training, per family",
            families.head(10)[["family", "max_psi", "feature", "strong", "features"]],
            {"max_psi": "float", "strong": "int", "features": "int", "family": "label"},
            f"The family that moved most is {top['family']} (its feature {top['feature']}, PSI "
            f"{top['max_psi']:.2f}); {int(families['strong'].sum())} feature(s) shifted strongly.",
        )
    runs = mon.get("published_runs", [])
    if not runs:
        s.add_text(
            "Past runs: none published yet (`readiness publish`), so no run can be checked "
            "against what happened after it."
        )
        return s
    history, outcomes = [], []
    for r in runs:
        for gate in inp.ladder:
            real = r.get("gates", {}).get(gate, {})
            history.append(
                {
                    "run": r["run_id"],
                    "as_of": r["as_of"],
                    "gate": gate,
                    "state": r["state"],
                    "estimated_auc": _estimated_auc(r, gate, ""),
                    "estimated_auc_active": _estimated_auc(r, gate, "_active"),
                    "realised_auc": real.get("roc_auc"),
                    "realised_ece": real.get("ece"),
                    "top_decile_lift": real.get("top_decile_lift"),
                }
            )
        for route, o in r.get("routes", {}).items():
            outcomes.append(
                {
                    "run": r["run_id"],
                    "route": route,
                    "leads": o["leads"],
                    "next_gate": o["next_gate"],
                    "crossed_next_gate": o["crossed_next_gate"],
                    "share": o["share"],
                }
            )
    table = pd.DataFrame(history)
    realised = table[table["realised_auc"].notna()]
    if not realised.empty:

        def over_time(ax):
            for i, (gate, g) in enumerate(table.groupby("gate", sort=False)):
                c = COLORS[i % len(COLORS)]
                ax.plot(
                    g["as_of"],
                    g["estimated_auc"],
                    "o--",
                    color=c,
                    label=f"{_label(gate)} estimated",
                )
                done = g[g["realised_auc"].notna()]
                ax.plot(
                    done["as_of"],
                    done["realised_auc"],
                    "s-",
                    color=c,
                    label=f"{_label(gate)} realised",
                )
            ax.set_xlabel("published run (as of)")
            ax.set_ylabel("ROC AUC")
            ax.tick_params(axis="x", rotation=45, labelsize=7)
            ax.legend(fontsize=6, ncol=2)

        gap = (realised["realised_auc"] - realised["estimated_auc"]).abs()
        s.add_figure(
            draw(
                "Estimated and realised AUC per published run",
                f"Over {len(realised)} gate-run(s) whose horizon has passed, the label-free "
                f"estimate was off the realised AUC by {gap.median():.3f} (median).",
                over_time,
                size=(7.5, 4.2),
            )
        )
    s.add_table(
        "Published runs: estimated and realised performance",
        table,
        {
            "estimated_auc": "float",
            "estimated_auc_active": "float",
            "realised_auc": "float",
            "realised_ece": "float",
            "top_decile_lift": "float",
            "gate": "label",
            "state": "label",
        },
        f"{len(runs)} published run(s); {len({r['run_id'] for r in runs if r['state'] == 'realised'})} "
        "with their horizon passed (realised), the others pending (estimated only) or unknown "
        "(a flat export has no after). estimated_auc and realised_auc are on every open lead the "
        "run scored; estimated_auc_active on those with a sign of life lately, the leads the drift "
        "table and the retraining test compare (a dormant majority makes the first look higher).",
    )
    errs = mon.get("estimate_vs_realised") or {}
    if errs.get("mae") is not None:
        per_gate = "; ".join(
            f"{_label(g)} {e['mae']:.3f} (mean signed {e['mean_signed_error']:+.3f}, "
            f"{e['runs']} run(s))"
            for g, e in errs["gates"].items()
        )
        active = errs.get("active_leads") or {}
        s.add_text(
            f"The label-free estimate against the realised AUC: mean absolute error "
            f"{errs['mae']:.3f} over {errs['gate_runs']} gate-run(s); per gate {per_gate}. "
            "A positive signed error means the estimate flattered the model."
            + (
                f" On the leads with a sign of life when each run was scored (those the model "
                f"learnt from; dormant leads are recalibrated on a sample of their own) the error is "
                f"{active['mae']:.3f}."
                if active.get("mae") is not None
                else ""
            )
        )
        latest = next((r for r in reversed(runs) if r.get("dormant")), None)
        if latest is not None:
            first = next(iter(latest["dormant"]["gates"].items()), None)
            if first is not None:
                gate, d = first
                s.add_text(
                    f"Dormant leads of the latest realised run ({latest['as_of']}): "
                    f"{latest['dormant']['leads']:,}; at {_label(gate)}, their probabilities "
                    f"expected {d['expected_crossings']:.1f} crossings and {d['crossed']:,} "
                    "happened."
                )
    if outcomes:
        out = pd.DataFrame(outcomes)
        sales = out[out["route"] == "sales_now"]
        s.add_table(
            "Route outcomes of the published runs whose horizon has passed",
            out,
            {"leads": "int", "crossed_next_gate": "int", "share": "pct", "route": "label"},
            (
                f"Of {int(sales['leads'].sum()):,} sales handoffs, "
                f"{int(sales['crossed_next_gate'].sum()):,} reached the sales gate within the horizon."
                if not sales.empty
                else "No run sent a lead to sales."
            ),
        )
    s.summary = {
        "retrain": retrain,
        "published_runs": len(runs),
        "realised_runs": len({r["run_id"] for r in runs if r["state"] == "realised"}),
    }
    return s
