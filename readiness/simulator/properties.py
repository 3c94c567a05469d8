"""CRM properties of the simulated world: the kind of custom fields a real export carries.

Written as the raw `attributes` table and its declarations (readiness/raw/attributes.py), from a
random stream of their own (the buying dynamics and the ground truth are untouched):

- `annual_revenue` (account, numeric, known at creation): follows the account's hidden
  ideal-customer-profile fit, which moves SDR acceptance and wins, beyond what industry and size
  show;
- `current_tool` (account, categorical, known at creation): what the account uses today;
  spreadsheet users need a solution most, and need drives how engaged their people are;
- `employees` (account, numeric, history): a headcount recorded at creation and updated about
  once a year, dated: a change counts only from its date on;
- `sales_rating` (lead, categorical): the grade sales writes on a lead once it has an
  opportunity, A for the deals it won. Declared, as a careless user would, as known at creation:
  it leaks the outcome, and the leakage guard must catch it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from readiness.raw.attributes import AttributeSpec, write_declarations
from readiness.simulator.world import World

TOOLS = ("spreadsheets", "legacy_suite", "point_solution", "none")
# rough headcount per size band (1-50 ... 5000+)
_BAND_HEADCOUNT = np.array([20, 110, 450, 2200, 9000])

SPECS = {
    "annual_revenue": AttributeSpec(
        of="account",
        type="numeric",
        known="at_creation",
        description="Annual revenue of the account (USD, from the CRM)",
    ),
    "current_tool": AttributeSpec(
        of="account",
        type="categorical",
        known="at_creation",
        description="What the account uses today for the job (from the CRM)",
    ),
    "employees": AttributeSpec(
        of="account",
        type="numeric",
        known="history",
        description="Employees at the account (CRM headcount, as of its last update)",
    ),
    "sales_rating": AttributeSpec(
        of="lead",
        type="categorical",
        known="at_creation",
        description="Sales' grade of the lead (A, B, C; from the CRM)",
    ),
}


def crm_properties(world: World, milestones: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The attributes table of the world (ids as in the raw tables: index + 1)."""
    rng = np.random.default_rng([seed, 7_070])
    n_acc = world.n_accounts
    acc_ids = np.arange(n_acc, dtype=np.int64) + 1
    created = (
        world.start
        + pd.to_timedelta(world.acc_created, unit="D")
        + pd.to_timedelta(world.acc_created_sec, unit="s")
    )
    band = world.acc_band.astype(int)
    log_rev = 5.8 + 0.55 * band + 2.0 * (world.acc_fit - 0.5) + rng.normal(0, 0.25, n_acc)
    revenue = np.round(10**log_rev, -3)
    # spreadsheet users need a solution most; the least needy often have one already
    weights = np.stack(
        [
            0.2 + 1.6 * world.acc_need,
            np.full(n_acc, 0.6),
            1.4 - 1.2 * world.acc_need,
            np.full(n_acc, 0.4),
        ],
        axis=1,
    )
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    tool = (rng.random((n_acc, 1)) > cum).sum(axis=1)
    parts = [
        _rows("account", acc_ids, "annual_revenue", revenue.astype(str), None),
        _rows("account", acc_ids, "current_tool", np.array(TOOLS)[tool], None),
    ]
    # headcount at creation, then about yearly updates while the data lasts
    end = world.start + pd.Timedelta(days=world.n_days)
    heads = _BAND_HEADCOUNT[band] * rng.lognormal(0, 0.3, n_acc)
    when = pd.Series(created)
    for _ in range(4):
        keep = (when < end).to_numpy()
        parts.append(
            _rows(
                "account",
                acc_ids[keep],
                "employees",
                np.round(heads[keep]).astype(int).astype(str),
                when[keep].to_numpy(),
            )
        )
        heads = heads * rng.lognormal(0.05, 0.1, n_acc)
        when = when + pd.to_timedelta(rng.integers(300, 430, n_acc), unit="D")
    # the grade sales gives a lead with an opportunity: A when the deal was won
    reached = milestones.loc[milestones["milestone"] == "opportunity", "lead_id"].unique()
    won = set(milestones.loc[milestones["milestone"] == "closed_won", "lead_id"])
    grade = np.array(
        ["A" if lead in won else ("B" if rng.random() < 0.5 else "C") for lead in reached]
    )
    parts.append(_rows("lead", np.asarray(reached, dtype=np.int64), "sales_rating", grade, None))
    return pd.concat(parts, ignore_index=True)


def _rows(entity: str, ids: np.ndarray, name: str, values: np.ndarray, when) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "entity": entity,
            "entity_id": ids,
            "attribute": name,
            "value": values.astype(object),
            "changed_at": pd.to_datetime(when) if when is not None else pd.NaT,
        }
    )


def write_properties(world: World, out: Path, seed: int) -> int:
    """Write attributes.parquet and attributes.json into the raw folder `out`; the row count."""
    milestones = pd.read_parquet(out / "milestones", columns=["lead_id", "milestone"])
    table = crm_properties(world, milestones, seed)
    table["changed_at"] = pd.to_datetime(table["changed_at"]).astype("datetime64[ns]")
    table.to_parquet(out / "attributes.parquet", index=False)
    write_declarations(out, SPECS)
    return len(table)
