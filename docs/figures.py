"""Tables of measured figures in docs/*.md, generated from the JSON that measured them.

A table sits between `<!-- figures:NAME -->` and `<!-- /figures -->` in a docs page; NAME is one
of TABLES below, which says which JSON files the table is made from and which command writes
them. Nothing between the markers is typed by hand, so the docs cannot drift from the results:

    python docs/figures.py          # rewrite every table from its JSON
    python docs/figures.py --check  # exit 1 and list the tables that differ from their JSON

tests/test_docs.py runs the check. Only deterministic figures of the pipeline's metrics JSON are
shown (no timings of a `dvc repro`: those change every run); speed comes from benchmarks/results.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(
    r"(?P<open><!-- figures:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(?P<close><!-- /figures -->)",
    re.S,
)
LADDER_ARROW = " -> "


class MissingSource(Exception):
    """A table's JSON does not exist (yet): run the command that writes it."""


@dataclass(frozen=True)
class Table:
    sources: tuple[str, ...]  # JSON files, relative to the project root
    command: str  # what writes them (Markdown)
    render: Callable[..., list[str]]  # the loaded JSON, in the order of `sources` -> lines


TABLES: dict[str, Table] = {}


def table(name: str, *sources: str, command: str) -> Callable:
    """Register a table: its name in the markers, its JSON files and the command that writes them."""

    def register(render: Callable[..., list[str]]) -> Callable[..., list[str]]:
        TABLES[name] = Table(sources, command, render)
        return render

    return register


# ---------------------------------------------------------------------------------- formatting


def _int(v: float | None) -> str:
    return "n/a" if v is None else f"{round(v):,}"


def _pct(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{100 * v:.{digits}f} %"


def _num(v: float | None, digits: int) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _secs(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f} s"


def _gib(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} GiB"


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _head(*cells: str) -> list[str]:
    return [_row(*cells), _row(*("---" for _ in cells))]


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _machine(result: dict) -> str:
    m = result.get("machine", {})
    return (
        f"Measured {str(m.get('measured_at', '?'))[:10]} on {m.get('cpus', '?')} cores, "
        f"{m.get('memory_gib', '?')} GiB, Python {m.get('python', '?')}."
    )


# ------------------------------------------------------------------- the pipeline's metrics JSON

_PUBLISHED = {  # ranges published for B2B funnels, to compare the simulator with
    "lead_to_mql": "20-40 %",
    "mql_to_qualified_conversation": "13-40 %",
    "qualified_conversation_to_opportunity": "30-80 %",
    "win_rates": "20-30 % mid-market, 10-20 % enterprise",
    "opportunity_to_close": "1-4 months",
    "learnability": '"several times"',
}


@table("simulate", "artifacts/metrics/simulate.json", command="`dvc repro` (stage `simulate`)")
def _simulate(s: dict) -> list[str]:
    rows, conv, days = s["rows"], s["conversion"], s["median_days"]
    win, share, learn = (
        s["win_rate_by_segment"],
        s["share_touching_belief_stage"],
        s["learnability"],
    )
    mql_to_qc = conv["mql_to_sales_accepted"] * conv["sales_accepted_to_qualified_conversation"]
    lags = [
        "lead_to_mql",
        "mql_to_sales_accepted",
        "sales_accepted_to_qualified_conversation",
        "qualified_conversation_to_opportunity",
        "opportunity_to_closed_won",
    ]
    beliefs = ("urgency", "category", "capability", "alignment")
    return [
        *_head("figure", "value", "published range"),
        _row(
            "rows",
            f"{_int(rows['leads'])} leads, {_int(rows['accounts'])} accounts, "
            f"{_int(rows['events'])} events, {_int(rows['opportunities'])} opportunities",
            "",
        ),
        _row(
            f"matured leads (created at least 180 days before the end), of {_int(s['leads'])}",
            _int(s["matured_leads"]),
            "",
        ),
        _row("lead -> MQL", _pct(conv["lead_to_mql"]), _PUBLISHED["lead_to_mql"]),
        _row("MQL -> sales accepted", _pct(conv["mql_to_sales_accepted"]), ""),
        _row(
            "sales accepted -> qualified conversation",
            _pct(conv["sales_accepted_to_qualified_conversation"]),
            "",
        ),
        _row(
            "MQL -> qualified conversation (SQL; the two rates above multiplied)",
            _pct(mql_to_qc),
            _PUBLISHED["mql_to_qualified_conversation"],
        ),
        _row(
            "qualified conversation -> opportunity",
            _pct(conv["qualified_conversation_to_opportunity"]),
            _PUBLISHED["qualified_conversation_to_opportunity"],
        ),
        _row(
            "opportunity -> closed won: all / smb / mid-market / enterprise",
            " / ".join(
                _pct(v)
                for v in (
                    conv["opportunity_to_closed_won"],
                    win["smb"],
                    win["mid_market"],
                    win["enterprise"],
                )
            ),
            _PUBLISHED["win_rates"],
        ),
        _row(
            "median days: lead -> MQL -> accepted -> conversation -> opportunity -> won",
            " / ".join(_int(days[k]) for k in lags),
            "",
        ),
        _row(
            "median days: opportunity -> closed (won or lost)",
            _int(days["opportunity_to_close"]),
            _PUBLISHED["opportunity_to_close"],
        ),
        _row(
            "share of leads touching urgency / category / capability / alignment content",
            " / ".join(_pct(share[b]) for b in beliefs),
            "",
        ),
        _row(
            "learnability: opportunity rate of leads who consumed urgency *and* stakeholder "
            "content vs the others",
            f"{_pct(learn['opportunity_rate_urgency_and_stakeholder'], 2)} vs "
            f"{_pct(learn['opportunity_rate_others'], 2)}",
            _PUBLISHED["learnability"],
        ),
    ]


_MODEL_COLUMNS = (
    "gate",
    "scorer",
    "model AUC",
    "logistic",
    "your columns",
    "points",
    "truth (± Monte Carlo error) / model AUC on the truth sample = ratio [95 % interval]",
    "PR AUC",
    "top-decile lift",
    "recall @ 20 %",
    "Brier",
    "ECE",
    "positives / snapshots",
)


def _scorer(info: dict) -> str:
    """What scores the gate, from train.json: LightGBM, a blend with the logistic regression, the
    regression alone (on every feature or on your columns), the base rate (too few positives to
    train), or none (crossed at creation: readiness 1 for every lead)."""
    if info.get("crossed_at_creation"):
        return "none (crossed at creation)"
    if not info.get("trained", True):
        return "base rate"
    w = info.get("lightgbm_weight", 1.0)
    if w == 1:
        return "LightGBM"
    side = " on your columns" if info.get("linear_side") == "your_columns" else ""
    return f"logistic{side}" if w == 0 else f"blend, {w:.2f} LightGBM + logistic{side}"


def _evaluation_rows(gates: dict, trained: dict) -> list[str]:
    out = _head(*_MODEL_COLUMNS)
    for gate, by_model in gates.items():
        m = by_model["model"]
        t = by_model.get("ground_truth")
        truth = (
            f"{_num(t['truth_auc'], 3)} ± {_num(t['truth_auc_mc_se'], 3)} / "
            f"{_num(t['model_auc'], 3)} = {_num(t['model_to_truth_auc_ratio'], 3)} "
            f"[{_num(t['ratio_low'], 3)}, {_num(t['ratio_high'], 3)}]"
            if t
            else "n/a (real data)"
        )
        out.append(
            _row(
                gate,
                _scorer(trained.get(gate, {})),
                _num(m["roc_auc"], 3),
                _num(by_model.get("logistic", {}).get("roc_auc"), 3),
                _num(by_model.get("your_columns", {}).get("roc_auc"), 3),
                _num(by_model.get("points", {}).get("roc_auc"), 3),
                truth,
                _num(m["pr_auc"], 3),
                _num(m["top_decile_lift"], 2),
                _num(m["recall_at_20pct"], 3),
                _num(m["brier"], 4),
                _num(m["ece"], 4),
                f"{_int(m['positives'])} / {_int(m['rows'])}",
            )
        )
    return out


def _target_line(targets: dict, key: str, what: str) -> str:
    verdicts = {g: t[key] for g, t in targets.items() if key in t}
    if not verdicts:
        return f"- {what}: not measured."
    missed = [g for g, ok in verdicts.items() if not ok]
    if not missed:
        return f"- {what}: met on every gate."
    return f"- {what}: **missed** on {', '.join(missed)} (met on {len(verdicts) - len(missed)} of {len(verdicts)})."


_BASELINES = ("logistic", "your_columns", "points")


def _closest_baseline(gates: dict) -> str:
    """The gate where the model's ROC AUC is closest to the better baseline's, and the margin."""
    margins = {
        gate: m["model"]["roc_auc"]
        - max(m[b]["roc_auc"] for b in _BASELINES if "roc_auc" in m.get(b, {}))
        for gate, m in gates.items()
        if any("roc_auc" in m.get(b, {}) for b in _BASELINES)
    }
    if not margins:
        return ""
    gate = min(margins, key=lambda g: margins[g])
    return f" Closest: {gate}, {margins[gate]:+.3f} ROC AUC over the better baseline."


@table(
    "evaluate",
    "artifacts/metrics/evaluate.json",
    "artifacts/metrics/train.json",
    command="`dvc repro` (stages `train`, `evaluate`)",
)
def _evaluate(e: dict, tr: dict) -> list[str]:
    t = e["targets"]
    return [
        *_evaluation_rows(e["gates"], tr["gates"]),
        "",
        "Targets, per gate:",
        "",
        _target_line(t, "ece_under_0_02", "ECE under 0.02"),
        _target_line(
            t,
            "your_columns_plausible",
            "your own columns alone not implausibly strong (AUC under "
            "evaluate.implausible_your_columns_auc)",
        ),
        _target_line(t, "ahead_of_baselines", "model ahead of every baseline on ROC AUC")
        + _closest_baseline(e["gates"]),
        _target_line(
            t,
            "not_worse_than_baselines_95",
            "model not behind any baseline beyond noise (DeLong 95 % interval of model - "
            "baseline reaches above 0)",
        ),
        _target_line(t, "auc_at_least_0_97_of_truth", "AUC at least 0.97 of the truth's"),
        _target_line(
            t,
            "not_above_truth",
            "model not above the truth beyond the truth's Monte Carlo error (1.96 x) and the "
            "paired bootstrap interval of truth - model (above it would mean a leak)",
        ),
    ]


@table("routes", "artifacts/metrics/score.json", command="`dvc repro` (stage `score`)")
def _routes(s: dict) -> list[str]:
    routes = s["routes"]
    total = sum(routes.values())
    out = _head("route", "open leads", "share")
    out += [_row(f"`{r}`", _int(n), _pct(n / total)) for r, n in routes.items()]
    out.append(_row("all", _int(total), _pct(1.0)))
    return [
        *out,
        "",
        f"Scored at {s['run']['as_of']}; `sales_now` leads spread over "
        f"{len(s['sales_now_owners'])} owners; nurture leads without an unconsumed next asset: "
        f"{_int(s['nurture_without_next_asset'])}.",
    ]


@table("drivers-vs-shap", "artifacts/metrics/score.json", command="`dvc repro` (stage `score`)")
def _drivers_vs_shap(s: dict) -> list[str]:
    out = _head(
        "gate",
        "leads",
        "same top driver, same sign",
        "top-3 drivers, mean overlap",
        "same top-3 set",
        "median Spearman of all contributions",
    )
    for gate, d in s["drivers_vs_exact_shap"].items():
        out.append(
            _row(
                gate,
                _int(d["rows"]),
                _pct(d["top_1_same_feature_and_sign"]),
                _pct(d["top_k_mean_overlap"]),
                _pct(d["top_k_same_set"]),
                _num(d["median_spearman"], 3),
            )
        )
    return out


@table("weakest-belief", "artifacts/metrics/score.json", command="`dvc repro` (stage `score`)")
def _weakest_belief(s: dict) -> list[str]:
    w = s["weakest_belief_vs_truth"]
    unknown = s.get("weakest_belief_unknown", {})
    out = [
        *_head(
            "rule",
            f"named belief is the truth's lowest, where Readiness names one "
            f"({_pct(w['named_share'])} of {_int(w['leads'])} open leads)",
            f"the {_int(w['engaged_leads'])} that consumed any belief content",
        ),
        _row(
            "Readiness: the belief family whose signals pull readiness for a sales conversation "
            "down most (path attributions of the sales-gate model)",
            f"**{_pct(w['model_accuracy'])}**",
            _pct(w["model_accuracy_engaged"]),
        ),
        _row(
            "naive: the belief whose content the lead consumed least",
            _pct(w["naive_accuracy_where_named"]),
            _pct(w["naive_accuracy_engaged"]),
        ),
        _row(
            'always "alignment" (the belief bought last; all open leads)',
            _pct(w["always_last_belief_accuracy"]),
            "",
        ),
    ]
    shares = ", ".join(
        f"{b} {_pct(v)}" for b, v in sorted(w["truth_lowest_share"].items(), key=lambda kv: -kv[1])
    )
    model, naive, last = (
        w["model_accuracy"],
        w["naive_accuracy_where_named"],
        w["always_last_belief_accuracy"],
    )
    why = "; ".join(f"{r}: {_int(n)}" for r, n in unknown.items()) or "none"
    return [
        *out,
        "",
        f"Readiness's rule against the naive rule: {100 * (model - naive):+.1f} points; against "
        f'always "alignment": {100 * (model - last):+.1f} points. The truth\'s lowest belief '
        f"among these leads: {shares}. Leads whose weakest belief is `unknown` (not guessed), "
        f"by reason: {why}.",
    ]


@table("report-shap", "artifacts/metrics/report.json", command="`dvc repro` (stage `report`)")
def _report_shap(r: dict) -> list[str]:
    out = _head(
        "gate",
        "test-cohort leads in the drivers section (a sample)",
        "rank correlation of feature importances with exact TreeSHAP",
        "top-10 features in common",
    )
    for a in r["sections"]["drivers"]["agreement_with_exact_shap"]:
        out.append(
            _row(
                a["gate"],
                _int(a["rows"]),
                _num(a["spearman_with_exact_shap"], 3),
                _pct(a["top10_overlap"], 0),
            )
        )
    return out


# ----------------------------------------------------------------------------- examples/olist

_OLIST = "examples/olist/artifacts/metrics"


@table(
    "olist-import",
    f"{_OLIST}/import.json",
    f"{_OLIST}/ingest.json",
    command="`dvc repro examples/olist/dvc.yaml` (stages `import`, `ingest`)",
)
def _olist_import(imp: dict, ing: dict) -> list[str]:
    out = _head("table", "rows read", "accepted", "quarantined", "reasons (rows)", "warnings")
    for name, t in ing["tables"].items():
        absent = imp["tables"].get(name, {}).get("absent", False)
        reasons = "; ".join(f"{r} ({_int(n)})" for r, n in t["quarantine_reasons"].items())
        out.append(
            _row(
                f"{name}{' (absent from the export)' if absent else ''}",
                _int(t["read"]),
                _int(t["accepted"]),
                _int(t["quarantined"]),
                reasons,
                "; ".join(t["warnings"]),
            )
        )
    tot = ing["totals"]
    total = (_int(tot["read"]), _int(tot["accepted"]), _int(tot["quarantined"]))
    out.append(_row("all", *total, "", ""))
    reconciled = "reconciled" if ing["reconciled"] else "**not reconciled**"
    empty = "; ".join(
        f"{f['file']}: " + ", ".join(f"{c} {_pct(v, 0)}" for c, v in f["empty_columns"].items())
        for f in imp["files"].values()
        if f["empty_columns"]
    )
    return [
        *out,
        "",
        f"Read = accepted + quarantined: {reconciled}. Opportunities with amount 0 (kept, "
        f"with a warning): {_int(imp.get('zero_amount_opportunities', 0))}. Columns of the "
        f"export more than half empty: {empty or 'none'}.",
    ]


@table(
    "olist-reference",
    f"{_OLIST}/reference.json",
    f"{_OLIST}/evaluate.json",
    command="`dvc repro examples/olist/dvc.yaml` (stages `evaluate`, `reference`)",
)
def _olist_reference(ref: dict, ev: dict) -> list[str]:
    cv, ts = ref["published_reference_cv_2018_leads"], ref["time_split"]
    ece = ev["gates"][ts["gate"]]["model"]["ece"]
    return [
        *_head("model, evaluation", "ROC AUC"),
        _row(
            "published reference: logistic regression on one-hot origin + landing page, 5-fold CV "
            f"on the {_int(cv['leads'])} leads of 2018 ({_int(cv['won'])} won), label "
            '"won ever" (not a time split)',
            f"{_num(cv['roc_auc_mean'], 3)} +- {_num(cv['roc_auc_std'], 3)}",
        ),
        _row(
            f"**Readiness**, time split: {_int(ts['train_snapshots'])} training snapshots "
            f"({_int(ts['train_positives'])} positive), tested on {_int(ts['test_snapshots'])} "
            f"snapshots ({_int(ts['test_positives'])} reaching {ts['gate']} within "
            f"{ts['horizon_days']} days); calibration ECE {_num(ece, 4)}",
            f"**{_num(ts['readiness_model_auc'], 3)}**",
        ),
        _row(
            "the same logistic regression on origin + landing page, on the same time split",
            _num(ts["reference_lr_origin_landing_page_auc"], 3),
        ),
        _row(
            "logistic regression on Readiness's features / points score, same split",
            f"{_num(ts['logistic_on_readiness_features_auc'], 3)} / "
            f"{_num(ts['points_score_auc'], 3)}",
        ),
        *(
            [
                _row(
                    "Readiness's own baseline: logistic regression on your columns only, same split",
                    _num(ev["gates"][ts["gate"]]["your_columns"]["roc_auc"], 3),
                )
            ]
            if "your_columns" in ev["gates"][ts["gate"]]
            else []
        ),
        "",
        'Target "beat the reference on the time split": '
        f"{_met(ts['readiness_model_auc'] > ts['reference_lr_origin_landing_page_auc'])} "
        f"({_num(ts['readiness_model_auc'], 3)} vs "
        f"{_num(ts['reference_lr_origin_landing_page_auc'], 3)}).",
    ]


_OLIST_FLAT = "examples/olist_flat/artifacts/metrics"


@table(
    "olist-flat",
    f"{_OLIST_FLAT}/reference.json",
    f"{_OLIST_FLAT}/evaluate.json",
    f"{_OLIST_FLAT}/train.json",
    command="`dvc repro examples/olist_flat/dvc.yaml` (stages `train`, `evaluate`, `reference`)",
)
def _olist_flat(ref: dict, ev: dict, train: dict) -> list[str]:
    gate = next(iter(ev["gates"]))
    g = ev["gates"][gate]
    pub = ref["published_reference_cv_2018_leads"]
    model = g["model"]["roc_auc"]
    same = ref["reference_lr_origin_landing_page_same_folds_auc"]
    return [
        f"Evaluated by {ev['evaluation_method']}: {_int(ref['leads'])} leads, "
        f"{_int(ref['won'])} won.",
        "",
        *_head("model", "ROC AUC", "ECE"),
        _row("**Readiness**, out of fold (each fold chooses its own scorer on its validation "
             "rows, by the rule of the models page; the shipped model, fitted on every lead: "
             f"{train['gates'][gate].get('scorer_reason', '')})",
             f"**{_num(model, 3)}**", _num(g["model"]["ece"], 4)),
        _row("logistic regression on your columns (origin, landing page), same folds",
             _num(g["your_columns"]["roc_auc"], 3), _num(g["your_columns"]["ece"], 4)),
        _row("logistic regression on every Readiness feature, same folds",
             _num(g["logistic"]["roc_auc"], 3), _num(g["logistic"]["ece"], 4)),
        _row("reference: scikit-learn one-hot logistic regression on origin + landing page, "
             "the same leads and folds", _num(same, 3), ""),
        _row(f"published reference: the same regression, 5-fold CV on the {_int(pub['leads'])} "
             "leads of 2018", f"{_num(pub['roc_auc_mean'], 3)} +- {_num(pub['roc_auc_std'], 3)}",
             ""),
        "",
        f"Left out by the leakage guard: {', '.join(train['left_out_by_leakage_guard']) or 'none'}. "
        f"Targets: at least the published 0.669: {_met(model >= 0.669)}; at least the reference "
        f"on the same folds: {_met(model >= same)} ({_num(model, 3)} vs {_num(same, 3)}); at least "
        f"the regression on your columns: {_met(model >= g['your_columns']['roc_auc'])}.",
    ]  # fmt: skip


# --------------------------------------------------------------------------------- benchmarks


@table(
    "benchmark-simulate",
    "benchmarks/results/simulate.json",
    command="`python benchmarks/simulate.py`",
)
def _bench_simulate(b: dict) -> list[str]:
    out = _head(
        "leads",
        "events",
        "wall time, median (runs)",
        "events/s",
        "peak memory (process tree)",
        "vs Parquet-write floor",
    )
    for r in b["runs"].values():
        out.append(
            _row(
                _int(r["leads"]),
                _int(r["events"]),
                f"{_secs(r['wall_seconds_median'], 2)} ({_runs(r['wall_seconds'])})",
                _int(r["events_per_second"]),
                _gib(r["peak_memory_gib"]),
                f"{r['ratio_to_parquet_floor']:.2f}x",
            )
        )
    t = b["targets"]
    return [
        *out,
        "",
        f"{_machine(b)} {b['workers']} worker processes. Target 100M events in under 10 minutes: "
        f"{_met(t['under_10_minutes_for_100m_events'])} "
        f"({_secs(t['seconds_for_100m_events_extrapolated'])} per 100M events); "
        f"peak memory under 6 GiB: {_met(t['peak_memory_under_6_gib'])}.",
    ]


@table(
    "benchmark-features",
    "benchmarks/results/features_quick.json",
    command="`python benchmarks/feature_build.py --quick`",
)
def _bench_features(b: dict) -> list[str]:
    out = _head("build", "wall time, median", "events/s", "peak memory")
    lines = []
    for r in b["runs"].values():
        sc, tr = r["scoring"], r["training"]
        lines.append(f"{_int(r['leads'])} leads, {_int(r['events'])} events")
        out.append(
            _row(
                f"scoring snapshot ({_int(sc['summary']['open_leads'])} open leads)",
                _secs(sc["wall_seconds_median"], 2),
                _int(sc["events_per_second"]),
                _gib(sc["peak_memory_gib"]),
            )
        )
        s = tr["summary"]
        out.append(
            _row(
                f'training snapshots, "{s["strategy"]}" strategy ({_int(s["snapshots"])} snapshots '
                f"at {s['cutoffs']} cutoffs)",
                _secs(tr["wall_seconds_median"], 2),
                _int(tr["events_per_second"]),
                _gib(tr["peak_memory_gib"]),
            )
        )
        if "training_join_strategy" in r:
            j = r["training_join_strategy"]
            out.append(
                _row(
                    'training snapshots, "join" strategy',
                    _secs(j["wall_seconds_median"], 2),
                    "",
                    _gib(j["peak_memory_gib"]),
                )
            )
        if "pandas_scoring" in r:
            p = r["pandas_scoring"]
            out.append(
                _row(
                    f"pandas reference, scoring snapshot ({p['ratio_to_readiness']}x Readiness's time)",
                    _secs(p["wall_seconds_median"], 2),
                    "",
                    _gib(p["peak_memory_gib"]),
                )
            )
    return [*out, "", f"{'; '.join(lines)}. {_machine(b)}"]


@table("benchmark-train", "benchmarks/results/train.json", command="`python benchmarks/train.py`")
def _bench_train(b: dict) -> list[str]:
    out = _head(
        "size",
        "training + validation snapshots",
        "all gates: median (runs)",
        "of which gate fits (one run)",
        "gates on the row cap",
        "peak memory",
        "plain LightGBM fit of one gate, 200 rounds (runs)",
    )
    for name, r in b["sizes"].items():
        gates = r["gates"].values()
        capped = sum(g["train_rows_used"] < g["train_rows"] for g in gates)
        t = r["train_all_gates"]
        out.append(
            _row(
                f"{name}: {_int(r['leads'])} leads",
                _int(r["snapshots"]),
                f"{_secs(t['wall_seconds_median'])} ({_runs(t['wall_seconds'])})",
                _secs(sum(g["seconds"] for g in gates)),
                f"{capped} of {len(r['gates'])}",
                _gib(t["peak_memory_gib"]),
                _runs(r["plain_lightgbm_first_gate_200_rounds"]["wall_seconds"]),
            )
        )
    largest = max(b["sizes"].values(), key=lambda r: r["leads"])
    fastest = min(largest["train_all_gates"]["wall_seconds"])
    verdict = (
        f"**missed** (already {_secs(fastest)} at {_int(largest['leads'])} leads)"
        if fastest > b["target_seconds_at_1M"]
        else f"not measured at 1M leads ({_secs(fastest)} at {_int(largest['leads'])})"
    )
    lines = [
        *out,
        "",
        f"{_machine(b)} Target: all gates in under {b['target_seconds_at_1M']} s at 1M leads: "
        f"{verdict}.",
    ]
    if b.get("shortcuts"):
        gates = list(b["shortcuts"][0]["test_auc"])
        shipped = b["shortcuts"][0]
        lines += [
            "",
            "The cost of each shortcut (`--shortcuts`): the default data trained as the train stage "
            "does, one run each; each gate's test AUC, and in brackets its difference from the "
            "shipped training.",
            "",
            *_head("training", "seconds", *gates),
        ]
        for s in b["shortcuts"]:
            lines.append(
                _row(
                    s["shortcut"],
                    _secs(s["seconds"]),
                    *(
                        f"{s['test_auc'][g]:.4f}"
                        + (
                            ""
                            if s is shipped
                            else f" ({s['test_auc'][g] - shipped['test_auc'][g]:+.4f})"
                        )
                        for g in gates
                    ),
                )
            )
    return lines


@table(
    "benchmark-train-evaluate",
    "benchmarks/results/train_evaluate.json",
    command="`python benchmarks/train_evaluate.py`",
)
def _bench_train_evaluate(b: dict) -> list[str]:
    based = "baseline" in b  # older results had no in-run baseline
    out = _head(
        "run",
        "train",
        "evaluate",
        "train + evaluate",
        *(("baseline workload", "ratio to it") if based else ()),
    )
    for i, r in enumerate(b["runs"], 1):
        extra = (_secs(r["baseline_seconds"]), f"{r['ratio_to_baseline']}x") if based else ()
        out.append(
            _row(i, _secs(r["train"]), _secs(r["evaluate"]), _secs(r["train_and_evaluate"]), *extra)
        )
    median = b["train_and_evaluate_median_seconds"]
    verdict = "met" if median < b["target_seconds"] else "**missed**"
    ratio = (
        f" The baseline workload, run before each run on the same machine: "
        f"{b['baseline']['workload']}; median ratio {b['ratio_to_baseline_median']}x, the "
        "figure to compare across days."
        if based
        else ""
    )
    return [
        *out,
        "",
        f"{_machine(b)} Target: train + evaluate at the default size under "
        f"{b['target_seconds']} s: {verdict} (median {_secs(median)}).{ratio}",
    ]


@table("benchmark-truth", "benchmarks/results/truth.json", command="`python benchmarks/truth.py`")
def _bench_truth(b: dict) -> list[str]:
    now = b["evaluate_stage"]["now"]
    r = str(now["rollouts"])
    out = _head(
        "gate",
        "positives / rows",
        f"reference: truth AUC on all {_int(b['copies_per_estimator'])} roll-outs "
        "(combined, debiased)",
        "counted hits, 160 roll-outs: AUC (bias), positives at exactly 0",
        "compensator, 160: AUC (bias), positives at exactly 0",
        "combined, 160: AUC (bias), positives at exactly 0",
        f"combined, {r}, debiased (the truth stage): AUC (bias), largest difference "
        "between disjoint sets (sets), their standard deviation",
    )
    for gate, g in b["gates"].items():
        hits, comp, both = g["sampled"]["160"], g["compensator"]["160"], g["combined"]["160"]
        used = g["combined"][r]
        out.append(
            _row(
                gate,
                f"{_int(g['positives'])} / {_int(g['rows'])}",
                _num(g["reference_truth_auc_debiased"], 4),
                f"{_num(hits['truth_auc_mean'], 4)} ({hits['bias_vs_reference']:+.4f}), "
                f"{_pct(hits['positives_estimated_zero'])}",
                f"{_num(comp['truth_auc_mean'], 4)} ({comp['bias_vs_reference']:+.4f}), "
                f"{_pct(comp['positives_estimated_zero'])}",
                f"{_num(both['truth_auc_mean'], 4)} ({both['bias_vs_reference']:+.4f}), "
                f"{_pct(both['positives_estimated_zero'])}",
                f"{_num(used['debiased_auc_mean'], 4)} "
                f"({used['debiased_bias_vs_reference']:+.4f}), "
                f"{_num(used['debiased_largest_difference'], 4)} ({used['sets']}), "
                f"{_num(used['debiased_spread_sd'], 4)}",
            )
        )
    missed = [
        gate
        for gate, g in b["gates"].items()
        if g["combined"][r]["debiased_largest_difference"] > 0.004
    ]
    old = b["evaluate_stage"]["old"]
    stable = (
        "met on every gate"
        if not missed
        else f"**missed** on {', '.join(missed)} (met on {len(b['gates']) - len(missed)} of "
        f"{len(b['gates'])})"
    )
    ratio = b["evaluate_stage"]["ratio_now_to_old"]
    faster = (
        "met"
        if ratio < 0.9
        else "**missed**"
        if ratio > 1.1
        else "not shown: the same time within noise (one run each)"
    )
    return [
        *out,
        "",
        f"{_machine(b)} {_int(b['test_snapshots'])} test snapshots, horizon "
        f"{b['horizon_days']} days; bias is against the reference. The truth stage's roll-outs: "
        f"{_secs(now['seconds'])} ({now['rollouts']} roll-outs, combined) against "
        f"{_secs(old['seconds'])} ({old['rollouts']}, counted hits) in the same run, "
        f"{b['evaluate_stage']['ratio_now_to_old']:.2f}x. Targets: truth AUCs stable to ±0.002 "
        f"across disjoint sets of roll-outs (no two sets more than 0.004 apart): {stable}; in "
        f"less time than 160 counted roll-outs: {faster}.",
        *_mql_gap(b.get("mql_gap")),
    ]


def _mql_gap(gap: dict | None) -> list[str]:
    """What the mql gap is made of (benchmarks/truth.py's mql_gap), one sentence."""
    if not gap:
        return []
    return [
        "",
        f"The mql gap, on the mql gate's {_int(gap['rows'])} truth rows (stratified 5-fold "
        f"cross-validation of a logistic regression on the model's score): the model alone "
        f"{_num(gap['model_cv_auc'], 4)}; with marketing's hidden score at the cutoff "
        f"{_num(gap['model_and_marketing_score_cv_auc'], 4)}; with the lead's hidden engagement "
        f"energy {_num(gap['model_and_energy_cv_auc'], 4)}; with both "
        f"{_num(gap['model_energy_and_marketing_score_cv_auc'], 4)}; the truth "
        f"{_num(gap['truth_auc'], 4)}.",
    ]


@table("benchmark-score", "benchmarks/results/score.json", command="`python benchmarks/score.py`")
def _bench_score(b: dict) -> list[str]:
    out = _head(
        "open leads",
        "score with drivers, routes, handoffs, accounts and the contract: median (runs)",
        "leads/s",
        "of which drivers (last run)",
        "peak memory",
        "exact TreeSHAP of one gate, extrapolated",
        "publish to PostgreSQL, one COPY transaction: median (runs)",
    )
    for r in b["sizes"].values():
        s, p = r["score"], r["publish_postgres"]
        out.append(
            _row(
                _int(r["open_leads"]),
                f"{_secs(s['wall_seconds_median'])} ({_runs(s['wall_seconds'])})",
                _int(s["leads_per_second"]),
                _secs(s["parts_seconds_last_run"]["drivers"]),
                _gib(s["peak_memory_gib"]),
                _secs(s["exact_shap_one_gate_extrapolated_seconds"]),
                f"{_secs(p['wall_seconds_median'])} ({_runs(p['wall_seconds'])})",
            )
        )
    largest = max(b["sizes"].values(), key=lambda r: r["open_leads"])
    t, x, ctx = b["targets"], b["exact_shap_baseline"], b["context_query"]
    score_s = largest["score"]["wall_seconds_median"]
    publish_s = largest["publish_postgres"]["wall_seconds_median"]
    n = _int(largest["open_leads"])
    return [
        *out,
        "",
        f"{_machine(b)} Targets at {n} leads: scored with drivers in under "
        f"{t['score_1m_seconds']} s: {_met(score_s < t['score_1m_seconds'])}; published to "
        f"PostgreSQL in under {t['publish_1m_postgres_seconds']} s: "
        f"{_met(publish_s < t['publish_1m_postgres_seconds'])}. Path attributions vs exact "
        f"TreeSHAP ({x['gate']} gate, {_int(x['rows'])} rows): {_int(x['path_rows_per_second'])} "
        f"vs {_int(x['exact_shap_rows_per_second'])} rows/s ({x['speedup']}x). The context query "
        f"on the validated tables, timed once at the real size: "
        f"{_secs(ctx['wall_seconds_median'])} for {_int(ctx['open_leads'])} leads.",
    ]


# ---------------------------------------------------------------------------------- the blocks


def render(name: str, root: Path = ROOT, tables: dict[str, Table] = TABLES) -> str:
    """The text between a table's markers: the table, then where its figures come from."""
    t = tables[name]
    missing = [s for s in t.sources if not (root / s).is_file()]
    if missing:
        raise MissingSource(f"{', '.join(missing)} not found: run {t.command}")
    data = [json.loads((root / s).read_text()) for s in t.sources]
    sources = ", ".join(f"`{s}`" for s in t.sources)
    return "\n".join(
        [
            *t.render(*data),
            "",
            f"<sub>Generated by `python docs/figures.py` from {sources}, written by "
            f"{t.command}; do not edit by hand.</sub>",
            "",
        ]
    )


def _pages(root: Path) -> list[Path]:
    return sorted((root / "docs").glob("*.md"))


def update(root: Path = ROOT, tables: dict[str, Table] = TABLES, write: bool = True) -> list[str]:
    """Compare (and with `write`, rewrite) every table in docs/*.md with its JSON.

    Returns one line per problem: a table that differs from its JSON (before rewriting), a table
    whose JSON is missing, an unknown table name, a table placed on no page.
    """
    problems, placed = [], set()
    for page in _pages(root):
        text = page.read_text()
        rel = page.relative_to(root).as_posix()

        def replace(m: re.Match, rel: str = rel) -> str:
            name = m["name"]
            placed.add(name)
            if name not in tables:
                problems.append(f"{rel}: figures:{name} is no table of docs/figures.py")
                return m[0]
            try:
                body = render(name, root, tables)
            except MissingSource as exc:
                problems.append(f"{rel}: figures:{name}: {exc}")
                return m[0]
            except (KeyError, TypeError, ValueError) as exc:  # the JSON changed its shape
                problems.append(
                    f"{rel}: figures:{name} cannot be made from {', '.join(tables[name].sources)} "
                    f"({type(exc).__name__}: {exc}): update its table in docs/figures.py"
                )
                return m[0]
            if body != m["body"]:
                sources = ", ".join(tables[name].sources)
                problems.append(f"{rel}: figures:{name} differs from {sources}")
            return m["open"] + body + m["close"]

        new = BLOCK.sub(replace, text)
        if write and new != text:
            page.write_text(new)
    problems += [f"figures:{n} is placed on no docs/*.md page" for n in tables if n not in placed]
    return problems


def check(root: Path = ROOT, tables: dict[str, Table] = TABLES) -> list[str]:
    """What `--check` reports: the problems, without writing anything."""
    return update(root, tables, write=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--check", action="store_true", help="only compare; exit 1 listing what differs"
    )
    args = ap.parse_args()
    problems = update(ROOT, write=not args.check)
    for p in problems:
        sys.stdout.write(p + "\n")
    if args.check:
        sys.stdout.write(
            "docs tables match their JSON\n"
            if not problems
            else "run `python docs/figures.py` to rewrite the tables from their JSON\n"
        )
    else:
        # a differing table has been rewritten; only a missing JSON or a bad name is left to fix
        problems = [p for p in problems if " differs from " not in p]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
