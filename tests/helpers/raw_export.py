"""Small inline exports whose rows a test can read: the seven raw tables (`tiny_tables`, written
as Parquet or CSV by `write`) and a tiny CRM export with its mapping (`CONTACTS`, `DEALS`,
`mapping`), shared by the ingest, mapping and reliability tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

T = pd.Timestamp


def tiny_tables() -> dict[str, pd.DataFrame]:
    """A valid little export: 2 accounts, 3 leads, 2 assets and their activity."""
    return {
        "accounts": pd.DataFrame(
            {
                "account_id": [1, 2],
                "industry": ["software", "retail"],
                "employee_band": ["51-200", "1001-5000"],
                "region": ["emea", "north_america"],
                "created_at": [T("2024-01-02"), T("2024-02-01")],
            }
        ),
        "leads": pd.DataFrame(
            {
                "lead_id": [10, 11, 12],
                "account_id": [1, 1, 2],
                "created_at": [T("2024-01-03"), T("2024-01-20"), T("2024-02-02")],
                "source_channel": ["organic_search", "events", "outbound"],
                "persona": ["champion", "finance", "executive"],
                "seniority": ["manager", "director", "c_level"],
                "email_domain_type": ["business", "business", "free"],
            }
        ),
        "assets": pd.DataFrame(
            {
                "asset_id": [100, 101],
                "title": ["Cost of delay benchmark", "ROI one-pager"],
                "belief_stage": ["urgency", "alignment"],
                "audience": ["any", "finance"],
                "format": ["benchmark", "one_pager"],
                "industry": [None, None],
            }
        ),
        "events": pd.DataFrame(
            {
                "event_id": [1, 2, 3, 4],
                "lead_id": [10, 10, 11, 12],
                "occurred_at": [
                    T("2024-01-05 10:00"),
                    T("2024-01-06 11:00"),
                    T("2024-01-21 09:00"),
                    T("2024-02-03 15:00"),
                ],
                "event_type": ["asset_download", "form_submit", "asset_download", "email_open"],
                "asset_id": pd.array([100, None, 101, None], dtype="Int64"),
                "properties": [None, '{"timeline": "this_quarter"}', None, None],
            }
        ),
        "opportunities": pd.DataFrame(
            {
                "opportunity_id": [500],
                "account_id": [1],
                "primary_lead_id": pd.array([10], dtype="Int64"),
                "created_at": [T("2024-03-01")],
                "closed_at": [T("2024-04-15")],
                "outcome": ["won"],
                "amount": [25000.0],
            }
        ),
        "milestones": pd.DataFrame(
            {
                "lead_id": [10, 10, 10, 10, 10],
                "milestone": [
                    "mql",
                    "sales_accepted",
                    "qualified_conversation",
                    "opportunity",
                    "closed_won",
                ],
                "occurred_at": [
                    T("2024-01-06 11:05"),
                    T("2024-01-15"),
                    T("2024-02-01"),
                    T("2024-03-01"),
                    T("2024-04-15"),
                ],
                "opportunity_id": pd.array([None, None, None, 500, 500], dtype="Int64"),
            }
        ),
        "sales_touches": pd.DataFrame(
            {
                "touch_id": [7],
                "lead_id": [10],
                "occurred_at": [T("2024-01-16 10:00")],
                "touch_type": ["call"],
                "owner_id": ["rep_emea_1"],
            }
        ),
    }


def write(tables: dict[str, pd.DataFrame], folder: Path, fmt: str = "parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            df.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


CONTACTS = """contact_id,created,stage,channel,company
c1,2024-01-05,Lead,web,acme
c2,2024-01-07,MQL,fair,acme
c3,2024-02-01,SQL,web,beta
"""
DEALS = """deal,contact_id,closed,value
d1,c3,2024-03-01 10:00:00,5000
d2,c9,2024-03-02 11:00:00,0
"""


def mapping(**changes) -> dict:
    m = {
        "name": "tiny_crm",
        "files": {"contacts": "contacts.csv", "deals": "deals.csv"},
        "tables": {
            "accounts": {
                "from": "contacts",
                "distinct": True,
                "columns": {
                    "account_id": {"key": "company", "column": "company"},
                    "created_at": {"value": "2024-01-01"},
                },
            },
            "leads": {
                "from": "contacts",
                "columns": {
                    "lead_id": {"key": "contact", "column": "contact_id"},
                    "account_id": {"key": "company", "column": "company"},
                    "created_at": {"column": "created", "date_format": "%Y-%m-%d"},
                    "source_channel": {
                        "column": "channel",
                        "values": {"web": "organic_search", "fair": "events"},
                    },
                },
            },
            "milestones": [
                {
                    "from": "contacts",
                    "columns": {
                        "lead_id": {"key": "contact", "column": "contact_id"},
                        "milestone": {
                            "column": "stage",
                            "values": {"Lead": None, "MQL": "mql", "SQL": "sales_accepted"},
                        },
                        "occurred_at": {"column": "created", "date_format": "%Y-%m-%d"},
                    },
                    "skip_rows_without": ["milestone"],
                },
                {
                    "from": "deals",
                    "columns": {
                        "lead_id": {"key": "contact", "column": "contact_id"},
                        "milestone": {"value": "closed_won"},
                        "occurred_at": {"column": "closed", "date_format": "%Y-%m-%d %H:%M:%S"},
                    },
                },
            ],
            "opportunities": {
                "from": "deals",
                "columns": {
                    "opportunity_id": {"key": "deal", "column": "deal"},
                    "account_id": {"value": 1},
                    "created_at": {"column": "closed", "date_format": "%Y-%m-%d %H:%M:%S"},
                    "closed_at": {"column": "closed", "date_format": "%Y-%m-%d %H:%M:%S"},
                    "outcome": {"value": "won"},
                    "amount": {"column": "value"},
                },
            },
        },
    }
    for path, value in changes.items():
        node = m
        *head, last = path.split(".")
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[last] = value
    return m
