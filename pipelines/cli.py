"""The `readiness` command: one sub-command per pipeline stage (the same names as in dvc.yaml).

Errors a user can cause print one paragraph and exit with status 2; never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from readiness.errors import ReadinessError, scrub_secrets
from readiness.params import ProjectParams, load_params

app = typer.Typer(
    name="readiness",
    help=(
        "Readiness scores how ready every B2B lead is to cross each buying threshold "
        "(mql -> sales_accepted -> qualified_conversation -> opportunity -> closed_won).\n\n"
        "Each sub-command is one pipeline stage; `dvc repro` runs them all in order. "
        "Parameters come from params.yaml (see --params)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ParamsOption = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="params.yaml to use (default: the project's own). Paths in it are relative to its folder.",
    ),
]


def _project(params: Path | None, *, cohorts: bool = True) -> ProjectParams:
    """The params; `cohorts=False` for the stages up to features, which write the calendar
    that null train.* cohort dates are chosen from."""
    return load_params(params, cohorts=cohorts)


def _echo_json(title: str, payload: dict) -> None:
    typer.echo(f"{title}:")
    typer.echo(json.dumps(payload, indent=2, default=str))


@app.command()
def simulate(
    params: ParamsOption = None,
    n_leads: Annotated[
        int | None, typer.Option(help="Override simulate.n_leads (for a quick try).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write raw tables here instead of paths.raw (ground truth goes beside it)."
        ),
    ] = None,
) -> None:
    """Generate the built-in B2B journey data (raw tables + ground truth) from the seed in params.yaml."""
    from pipelines.simulate import stage

    result = stage.run(_project(params, cohorts=False), n_leads=n_leads, out=out)
    s = result["sanity"]
    _echo_json("conversion between gates (matured leads)", s["conversion"])
    _echo_json("win rate by segment", s["win_rate_by_segment"])
    _echo_json("median days between gates", s["median_days"])
    _echo_json("share of leads touching each belief stage", s["share_touching_belief_stage"])
    _echo_json("learnability", s["learnability"])
    rows = result["rows"]
    typer.echo(
        f"simulate: {rows['leads']:,} leads, {rows['accounts']:,} accounts, {rows['events']:,} events, "
        f"{rows['opportunities']:,} opportunities in {result['seconds']:.1f}s -> {result['raw']}"
    )


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="The new project's folder (made when missing).")],
    mapping: Annotated[Path, typer.Option(help="Your export's mapping file (YAML).")],
    source: Annotated[
        Path | None,
        typer.Option(help="Folder of the export's files; default: the mapping's own source."),
    ] = None,
) -> None:
    """Start a project for your own export: params.yaml (dates chosen from the data) and dvc.yaml."""
    from pipelines.init import init_project

    r = init_project(folder, mapping, source)
    typer.echo(
        f"init: {r['folder']}: params.yaml (ladder {' -> '.join(r['ladder'])}; "
        f"{'a flat export' if r['flat'] else 'first cutoff and cohorts chosen from the data'}) "
        f"and dvc.yaml ({', '.join(r['stages'])}) for the export in {r['export']}"
    )
    typer.echo(f"  run it: cd {r['folder']} && dvc repro   (DVC repository: {r['dvc_repository']})")


@app.command("import")
def import_(
    params: ParamsOption = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="The mapping file (YAML); default: import.mapping in params.yaml."),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(help="Folder of the export's files; default: the mapping's own source."),
    ] = None,
) -> None:
    """Map your own CRM/marketing export onto the raw tables (then run ingest and the other stages)."""
    from pipelines.importer import stage

    r = stage.run(_project(params, cohorts=False), mapping=mapping, source=source)
    for table, t in r["tables"].items():
        typer.echo(
            f"  {table:<14} {t['rows']:>9,} rows"
            + ("  (absent from the export: empty)" if t.get("absent") else "")
        )
    for table, t in r["tables"].items():
        for b in t.get("from", []):
            if b.get("skipped_rows_without_values"):
                held = "; ".join(
                    f"'{col}': " + ", ".join(f"{v} {n:,}" for v, n in counts.items())
                    for col, counts in b.get("skipped_values", {}).items()
                )
                typer.echo(
                    f"  note: {table}: {b['skipped_rows_without_values']:,} rows of {b['from']} "
                    "skipped for want of a value (skip_rows_without)"
                    + (f"; they hold {held}" if held else "")
                )
    for f in r["files"].values():
        for col, share in f["empty_columns"].items():
            typer.echo(f"  note: {f['file']} column {col} is {share:.0%} empty")
    if r.get("zero_amount_opportunities"):
        typer.echo(f"  note: {r['zero_amount_opportunities']:,} opportunities have amount 0")
    if r.get("blank_amount_opportunities"):
        typer.echo(
            f"  note: {r['blank_amount_opportunities']:,} opportunities have no amount: kept "
            "with the amount unknown, left out of the deal-size means"
        )
    deal_accounts = r.get("opportunity_accounts", {})
    if deal_accounts.get("from_primary_lead"):
        typer.echo(
            f"  note: {deal_accounts['from_primary_lead']:,} opportunities without an account take "
            "their primary lead's"
        )
    if deal_accounts.get("differ_from_primary_lead"):
        typer.echo(
            f"  note: {deal_accounts['differ_from_primary_lead']:,} opportunities name an account "
            "other than their primary lead's (kept as mapped; check the key of account_id)"
        )
    if r.get("lost_deals_without_closed_lost"):
        typer.echo(
            f"  note: {r['lost_deals_without_closed_lost']:,} lost deal(s) leave their primary "
            "lead open: no closed_lost milestone is mapped for it"
        )
    for w in [
        *r.get("unparsed_dates", []),
        *r.get("notes", []),
        *r["tables"].get("attributes", {}).get("warnings", []),
    ]:
        typer.echo(f"  note: {w}")
    assets = r["tables"].get("assets", {})
    if assets.get("created_from_events"):
        typer.echo(
            f"  note: {assets['created_from_events']:,} assets created from the pages events name"
        )
    for target, hits in assets.get("tagging", {}).items():
        typer.echo(f"  {target} tags: " + "; ".join(f"{rule}: {n:,}" for rule, n in hits.items()))
    typer.echo(
        f"import: {r['mapping']} -> {sum(t['rows'] for t in r['tables'].values()):,} rows in {len(r['tables'])} raw tables"
    )


@app.command()
def ingest(
    params: ParamsOption = None,
    source: Annotated[
        Path | None, typer.Option(help="Folder of raw tables (default: ingest.source).")
    ] = None,
) -> None:
    """Validate raw tables against their contracts; accepted rows go on, rejected rows are quarantined with reasons."""
    from pipelines.ingest import stage

    report = stage.run(_project(params, cohorts=False), source=source)
    for table, t in report["tables"].items():
        reasons = ", ".join(f"{k} x{v}" for k, v in list(t["quarantine_reasons"].items())[:3])
        typer.echo(
            f"  {table:<14} read {t['read']:>11,}  accepted {t['accepted']:>11,}  quarantined {t['quarantined']:>8,}  {reasons}"
        )
    cov = report["content_coverage"]
    typer.echo(f"  content coverage: {cov['reading']}")
    tot = report["totals"]
    typer.echo(
        f"ingest: {tot['read']:,} rows read = {tot['accepted']:,} accepted + {tot['quarantined']:,} quarantined "
        f"({'reconciled' if report['reconciled'] else 'NOT reconciled'})"
    )


@app.command()
def assets(
    params: ParamsOption = None,
    untagged: Annotated[
        bool,
        typer.Option(
            "--untagged",
            help="Only assets without a belief tag, most consumed first: what to tag first.",
        ),
    ] = False,
    limit: Annotated[int, typer.Option(help="Print at most this many assets.", min=1)] = 30,
) -> None:
    """List the validated assets with their belief stage, audience and consumption (events, leads)."""
    from pipelines.ingest import stage

    table, coverage = stage.asset_usage(_project(params, cohorts=False))
    shown = table[~table["tagged"]] if untagged else table
    typer.echo(
        f"{len(shown):,} {'untagged ' if untagged else ''}assets of {len(table):,}; "
        f"{coverage['reading']}"
    )
    if coverage["consumed_events"]:
        typer.echo(
            "  consumed events by belief: "
            + ", ".join(f"{b} {v:.1%}" for b, v in coverage["by_belief"].items() if v is not None)
            + (
                f", untagged {coverage['untagged_share']:.1%}"
                if coverage["untagged_share"] is not None
                else ""
            )
        )
    typer.echo(
        f"  {'asset_id':>8}  {'events':>8}  {'leads':>7}  {'belief_stage':<12}  {'audience':<9}  title"
    )
    for r in shown.head(limit).itertuples():
        typer.echo(
            f"  {r.asset_id:>8}  {r.events:>8,}  {r.leads:>7,}  {r.belief_stage:<12}  {r.audience:<9}  {r.title}"
        )
    if len(shown) > limit:
        typer.echo(f"  ... {len(shown) - limit:,} more (--limit)")


@app.command()
def features(
    params: ParamsOption = None,
    list_: Annotated[
        bool, typer.Option("--list", help="Print the feature catalogue and stop.")
    ] = False,
    only: Annotated[
        str | None, typer.Option(help="Build only 'scoring' (one row per open lead) or 'training'.")
    ] = None,
) -> None:
    """Build point-in-time belief-signal features for the training snapshots and the scoring snapshot."""
    project = _project(params, cohorts=False)
    if list_:
        from features.catalog import build_catalog, catalog_frame, catalog_version

        catalog = build_catalog(project.params.features.windows)
        frame = catalog_frame(catalog)
        for family, rows in frame.groupby("family", sort=False):
            typer.echo(f"\n{family}")
            for r in rows.itertuples():
                sign = {1: "+", -1: "-", 0: " "}[r.direction]
                typer.echo(f"  {sign} {r.name:<38} {r.window:<7} {r.description}")
        typer.echo(
            f"\n{len(catalog)} features, catalogue version {catalog_version(catalog)} (+ raises readiness, - lowers it)"
        )
        return
    from pipelines.features import stage

    if only not in (None, "scoring", "training"):
        raise ReadinessError(f"--only takes 'scoring' or 'training', not {only!r}.")
    s = stage.run(project, (only,) if only else ("scoring", "training"))
    done = []
    if "training" in s:
        tr = s["training"]
        done.append(
            f"training {tr['snapshots']:,} snapshots of {tr['leads']:,} leads at {tr['cutoffs']} cutoffs {tr['first_cutoff']}..{tr['last_cutoff']}"
        )
    if "scoring" in s:
        done.append(f"scoring {s['scoring']['open_leads']:,} open leads at {s['scoring']['as_of']}")
    typer.echo(f"features: {s['features']} features; {'; '.join(done)} ({s['seconds']:.1f}s)")
    states = s.get("scoring", {}).get("leads", {})
    if states:
        typer.echo(
            f"  of {states['leads']:,} leads: {states['open']:,} open (scored), "
            f"{states['closed_by_own_outcome']:,} closed by their own outcome, "
            f"{states['closed_by_account']:,} closed because their account won a deal (not "
            f"scored; a later crossing of theirs is no label), {states['not_yet_created']:,} "
            "created on or after the as-of date"
        )


@app.command()
def labels(params: ParamsOption = None) -> None:
    """Label every training snapshot: did the lead cross each gate within the horizon (backward from revenue)?"""
    from pipelines.labels import stage

    s = stage.run(_project(params))
    for w in s["warnings"]:
        typer.echo(f"warning: {w}", err=True)
    for gate, cohorts in s["gates"].items():
        parts = ", ".join(f"{c} {v['positives']:,}/{v['labelled']:,}" for c, v in cohorts.items())
        typer.echo(f"  {gate:<24} positives/labelled: {parts}")
    when = (
        f"a flat export as of {s['flat_as_of']}"
        if s.get("flat_as_of")
        else f"data up to {s['end_of_data']}, exclusive"
    )
    typer.echo(
        f"labels: {s['snapshots']:,} snapshots labelled for {len(s['gates'])} gates ({when})"
    )
    c = s.get("cohorts") or {}
    if c.get("chosen_from_data"):
        typer.echo(
            f"  cohorts chosen from the data's dates (train.* dates null): training "
            f"{c['train_start']}..{c['train_end']}, validation {c['valid_start']}..{c['valid_end']}, "
            f"test {c['test_start']}..{c['test_end']}"
        )


@app.command()
def train(params: ParamsOption = None) -> None:
    """Train a calibrated model per gate and the baselines; log the run to MLflow and register it as challenger."""
    from pipelines.train import stage

    s = stage.run(_project(params))
    for w in s["warnings"]:
        typer.echo(f"warning: {w}", err=True)
    for gate, info in s["gates"].items():
        if info.get("trained"):
            weight = info.get("lightgbm_weight", 1.0)
            scorer = (
                f"{info['best_iteration']:>4} trees"
                + (f" ({weight:.0%} LightGBM, the rest logistic)" if weight < 1 else "")
                if weight > 0
                else "logistic regression (LightGBM not ahead of it on validation)"
            )
            typer.echo(
                f"  {gate:<24} {scorer}, {info['train_rows']:,} rows, {info['train_positives']:,} positives, calibrated {info['calibration']}"
            )
        elif info.get("crossed_at_creation"):
            typer.echo(f"  {gate:<24} not trained: every lead crosses it at creation (readiness 1)")
        else:
            typer.echo(
                f"  {gate:<24} not trained ({info['train_positives']} positives): scored by its base rate"
            )
    typer.echo(
        f"train: model version {s['model_version']} registered as challenger, run {s['run_id']} ({s['seconds']:.1f}s)"
    )


@app.command()
def evaluate(params: ParamsOption = None) -> None:
    """Evaluate on the test cohort against the baselines (and the truth on simulated data); apply the promotion gate."""
    from pipelines.evaluate import stage

    s = stage.run(_project(params))
    for w in s["warnings"]:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"evaluated by {s['evaluation_method']}")
    typer.echo(
        f"  {'gate':<24} {'AUC':>6} {'logistic':>8} {'yours':>6} {'points':>7} {'truth':>6} {'ratio':>6} {'ECE':>6}  targets"
    )
    for gate, m in s["metrics"].items():
        model = m.get("model", {})
        gt = m.get("ground_truth", {})

        def f(v):
            return f"{v:.3f}" if isinstance(v, float) else "   -"

        met = s["targets"].get(gate, {})
        flags = " ".join(("ok " if v else "MISS ") + k for k, v in met.items())
        # a gate that ships a baseline (the same predictions) is that baseline, not ahead of it
        ships = [
            b
            for b, d in s.get("model_minus_baseline_auc", {}).get(gate, {}).items()
            if d["difference"] == 0 and d["se"] == 0
        ]
        if ships:
            flags += f" (the model is the {' and '.join(ships)} baseline itself)"
        typer.echo(
            f"  {gate:<24} {f(model.get('roc_auc')):>6} {f(m.get('logistic', {}).get('roc_auc')):>8} {f(m.get('your_columns', {}).get('roc_auc')):>6} {f(m.get('points', {}).get('roc_auc')):>7} "
            f"{f(gt.get('truth_auc')):>6} {f(gt.get('model_to_truth_auc_ratio')):>6} {f(model.get('ece')):>6}  {flags}"
        )
    pr = s["promotion"]
    verdict = (
        "promoted to champion"
        if pr["champion_after"] == pr["challenger_version"] and pr["promote"]
        else "not promoted; no champion yet, so it scores PROVISIONALLY"
        if pr.get("provisional")
        else "not promoted"
    )
    # a gate is judged on the snapshots at risk of it whose horizon is over: fewer than all
    judged = ", ".join(
        f"{g} {m['model']['rows']:,}"
        for g, m in s["metrics"].items()
        if "rows" in m.get("model", {})
    )
    typer.echo(
        f"evaluate: {s['test_rows']:,} {'out-of-fold' if s.get('evaluation_method', '').startswith('stratified') else 'test'} snapshots (labelled, per gate: {judged or 'none'}); challenger version {pr['challenger_version']} {verdict} (champion: {pr['champion_after']})"
    )
    for r in pr["reasons"]:
        typer.echo(f"  - {r}")
    timing = s.get("time_to_threshold") or {}
    timed = {g: t for g, t in timing.get("gates", {}).items() if t.get("concordance") is not None}
    if timed:
        typer.echo(
            "  time to threshold, concordance with the test crossings (readiness alone): "
            + ", ".join(
                f"{g} {t['concordance']:.3f} ({t['concordance_readiness_alone']:.3f}; among "
                f"crossings {t['concordance_among_crossings'] or float('nan'):.3f})"
                for g, t in timed.items()
            )
        )
    elif "unknown" in timing:
        typer.echo(f"  time to threshold: unknown ({timing['unknown']})")


@app.command()
def promote(
    params: ParamsOption = None,
    version: Annotated[
        str | None,
        typer.Option(help="Make this registered version the champion (promotion or rollback)."),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List the registered versions and their aliases.")
    ] = False,
) -> None:
    """Show the registered model versions, or make one the champion (rollback is one command)."""
    from models import registry

    project = _project(params)
    name = project.params.train.mlflow.registered_model
    registry.configure(project.root, project.params.train.mlflow.experiment)
    if version is not None:
        previous = registry.set_champion(name, version)
        typer.echo(f"promote: version {version} of '{name}' is now the champion (was {previous}).")
        return
    table = registry.versions(name)
    if table.empty:
        typer.echo(f"promote: no version of '{name}' is registered yet; run `readiness train`.")
        return
    typer.echo(table.to_string(index=False))


@app.command()
def score(params: ParamsOption = None) -> None:
    """Score every open lead with the champion: probabilities, stage, drivers, weakest belief, route, handoff."""
    from pipelines.score import stage

    s = stage.run(_project(params))
    run = s["run"]
    routes = ", ".join(f"{k} {v:,}" for k, v in sorted(s["routes"].items(), key=lambda kv: -kv[1]))
    typer.echo(f"  routes: {routes}")
    for reason, n in s.get("weakest_belief_unknown", {}).items():
        typer.echo(f"  weakest belief unknown for {n:,} leads: {reason}")
    for u in run.get("not_scored", []):
        typer.echo(
            f"  not scored: {u['leads']:,} open leads ({', '.join(u['lead_ids'][:5])}"
            f"{', ...' if u['leads'] > 5 else ''}): {u['reason']} (the commonest: "
            f"{u['commonest_quarantine_reason']})",
            err=True,
        )
    for gate, t in (s.get("time_to_threshold") or {}).items():
        if not isinstance(t, dict):  # the whole run's timing is unknown
            typer.echo(f"  time to threshold unknown: {t}")
        elif "unknown" in t:
            typer.echo(f"  time to threshold {gate}: unknown ({t['unknown']})")
        else:
            within = ", ".join(f"{v:,.0f} within {h}d" for h, v in t["expected_crossings"].items())
            typer.echo(
                f"  time to threshold {gate}: of {t['leads_not_crossed']:,} leads short of it, "
                f"expected {within}"
            )
    for gate, c in (s.get("ladder_capped") or {}).items():
        if c["share"] >= 0.1:  # a few capped leads are the ladder doing its job quietly
            typer.echo(
                f"  p_{gate} shown at {c['shown_at']} for {c['leads']:,} open leads "
                f"({c['share']:.0%}; median cut {c['median_cut']:.3f}): its own model found "
                f"{gate} likelier, and a later gate is never likelier than an earlier one"
            )
    trends = ", ".join(f"{k} {v:,}" for k, v in sorted(s.get("trends", {}).items()))
    if trends:
        typer.echo(f"  trends {run.get('trend_note') or ''}: {trends}")
    wb = s.get("weakest_belief_vs_truth")
    if wb and wb.get("model_accuracy") is not None:
        typer.echo(
            f"  weakest belief = truth's lowest where named ({wb['named_share']:.1%} of leads): model "
            f"{wb['model_accuracy']:.1%}, naive rule {wb['naive_accuracy_where_named']:.1%}"
        )
    if run.get("status") == "provisional":
        typer.echo(
            "PROVISIONAL: no champion yet and this model failed the promotion gate: "
            + "; ".join(run["status_reasons"]),
            err=True,
        )
    typer.echo(
        f"score: run {run['run_id']}: {run['leads']:,} open leads, {run['accounts']:,} accounts as of {run['as_of']} "
        f"with model version {run['model_version']} ({s['seconds']['stage']:.1f}s)"
    )


@app.command()
def publish(
    params: ParamsOption = None,
    rollback: Annotated[
        str | None,
        typer.Option(
            help="Make this published run current again instead of publishing ('previous' = the run before the current one)."
        ),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List the published runs and stop.")
    ] = False,
) -> None:
    """Publish the validated score run to the database (atomic, idempotent) and write the CRM exports."""
    from pipelines.publish import stage

    project = _project(params)
    if list_:
        table, where = stage.runs(project)
        typer.echo(f"published runs in the {where}:")
        typer.echo("  (none)" if table.empty else table.to_string(index=False))
        return
    if rollback is not None:
        was, now, where = stage.rollback(project, rollback)
        typer.echo(f"publish: run {now} is current in the {where} (was {was}).")
        return
    s = stage.run(project)
    what = {
        "published": "published and made current",
        "made_current": "was stored already; made current again",
        "unchanged": "is already the current run; nothing changed",
    }[s["action"]]
    typer.echo(
        f"publish: run {s['run_id']} ({s['lead_rows']:,} leads, {s['account_rows']:,} accounts) {what} "
        f"in the {s['database']} ({s['seconds']['total']:.1f}s); exports in {project.params.publish.exports}/{s['run_id']}/"
    )


@app.command()
def report(params: ParamsOption = None) -> None:
    """Write the leadership report: readiness drivers, where buyers stall, revenue metrics, model trust, routing."""
    from pipelines.report import stage

    s = stage.run(_project(params))
    for note in s["notes"]:
        typer.echo(f"note: {note}", err=True)
    typer.echo(
        f"report: {s['file']} ({s['bytes'] / 1e6:.1f} MB, {len(s['sections'])} sections filled, {s['seconds']:.1f}s)"
    )


@app.command()
def monitor(params: ParamsOption = None) -> None:
    """Is the model still right? Feature and score drift since training, each gate's AUC estimated without labels, and whether to retrain."""
    from pipelines.monitor import stage

    s = stage.run(_project(params))
    for gate, g in s["gates"].items():
        now, then = g["estimate_now"], g["estimate_on_test_cohort"]
        est = "unknown" if now["estimated_auc"] is None else f"{now['estimated_auc']:.3f}"
        was = "-" if then.get("estimated_auc") is None else f"{then['estimated_auc']:.3f}"
        test = "-" if g["test_auc"] is None else f"{g['test_auc']:.3f}"
        typer.echo(
            f"  {gate:<24} score PSI {g['score_psi'] if g['score_psi'] is not None else '-'} ({g['score_drift']}), "
            f"estimated AUC now {est} ({g.get('estimate_compared_with', 'test cohort')}: "
            f"estimated {was}; test AUC {test})"
            + (
                f"  RETRAIN{'' if s.get('retrain_learns_newer') is not False else ' once newer labels arrive'}: "
                f"{'; '.join(g['reasons'])}"
                if g["retrain"]
                else ""
            )
        )
    if s.get("model_age", {}).get("retrain_note"):
        typer.echo(f"  note: {s['model_age']['retrain_note']}")
    cur = s["current"]
    if "compared_leads" in cur:
        typer.echo(
            f"  compared: {cur['compared_leads']:,} of {cur['open_leads']:,} open leads ({cur['compared']})"
        )
    typer.echo(f"  model age: {_age_text(s.get('model_age', {}))}")
    top = ", ".join(f"{f['feature']} ({f['psi']:.2f})" for f in s["features_strong_drift"][:5])
    if top:
        typer.echo(f"  strongest feature drift since training: {top}")
    for r in s.get("published_runs", []):
        if r["state"] == "realised":
            aucs = ", ".join(
                f"{g} {v['roc_auc']:.3f}" if v.get("roc_auc") is not None else f"{g} unknown"
                for g, v in r["gates"].items()
            )
            sales = r["routes"].get("sales_now")
            handoffs = (
                f"; sales_now {sales['crossed_next_gate']:,}/{sales['leads']:,} reached {sales['next_gate']}"
                if sales
                else ""
            )
            typer.echo(f"  run {r['run_id']} (as of {r['as_of']}): realised AUC {aucs}{handoffs}")
        else:
            typer.echo(f"  run {r['run_id']} (as of {r['as_of']}): {r['state']}, {r['reason']}")
    typer.echo(
        "monitor: retraining recommended for "
        + (", ".join(s["retrain"]) if s["retrain"] else "no gate")
        + " (artifacts/metrics/monitor.json)"
    )


def _age_text(age: dict) -> str:
    """The monitor's model age in a sentence."""
    if age.get("days") is None:
        return age.get("reason", "unknown")
    limit = age.get("limit_days")
    return (
        f"learnt from snapshots up to {age['learnt_until']}, {age['days']} days before the leads "
        f"scored now"
        + (f" (limit {limit})" if limit is not None else " (no limit set)")
        + (f": {age['note']}" if age.get("note") else "")
    )


@app.command()
def truth(
    lead: Annotated[
        list[int] | None,
        typer.Option(help="Lead id (repeat for several); without it, the stage runs."),
    ] = None,
    cutoff: Annotated[str | None, typer.Option(help="Cutoff date, YYYY-MM-DD (midnight).")] = None,
    params: ParamsOption = None,
    horizon: Annotated[
        int | None, typer.Option(help="Days after the cutoff [default: 90].")
    ] = None,
    rollouts: Annotated[
        int | None, typer.Option(help="Monte Carlo copies per lead [default: 512].")
    ] = None,
    consume: Annotated[
        int | None,
        typer.Option(
            help="What if each lead downloads this asset_id at the cutoff: both, and the uplift."
        ),
    ] = None,
) -> None:
    """Ground truth of simulated data: the true probability that leads cross each gate within the horizon.

    Without --lead, the stage: the truth on a sample of test snapshots, which evaluate compares
    the models with."""
    import pandas as pd

    from readiness.simulator.truth import true_probabilities

    project = _project(params)
    if not lead:
        given = [
            name
            for name, value in (
                ("--cutoff", cutoff),
                ("--horizon", horizon),
                ("--rollouts", rollouts),
                ("--consume", consume),
            )
            if value is not None
        ]
        if given:
            raise ReadinessError(
                f"{', '.join(given)} need(s) --lead: the leads whose truth to roll out (the stage, "
                "without --lead, takes its settings from evaluate.ground_truth* in params.yaml)."
            )
        from pipelines.truth import stage

        s = stage.run(project)
        typer.echo(
            f"truth: skipped: {s['skipped']}"
            if s["skipped"]
            else f"truth: {s['snapshots']:,} test snapshots, {s['rollouts']} roll-outs each "
            f"({s['seconds']:.1f}s)"
        )
        return
    if cutoff is None:
        raise ReadinessError("--lead needs --cutoff: the day to roll out from (YYYY-MM-DD).")
    horizon = 90 if horizon is None else horizon
    rollouts = 512 if rollouts is None else rollouts
    try:
        when = pd.Timestamp(date.fromisoformat(cutoff))
    except ValueError as exc:
        raise ReadinessError(f"--cutoff {cutoff!r} is not a date (YYYY-MM-DD).") from exc
    queries = pd.DataFrame({"lead_id": lead, "cutoff": when})
    ladder = project.params.ladder
    res = true_probabilities(
        project.params.simulate, queries, ladder, horizon_days=horizon, rollouts=rollouts
    )
    if consume is not None:
        what_if = true_probabilities(
            project.params.simulate,
            queries.assign(asset_id=consume),
            ladder,
            horizon_days=horizon,
            rollouts=rollouts,
        )
        for g in ladder:
            res[f"p_{g}_if_asset_{consume}"] = what_if[f"p_{g}"]
            res[f"uplift_{g}"] = what_if[f"p_{g}"] - res[f"p_{g}"]
            # two independent estimates: their errors add
            res[f"se_uplift_{g}"] = (what_if[f"se_{g}"] ** 2 + res[f"se_{g}"] ** 2) ** 0.5
    typer.echo(res.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


@app.callback()
def _configure(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:  # records of every logger pass the handlers
        handler.addFilter(_ScrubSecrets())


class _ScrubSecrets(logging.Filter):
    """Log lines never show a URL's password (database and tracking URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub_secrets(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def main() -> None:
    """Entry point: run the CLI; user errors become one paragraph on stderr and exit status 2.

    Anything else is a bug: its traceback is printed (exit status 1), with passwords in URLs
    replaced by ***."""
    try:
        app()
    except ReadinessError as exc:
        typer.echo(f"error: {scrub_secrets(str(exc))}", err=True)
        sys.exit(2)
    except Exception:
        typer.echo(scrub_secrets(traceback.format_exc()), err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
