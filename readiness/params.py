"""Typed, validated view of params.yaml: the single source of parameters for every stage.

Each stage reads its own section (the section shares the stage's name). Paths in params.yaml are
relative to the folder that holds the file, never to the working directory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    ConfigDict,
    Field,
    FiniteFloat,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass

from readiness.domain import BELIEFS, DEFAULT_LADDER, EMPLOYEE_BANDS, MILESTONES
from readiness.errors import ReadinessError

_STRICT = ConfigDict(extra="forbid")


@dataclass(config=_STRICT, frozen=True)
class PathsParams:
    raw: str = "data/raw"
    ground_truth: str = "data/ground_truth"  # the simulator's hidden state (simulated data only)
    truth: str = "data/truth"  # its true probabilities on a sample of test snapshots
    validated: str = "data/validated"
    quarantine: str = "data/quarantine"
    features: str = "data/features"
    labels: str = "data/labels"
    models: str = "artifacts/models"
    evaluation: str = "artifacts/evaluation"
    plots: str = "artifacts/plots"
    metrics: str = "artifacts/metrics"
    scores: str = "data/scores"
    reports: str = "artifacts/report"


@dataclass(config=_STRICT, frozen=True)
class SimulateParams:
    """Size, seed and calendar of the built-in B2B journey simulator."""

    seed: Annotated[int, Field(ge=0)] = 7
    n_leads: Annotated[int, Field(ge=10)] = 60_000
    start: date = date(2023, 1, 1)
    end: date = date(2025, 12, 31)
    # Accounts simulated together in one vectorised chunk; results depend on it (RNG streams).
    chunk_leads: Annotated[int, Field(ge=100)] = 50_000
    workers: Annotated[int, Field(ge=1)] = 2
    # Latent beliefs are written to the ground truth every this many days.
    belief_cadence_days: Annotated[int, Field(ge=1)] = 7
    # Strength of cohort drift (0 = none, 1 = default): channel mix, fit and content change.
    drift: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = 1.0
    # A strong, dated change injected on top of the drift (does the monitor see it?): leads
    # created on or after change_on come through another channel mix (mostly paid social and
    # outbound) and engage less (their energy times 1 - change_strength / 2). Null: no change.
    change_on: date | None = None
    change_strength: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 1.0

    @model_validator(mode="after")
    def _check(self) -> SimulateParams:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.change_on is not None and not self.start < self.change_on <= self.end:
            raise ValueError("simulate.change_on must fall after start and not after end")
        return self


@dataclass(config=_STRICT, frozen=True)
class IngestParams:
    """Where raw tables come from and how strictly they are checked."""

    # Folder of raw tables (Parquet files, Parquet folders or CSV files named after the table).
    source: str = "data/raw"
    # Timestamps after this are "in the future" and quarantined; null means the time of ingest.
    max_timestamp: date | None = None
    # Rows validated per batch for large tables (bounded memory).
    batch_rows: Annotated[int, Field(ge=1)] = 2_000_000
    # A table losing more than this share of its rows to quarantine stops the stage (after the
    # quarantine and the report are written): usually a mapping problem. 1 accepts any loss.
    max_quarantined_share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.5


@dataclass(config=_STRICT, frozen=True)
class FeaturesParams:
    """Snapshots and belief-signal features."""

    # windows (days) of the windowed counts; every windowed feature also has an all-time twin
    windows: tuple[int, ...] = (7, 30, 90)
    # training snapshots: a cutoff every cadence_days from first_cutoff to last_cutoff; null:
    # the data's first day plus the longest window (at most a sixth of the data's span), so
    # the first cutoff's leads have had time to act
    cadence_days: Annotated[int, Field(ge=1)] = 14
    first_cutoff: date | None = None
    last_cutoff: date | None = None  # null = the end of the data
    # a lead with no sign of life for this many days is dormant: no training snapshot
    dormant_after_days: Annotated[int, Field(ge=1)] = 120
    # a lead closes when its account wins a deal (DESIGN.md); false: only its own outcome closes
    # it (contact-level exports, where colleagues of a customer go on to buy on their own)
    account_win_closes_leads: bool = True
    # the share of dormant (lead, cutoff) pairs also built, chosen by a fixed hash: the train
    # stage recalibrates dormant leads' probabilities on them (models/dormant.py); 0 = none
    dormant_sample: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.2
    # ... and at least this many of them (all there are when fewer): a small export's 20 % held
    # too few crossings to recalibrate on (a trial's 1,600 dormant test snapshots, 0 crossed
    # where 6.7 were expected)
    dormant_min_snapshots: Annotated[int, Field(ge=0)] = 50_000
    # scoring snapshot: one row per open lead at this date; null = the end of the data
    as_of: date | None = None
    # time constant (days) of the recency-weighted sums
    recency_days: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 30.0
    # employee bands outside the ideal customer profile (a disqualifier)
    out_of_profile_bands: tuple[str, ...] = ("1-50",)
    # attributes declared `known: at_export` (current values that may reflect the outcome) that
    # may still be used for training, by name; every output then says so
    accept_at_export: tuple[str, ...] = ()
    # training build: "window" (union + cumulative windows) or "join" (equi-join + day filter +
    # group by);
    # both give the same numbers, see features/engine.py and benchmarks/feature_build.py
    training_strategy: str = "window"
    # events per bucket of the training build (bounded memory); buckets are groups of accounts
    bucket_events: Annotated[int, Field(ge=1)] = 8_000_000
    threads: Annotated[int, Field(ge=1)] = 2
    memory_limit: str = "4GB"

    @model_validator(mode="after")
    def _check(self) -> FeaturesParams:
        if (
            not self.windows
            or any(w < 1 for w in self.windows)
            or len(set(self.windows)) != len(self.windows)
        ):
            raise ValueError("windows are distinct positive numbers of days")
        if self.cadence_days < 1 or self.dormant_after_days < 1 or self.recency_days <= 0:
            raise ValueError("cadence_days, dormant_after_days and recency_days must be positive")
        if (
            self.last_cutoff is not None
            and self.first_cutoff is not None
            and self.last_cutoff < self.first_cutoff
        ):
            raise ValueError("last_cutoff must not be before first_cutoff")
        unknown = set(self.out_of_profile_bands) - set(EMPLOYEE_BANDS)
        if unknown:
            raise ValueError(
                f"unknown employee band(s) {sorted(unknown)}; known: {list(EMPLOYEE_BANDS)}"
            )
        if self.training_strategy not in ("join", "window"):
            raise ValueError("training_strategy is 'join' or 'window'")
        return self


@dataclass(config=_STRICT, frozen=True)
class LabelsParams:
    """Labels: what counts as crossing a gate, backward from revenue."""

    horizon_days: Annotated[int, Field(ge=1)] = 90
    # gates whose crossing counts only if the lead's account wins a deal within follow_through_days
    revenue_anchored: tuple[str, ...] = ()
    follow_through_days: Annotated[int, Field(ge=1)] = 180

    @model_validator(mode="after")
    def _check(self) -> LabelsParams:
        if self.horizon_days < 1 or self.follow_through_days < 1:
            raise ValueError("horizon_days and follow_through_days must be positive")
        return self


@dataclass(config=_STRICT, frozen=True)
class LightGBMParams:
    learning_rate: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.05
    num_leaves: Annotated[int, Field(ge=2)] = 31
    min_child_samples: Annotated[int, Field(ge=1)] = 100
    feature_fraction: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.8
    bagging_fraction: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.8
    bagging_freq: Annotated[int, Field(ge=0)] = 1
    lambda_l2: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    n_estimators: Annotated[int, Field(ge=1)] = 2000
    early_stopping_rounds: Annotated[int, Field(ge=1)] = 30
    # early stopping never keeps fewer trees than this (a drifting validation cohort can stop
    # LightGBM after a handful of trees)
    min_rounds: Annotated[int, Field(ge=1)] = 20


@dataclass(config=_STRICT, frozen=True)
class MLflowParams:
    experiment: str = "readiness"
    registered_model: str = "readiness"


@dataclass(config=_STRICT, frozen=True)
class TrainParams:
    """The time split, the gate models and the baselines."""

    # cohorts are ranges of cutoff dates (inclusive); gaps between them must be >= one horizon.
    # All six null (the default): chosen from the data's dates once the features stage has
    # built its cutoffs (`choose_cohorts`)
    train_start: date | None = None
    train_end: date | None = None
    valid_start: date | None = None
    valid_end: date | None = None
    test_start: date | None = None
    test_end: date | None = None
    seed: Annotated[int, Field(ge=0)] = 7
    # isotonic | sigmoid | auto (isotonic with at least 300 positives to calibrate on, else sigmoid)
    calibration: str = "auto"
    # belief and intent counts may only raise readiness (LightGBM monotone constraints)
    monotone_beliefs: bool = True
    # training rows per gate; beyond this negatives are sampled (and weighted back)
    max_train_rows: Annotated[int, Field(ge=1)] = 3_000_000
    # fewer positives than this in the training cohort: the gate is not trained (base rate only)
    min_positives: Annotated[int, Field(ge=1)] = 50
    lightgbm: LightGBMParams = LightGBMParams()
    # the regressions' strengths C (scikit-learn's inverse penalty) tried per gate: each keeps
    # the one whose fit ranks the stop rows best (one value: that C, no choice)
    logistic_c: tuple[Annotated[float, Field(gt=0, allow_inf_nan=False)], ...] = (
        1.0,
        0.1,
        0.01,
        0.001,
    )

    @field_validator("logistic_c", mode="before")
    @classmethod
    def _one_c_or_many(cls, c: object) -> object:
        if isinstance(c, int | float):
            return (c,)
        if isinstance(c, list | tuple) and not c:
            raise ValueError("name at least one strength C")
        return c

    logistic_max_rows: Annotated[int, Field(ge=1)] = 500_000
    # per gate, the logistic regression on every feature is the scorer unless LightGBM, a blend of
    # the two or the regression on the user's own columns raises the validation (stop) cohort's
    # ROC AUC by at least blend_min_gain, and by more than blend_confidence_z DeLong standard
    # errors of the paired difference (1.96: its 95 % interval excludes 0, the evaluation's test)
    blend_min_gain: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.002
    blend_confidence_z: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = 1.96
    # the regressions give a days-since feature (999 = never) a "never" indicator, its log term
    # among the rows where the thing happened: a Salesforce trial's baseline rose 0.80 -> 0.87
    # and the shipped first gate 0.874 -> 0.877 (a plain regression with the flag: 0.892). Off by
    # default: on the default simulation the regression without belief counts then ranks the
    # sales gate as well as with them, so no weakest belief is shown (belief_signal)
    never_indicators: bool = False
    # a flat export (no dates) is evaluated by stratified cross-validation grouped by account
    cv_folds: Annotated[int, Field(ge=2, le=20)] = 5
    # warn when a gate's positive rate differs by more than this factor between cohorts, or a
    # feature's population stability index between the training and test cohorts exceeds shift_psi
    shift_rate_ratio: Annotated[float, Field(gt=1, allow_inf_nan=False)] = 2.0
    shift_psi: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.25
    # the leakage guard (models/guard.py): a feature whose AUC alone on the training cohort
    # reaches leak_max_single_auc, or a user's attribute filled for that much larger a share of
    # positives than of negatives, is flagged; flagged attributes are left out unless named here
    leak_max_single_auc: Annotated[float, Field(gt=0.5, le=1, allow_inf_nan=False)] = 0.97
    leak_max_fill_gap: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.8
    # an attribute whose AUC alone reaches this (but not the flag) is kept and named a suspect
    leak_suspect_auc: Annotated[float, Field(gt=0.5, le=1, allow_inf_nan=False)] = 0.9
    admit_attributes: tuple[str, ...] = ()
    # the shift screen (models/guard.py): a feature whose population stability index between the
    # training and test cohorts exceeds this (most test rows lie where few training rows were: a
    # model would extrapolate on it) is left out of training unless named in admit_shifted
    # (a feature name); null turns the screen off. It reads the test rows' features, never labels
    shift_exclude_psi: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = 1.0
    admit_shifted: tuple[str, ...] = ()
    # the hand-written score marketing ops would use: points per unit of a feature, capped
    points: dict[str, FiniteFloat] = field(default_factory=dict)
    points_cap: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 5.0
    # time to threshold (models/timing.py): the probability of crossing each gate within each of
    # these days (each below labels.horizon_days, whose probability is readiness itself); null:
    # those of 14, 30 and 60 below the horizon
    time_horizons: tuple[int, ...] | None = None
    mlflow: MLflowParams = MLflowParams()

    @model_validator(mode="after")
    def _check(self) -> TrainParams:
        dates = {k: getattr(self, k) for k in COHORT_DATES}
        unset = [k for k, v in dates.items() if v is None]
        if unset and len(unset) < len(dates):
            raise ValueError(
                f"set all six cohort dates ({', '.join(COHORT_DATES)}) or none (then they are "
                f"chosen from the data's dates); {', '.join(unset)} not set (null)"
            )
        a, b, c, d, e, f = dates.values()
        if not unset and not (a <= b < c <= d < e <= f):
            raise ValueError(
                "cohort dates must be ordered: train_start <= train_end < valid_start <= valid_end < test_start <= test_end"
            )
        if self.calibration not in ("isotonic", "sigmoid", "auto"):
            raise ValueError("calibration is isotonic, sigmoid or auto")
        return self


DEFAULT_TIME_HORIZONS = (14, 30, 60)
COHORT_DATES = ("train_start", "train_end", "valid_start", "valid_end", "test_start", "test_end")
# the days a chosen validation or test cohort spans: the widest that leaves a training cohort
# at least twice as long as the two together
_COHORT_WIDTHS = (56, 42, 28, 14, 7, 0)


def choose_cohorts(calendar: dict[str, Any], horizon_days: int, follow_days: int = 0) -> dict:
    """The time split chosen from the data's dates, for train.* dates left null.

    `calendar` is the features stage's (catalog.json): the training cutoffs from first_cutoff to
    last_cutoff every cadence_days, and the end of the data (the day after the last record). The
    test cohort is the newest cutoffs whose labels are complete (cutoff + horizon, + the
    follow-through when a gate is revenue-anchored, within the data), spanning up to 8 weeks;
    the validation cohort the same span ending at least one horizon before it; the training
    cohort every cutoff from the first to one horizon before the validation, at least twice as
    long as the other two together (their spans shrink on a short export, to one test cutoff
    and two validation cutoffs: one stops the boosters early, the other calibrates). On the
    default simulation this is the split params.yaml writes out.
    """
    first = date.fromisoformat(str(calendar["first_cutoff"]))
    last = date.fromisoformat(str(calendar["last_cutoff"]))
    end = date.fromisoformat(str(calendar["end_of_data"]))
    step = int(calendar["cadence_days"])
    cutoffs = [first + timedelta(days=k) for k in range(0, (last - first).days + 1, step)]
    complete = [c for c in cutoffs if (end - c).days >= horizon_days + follow_days]
    for width in _COHORT_WIDTHS if complete else ():
        test = [c for c in cutoffs if 0 <= (complete[-1] - c).days <= width]
        valid_end = [c for c in cutoffs if (test[0] - c).days >= horizon_days]
        if not valid_end:
            continue
        # two cutoffs at least: one stops the boosters early, the other calibrates
        valid = [c for c in cutoffs if 0 <= (valid_end[-1] - c).days <= max(width, step)]
        if len(valid) < 2:
            continue
        train_end = [c for c in cutoffs if (valid[0] - c).days >= horizon_days]
        spans = (valid[-1] - valid[0]).days + (test[-1] - test[0]).days
        if not train_end or (train_end[-1] - cutoffs[0]).days < 2 * spans:
            continue
        return dict(
            zip(
                COHORT_DATES,
                (cutoffs[0], train_end[-1], valid[0], valid[-1], test[0], test[-1]),
                strict=True,
            )
        )
    waiting = f" plus the {follow_days}-day follow-through" * bool(follow_days)
    raise ReadinessError(
        f"The training cutoffs run {first} .. {last} every {step} days and the data end on "
        f"{end}: too short for a time split with a {horizon_days}-day horizon{waiting} (a "
        "training, a validation and a test cohort, one horizon apart, the test's labels "
        "complete: two horizons and four cutoffs at the least). Shorten labels.horizon_days or "
        "features.cadence_days, move features.first_cutoff earlier, set the six train.* cohort "
        "dates yourself, or read the export flat (`flat:` in the mapping: cross-validated)."
    )


def with_cohorts(params: Params, catalog: dict[str, Any]) -> Params:
    """`params` with the train.* cohort dates chosen from the features' calendar when they are
    null (unchanged when they are set, on a flat export, or before the features stage ran)."""
    calendar = catalog.get("calendar")
    if params.train.train_start is not None or catalog.get("flat") or not calendar:
        return params
    return replace(params, train=replace(params.train, **cohorts_for(params, calendar)))


def cohorts_for(params: Params, calendar: dict[str, Any]) -> dict[str, Any]:
    """`choose_cohorts` with the project's horizon (and follow-through, for anchored gates)."""
    follow = params.labels.follow_through_days if params.labels.revenue_anchored else 0
    return choose_cohorts(calendar, params.labels.horizon_days, follow)


def cohort_dates(t: TrainParams) -> TrainParams:
    """`t`, whose cohort dates a stage is about to use: an error when they are still null."""
    if t.train_start is None:
        raise ReadinessError(
            "The train.* cohort dates are null, to be chosen from the data's dates, and the "
            "features stage has not chosen them yet (paths.features/catalog.json has no "
            "calendar): run `readiness features` first, or set the six dates in params.yaml."
        )
    return t


@dataclass(config=_STRICT, frozen=True)
class PromotionParams:
    # the challenger becomes champion only if no gate's test AUC is more than this below the
    # champion's on the same (newest) cohort, and every gate's ECE is under max_ece
    max_auc_drop: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.005
    max_ece: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.03
    # ... and no gate is worse than one of its baselines (the logistic regressions, the points
    # score) beyond noise: the upper end of the DeLong 95 % interval of model - baseline below 0
    never_behind_baselines: bool = True


@dataclass(config=_STRICT, frozen=True)
class EvaluateParams:
    """Evaluation on the test cohort, the ground truth of simulated data and promotion."""

    ece_bins: Annotated[int, Field(ge=2)] = 10
    segments: tuple[str, ...] = ("industry", "employee_band", "source_channel")
    # simulated data only: compare with the simulator's true probabilities on a sample of test
    # snapshots (all positives up to ground_truth_positives per gate, plus random negatives)
    ground_truth: bool = True
    # at least 2: the truth's standard error needs two roll-outs
    ground_truth_rollouts: Annotated[int, Field(ge=2)] = 160
    ground_truth_positives: Annotated[int, Field(ge=1)] = 400
    ground_truth_negatives: Annotated[int, Field(ge=1)] = 600
    # your own columns alone ranking a gate at this test AUC or more are implausible for values
    # known at a lead's creation: one is probably filled in after the outcome; said, and such a
    # model is not promoted (raise the bound if your columns are truly that strong)
    implausible_your_columns_auc: Annotated[float, Field(gt=0.5, le=1, allow_inf_nan=False)] = 0.95
    promotion: PromotionParams = PromotionParams()


@dataclass(config=_STRICT, frozen=True)
class DisqualifierRule:
    """A lead is disqualified when `feature` (from the scoring snapshot) is at least `at_least`."""

    feature: str
    reason: str
    at_least: Annotated[float, Field(allow_inf_nan=False)] = 1.0


@dataclass(config=_STRICT, frozen=True)
class AssignmentParams:
    """Who owns a sales_now lead.

    rule: account_owner (the rep of the account's latest sales touch, else region_round_robin),
    region_round_robin (the region's reps in turn, by account so an account keeps one owner), or
    round_robin (all reps in turn, by account).
    """

    rule: str = "account_owner"
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fallback: tuple[str, ...] = ("sales_queue",)

    @model_validator(mode="after")
    def _check(self) -> AssignmentParams:
        if self.rule not in ("account_owner", "region_round_robin", "round_robin"):
            raise ValueError("rule is account_owner, region_round_robin or round_robin")
        if not self.fallback or any(not o for o in self.owners.values()):
            raise ValueError("fallback and every region's owner list need at least one owner")
        return self


@dataclass(config=_STRICT, frozen=True)
class SlaParams:
    """How long sales has to act on a sales_now lead, in business hours."""

    hours: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 4.0
    timezone: str = "UTC"
    # business hours are [day_start, day_end) on working days
    day_start: Annotated[int, Field(ge=0, le=23)] = 9
    day_end: Annotated[int, Field(ge=1, le=24)] = 17
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    holidays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> SlaParams:
        if not (0 <= self.day_start < self.day_end <= 24) or self.hours <= 0:
            raise ValueError("0 <= day_start < day_end <= 24 and hours > 0")
        if not self.working_days or any(d not in range(7) for d in self.working_days):
            raise ValueError("working_days are weekday numbers 0 (Monday) .. 6, at least one")
        return self


@dataclass(config=_STRICT, frozen=True)
class RoutingParams:
    """Routes, in the order they are tried: disqualified, with_sales, sales_now,
    dormant_check_in, nurture_<weakest belief>."""

    # the gate at which sales takes over; empty: qualified_conversation when the ladder has it,
    # else the ladder's second gate (its only one for a one-gate ladder)
    sales_gate: str = ""
    # the route of a nurture lead whose weakest belief is unknown (no belief-tagged content): a
    # general nurture track that makes no belief claim; "nurture_" and a name of your own
    general_route: Annotated[str, Field(pattern=r"^nurture_[a-z0-9_]+$")] = "nurture_general"
    # name a lead's weakest belief only where the belief counts rank the sales gate's validation
    # rows better than the other features alone, beyond noise (train's belief_signal); false
    # names it wherever the data has belief-tagged content
    belief_evidence: bool = True
    # its next asset: what converting leads of the lead's persona and industry consumed, each
    # segment's share shrunk towards everyone's by this many converting leads' worth
    similar_prior_leads: Annotated[int, Field(ge=0)] = 20
    disqualifiers: tuple[DisqualifierRule, ...] = ()
    # no engaged action for this many days and readiness for the next gate below dormant_below
    dormant_after_days: Annotated[int, Field(ge=1)] = 60
    dormant_below: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.05
    # what may have tipped a lead, most telling first, looked for in the last trigger_days
    trigger_events: tuple[str, ...] = (
        "demo_request",
        "pricing_page_view",
        "form_submit",
        "webinar_attended",
        "asset_download",
    )
    trigger_days: Annotated[int, Field(ge=1)] = 30
    # recommended opener per trigger event type ({title}, {date}, {industry} are filled in);
    # "default" when the trigger is a driver, not an event
    openers: dict[str, str] = field(
        default_factory=lambda: {"default": "What is your team hoping to change this quarter?"}
    )
    # problem hypothesis per belief the lead engaged with most ({title}, {industry}, {persona})
    hypotheses: dict[str, str] = field(
        default_factory=lambda: {
            b: "Engaged most with '{title}'."
            for b in ("urgency", "category", "capability", "alignment", "general")
        }
    )
    assignment: AssignmentParams = AssignmentParams()
    sla: SlaParams = SlaParams()

    @model_validator(mode="after")
    def _check(self) -> RoutingParams:
        from readiness.domain import BELIEF_STAGES, EVENT_TYPES

        if self.dormant_after_days < 1 or not (0 <= self.dormant_below <= 1):
            raise ValueError("dormant_after_days >= 1 and dormant_below in [0, 1]")
        bad = [e for e in self.trigger_events if e not in EVENT_TYPES]
        if bad:
            raise ValueError(f"unknown trigger event type(s) {bad}; known: {list(EVENT_TYPES)}")
        if "default" not in self.openers:
            raise ValueError("openers needs a 'default' template")
        missing = [b for b in BELIEF_STAGES if b not in self.hypotheses]
        if missing:
            raise ValueError(
                f"hypotheses needs a template for every belief stage, missing {missing}"
            )
        return self


@dataclass(config=_STRICT, frozen=True)
class ScoreParams:
    """Scoring every open lead: the model, thresholds, drivers and routing."""

    # registry alias or version number of the model to score with
    model: str = "champion"
    # readiness stage: the furthest gate whose probability reaches its threshold
    thresholds: dict[str, float] = field(default_factory=dict)
    top_drivers: Annotated[int, Field(ge=1)] = 3
    # rows of the scoring snapshot on which path attributions are compared with exact TreeSHAP
    shap_check_rows: Annotated[int, Field(ge=1)] = 2000
    seed: Annotated[int, Field(ge=0)] = 7
    routing: RoutingParams = RoutingParams()

    @model_validator(mode="after")
    def _check(self) -> ScoreParams:
        if any(not (0 < v <= 1) for v in self.thresholds.values()):
            raise ValueError("thresholds are probabilities in (0, 1]")
        if self.top_drivers < 1:
            raise ValueError("top_drivers must be at least 1")
        return self


@dataclass(config=_STRICT, frozen=True)
class PublishParams:
    """Where validated scores go. The database URL comes from the environment variable named
    here (never from this file); without it, the embedded SQLite file is used."""

    url_env: str = "READINESS_DATABASE_URL"
    sqlite_path: str = "data/warehouse/readiness.db"
    schema: str | None = None  # a PostgreSQL schema for the tables (created when missing)
    table_prefix: str = "readiness_"
    exports: str = "data/exports"
    chunk_rows: Annotated[int, Field(ge=1)] = 50_000


@dataclass(config=_STRICT, frozen=True)
class ReportParams:
    """The leadership report."""

    # test-cohort leads per gate whose attributions make the drivers section
    driver_rows: Annotated[int, Field(ge=1)] = 20_000
    # of those, leads on which the drivers' ranking is compared with exact TreeSHAP
    shap_rows: Annotated[int, Field(ge=1)] = 1_000
    seed: Annotated[int, Field(ge=0)] = 7


@dataclass(config=_STRICT, frozen=True)
class MonitorParams:
    """`readiness monitor`: drift of the current scoring snapshot from the model's training
    cohort, and a label-free estimate of each gate's AUC on the current leads."""

    # training-cohort snapshots sampled as the reference distribution
    reference_rows: Annotated[int, Field(ge=100)] = 100_000
    bins: Annotated[int, Field(ge=2, le=100)] = 10
    # label sets sampled from the calibrated probabilities for the estimate's band
    draws: Annotated[int, Field(ge=10)] = 200
    # retraining is recommended for a gate whose score distribution shifts by at least this PSI,
    # or whose estimated AUC on the current leads is below the same estimate on its test cohort
    # (or whose realised AUC on a past run is below its test AUC) by more than auc_margin
    score_psi_alert: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.25
    auc_margin: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.02
    # ... or the newest snapshot the model learnt from is more than this many days before the
    # leads scored now (a model that has not seen a year of buyers; null: no age limit)
    max_model_age_days: Annotated[int, Field(ge=1)] | None = 365
    seed: Annotated[int, Field(ge=0)] = 7


@dataclass(config=_STRICT, frozen=True)
class ImportParams:
    """Bring your own export (params.yaml section `import`): the mapping file that turns the
    export's files into the raw tables at `paths.raw`, and optionally where the files are (else
    the mapping's own `source`, relative to the mapping file)."""

    mapping: str | None = None
    source: str | None = None


@dataclass(config=_STRICT, frozen=True)
class Params:
    """The whole params.yaml."""

    ladder: tuple[str, ...] = DEFAULT_LADDER
    paths: PathsParams = PathsParams()
    simulate: SimulateParams = SimulateParams()
    ingest: IngestParams = IngestParams()
    features: FeaturesParams = FeaturesParams()
    labels: LabelsParams = LabelsParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    score: ScoreParams = ScoreParams()
    publish: PublishParams = PublishParams()
    report: ReportParams = ReportParams()
    monitor: MonitorParams = MonitorParams()
    importer: ImportParams = ImportParams()  # the `import` section (a Python keyword)

    @model_validator(mode="after")
    def _check_split(self) -> Params:
        t, h = self.train, self.labels.horizon_days
        gaps = {
            "train -> valid": (t.train_end, t.valid_start),
            "valid -> test": (t.valid_end, t.test_start),
        }
        for name, (end, start) in gaps.items():
            if end is not None and start is not None and (start - end).days < h:
                raise ValueError(
                    f"train: the gap {name} ({end} .. {start}) is {(start - end).days} days, shorter than the "
                    f"{h}-day horizon: labels would overlap. Move the later cohort's start."
                )
        hs = self.train.time_horizons
        if hs is None:  # the default follows the horizon
            derived = tuple(x for x in DEFAULT_TIME_HORIZONS if x < h)
            object.__setattr__(self, "train", replace(self.train, time_horizons=derived))
        elif any(x <= 0 or x >= h for x in hs) or list(hs) != sorted(set(hs)):
            raise ValueError(
                f"train.time_horizons {list(hs)} must be distinct days in ascending order, each "
                f"above 0 and below labels.horizon_days ({h}); e.g. [14, 30, 60]"
            )
        unknown = [g for g in self.labels.revenue_anchored if g not in self.ladder]
        if unknown:
            raise ValueError(
                f"labels.revenue_anchored names gate(s) {unknown} that are not on the ladder"
            )
        bad = [g for g in self.score.thresholds if g not in self.ladder]
        missing = [g for g in self.ladder if g not in self.score.thresholds]
        if bad or (self.score.thresholds and missing):
            raise ValueError(
                f"score.thresholds needs exactly the ladder's gates (unknown {bad}, missing {missing})"
            )
        routing = self.score.routing
        if not routing.sales_gate:  # the default follows the ladder
            default = (
                "qualified_conversation"
                if "qualified_conversation" in self.ladder
                else self.ladder[min(1, len(self.ladder) - 1)]
            )
            score = replace(self.score, routing=replace(routing, sales_gate=default))
            object.__setattr__(self, "score", score)  # frozen: set once, while validating
        elif routing.sales_gate not in self.ladder:
            raise ValueError(
                f"score.routing.sales_gate {routing.sales_gate!r} is not on the ladder "
                f"{list(self.ladder)}: set it to one of those gates, or remove it to use the "
                "default (qualified_conversation, or the ladder's second gate without it)"
            )
        belief_routes = [f"nurture_{b}" for b in BELIEFS]
        if routing.general_route in belief_routes:
            raise ValueError(
                f"score.routing.general_route {routing.general_route!r} is a belief route "
                f"({', '.join(belief_routes)}): the general route makes no belief claim; name it "
                "otherwise, e.g. nurture_general"
            )
        return self

    @field_validator("ladder")
    @classmethod
    def _check_ladder(cls, ladder: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in ladder if m not in MILESTONES]
        if unknown:
            raise ValueError(f"unknown milestone(s) {unknown}; known: {list(MILESTONES)}")
        if len(set(ladder)) != len(ladder) or len(ladder) < 1:
            raise ValueError("the ladder lists each milestone once, at least one")
        return ladder


class ProjectParams:
    """Params plus where they came from, so relative paths resolve against the params file."""

    def __init__(
        self, params: Params, path: Path, raw: dict[str, Any], *, catalog: Path | None = None
    ):
        self.params_as_written = params
        self.path = path
        self.root = path.parent
        self._raw = raw
        self._catalog = catalog
        self._chosen: tuple[tuple[int, int, int], Params] | None = None

    @property
    def params(self) -> Params:
        """The params; null train.* cohort dates chosen from the calendar the features stage
        wrote to `catalog` (`with_cohorts`), read again whenever it changes. Left null before
        the features ran, and without a catalog (the stages up to features, which write that
        calendar, load without one: an older calendar cannot stop them)."""
        written = self.params_as_written
        catalog = self._catalog
        if catalog is None or written.train.train_start is not None:
            return written
        try:
            stat = catalog.stat()
        except FileNotFoundError:
            return written
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._chosen is None or self._chosen[0] != stamp:
            self._chosen = (stamp, with_cohorts(written, json.loads(catalog.read_text())))
        return self._chosen[1]

    @property
    def cohorts_chosen(self) -> bool:
        """Whether the train.* cohort dates are chosen from the data (null in the file)."""
        return not (self._raw.get("train") or {}).get("train_start")

    def resolve(self, relative: str | Path) -> Path:
        """A path from params.yaml (or the CLI) resolved against the params file's folder."""
        p = Path(relative)
        return p if p.is_absolute() else (self.root / p)

    def section_hash(self, *sections: str) -> str:
        """A short, stable hash of some params sections (for run ids and provenance)."""
        payload = {s: self._raw.get(s) for s in sections} if sections else self._raw
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def as_flat_dict(self) -> dict[str, Any]:
        """Every parameter as `section.key` -> value (what MLflow logs)."""
        flat: dict[str, Any] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else k, v)
            else:
                flat[prefix] = value

        walk("", asdict(self.params))
        return flat


def find_params_file(start: Path | None = None) -> Path:
    """params.yaml of the project that holds `start` (default: this package's project)."""
    candidates = []
    if start is not None:
        candidates.extend([start, *start.resolve().parents])
    candidates.append(Path(__file__).resolve().parents[1])
    for folder in candidates:
        if (folder / "params.yaml").is_file():
            return folder / "params.yaml"
    raise ReadinessError(
        "No params.yaml found. Run from a Readiness project folder or pass --params PATH."
    )


def load_params(path: Path | str | None = None, *, cohorts: bool = True) -> ProjectParams:
    """Read and validate params.yaml; every problem names the key and the file. `cohorts`:
    whether null train.* cohort dates are chosen from the data (`ProjectParams.params`)."""
    path = Path(path) if path is not None else find_params_file(Path.cwd())
    if not path.is_file():
        raise ReadinessError(f"Params file {path} does not exist. Pass --params PATH.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())  # one paragraph; also tags like !!python/object
        raise ReadinessError(f"Params file {path} is not valid YAML: {detail}") from exc
    if not isinstance(raw, dict):
        raise ReadinessError(f"Params file {path} must hold a mapping of sections.")
    sections = dict(raw)
    if "import" in sections:
        sections["importer"] = sections.pop("import")
    try:
        params = Params(**sections)
    except ValidationError as exc:
        problems = "; ".join(
            # a check of the whole file has no key; pydantic's "Value error, " says nothing
            ".".join(str(x) for x in err["loc"])
            + ": " * bool(err["loc"])
            + str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ReadinessError(f"Params file {path} is invalid: {problems}.") from exc
    except TypeError as exc:
        raise ReadinessError(f"Params file {path} is invalid: {exc}.") from exc
    # the features stage's catalogue, whose calendar chooses null cohort dates
    catalog = path.resolve().parent / params.paths.features / "catalog.json"
    return ProjectParams(params, path.resolve(), raw, catalog=catalog if cohorts else None)
