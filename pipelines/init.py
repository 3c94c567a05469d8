"""`readiness init`: a project folder for your own export, ready for `dvc repro`.

It writes `params.yaml` (every date null: the first training cutoff and the cohorts are chosen
from the export's own dates; the ladder the mapping's milestones name, in buying order) and
`dvc.yaml`: this checkout's stages with `import` instead of `simulate` and no simulator truth,
each code dependency pointing at this checkout, the mapping file and the export folder as the
import's dependencies (next month's export re-runs the pipeline). A folder outside any DVC
repository also gets `dvc init --no-scm` with analytics off. It refuses a folder that already
holds one of those files: it never overwrites what it did not create.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from readiness.domain import DEFAULT_LADDER
from readiness.errors import ReadinessError
from readiness.params import (
    EvaluateParams,
    FeaturesParams,
    LabelsParams,
    PublishParams,
    TrainParams,
)
from readiness.raw.mapping import Mapping, load_mapping

CHECKOUT = Path(__file__).resolve().parents[1]
# the stages of the checkout's dvc.yaml that only simulated data has
_SIMULATED = ("simulate", "truth")
_SIMULATED_DEPS = ("data/ground_truth", "data/truth")
_OUTPUTS = ("data/", "artifacts/")


def mapped_ladder(mapping: Mapping) -> tuple[str, ...]:
    """The gates of our ladder that the mapping's milestone blocks write, in buying order
    (all of them when it names none: a milestone read as it is written)."""
    blocks = mapping.tables.get("milestones") or []
    named: set[str] = set()
    for block in blocks if isinstance(blocks, list) else [blocks]:
        rule = block.columns.get("milestone")
        if rule is None:
            continue
        if rule.value is not None:
            named.add(str(rule.value))
        elif rule.values is not None:
            named.update(str(v) for v in rule.values.values() if v is not None)
        else:  # the column as written: any gate may appear
            return DEFAULT_LADDER
    return tuple(g for g in DEFAULT_LADDER if g in named) or DEFAULT_LADDER


def project_stages(folder: Path, mapping_file: Path, export: Path, flat: bool) -> dict[str, Any]:
    """The project's dvc.yaml stages, read off this checkout's dvc.yaml (and the import stage
    off examples/olist/dvc.yaml), with paths relative to `folder`."""
    root_file = CHECKOUT / "dvc.yaml"
    example_file = CHECKOUT / "examples" / "olist" / "dvc.yaml"
    if not root_file.is_file() or not example_file.is_file():
        raise ReadinessError(
            f"`readiness init` writes its dvc.yaml from this checkout's ({CHECKOUT}); its "
            "dvc.yaml is missing: install Readiness from a clone (`pip install -e .`)."
        )
    code = os.path.relpath(CHECKOUT, folder.resolve())

    def here(path: str | Path) -> str:
        return os.path.relpath(Path(path).resolve(), folder.resolve())

    def dep(path: str) -> str:
        return path if path.startswith(_OUTPUTS) else f"{code}/{path}"

    imported = copy.deepcopy(yaml.safe_load(example_file.read_text())["stages"]["import"])
    imported["deps"] = [
        *(
            dep(d.removeprefix("../../"))
            for d in imported["deps"]  # the checkout's code (the example's own files aside)
            if d.startswith("../../") and not d.startswith("../../../")
        ),
        here(mapping_file),
        here(export),  # the export itself: a new export re-runs the pipeline
    ]
    stages: dict[str, Any] = {"import": imported}
    for name, stage in yaml.safe_load(root_file.read_text())["stages"].items():
        if name in _SIMULATED or (flat and name == "monitor"):  # no history without dates
            continue
        stage = copy.deepcopy(stage)
        stage["cmd"] = f"readiness {name} --params params.yaml"
        stage["deps"] = [
            dep(d)
            for d in stage.get("deps", [])
            if d not in _SIMULATED_DEPS and not (flat and d.endswith("/monitor.json"))
        ]
        stage["params"] = [
            p
            for p in stage.get("params", [])
            if not (isinstance(p, str) and p.startswith(("evaluate.ground_truth", "simulate")))
        ]
        if name == "report":  # it reads what the import said about the export
            stage["deps"].append("artifacts/metrics/import.json")
        stages[name] = stage
    return stages


def _params_text(
    mapping: Mapping, mapping_file: str, source: str | None, ladder: tuple[str, ...]
) -> str:
    """params.yaml's text: the code's defaults (readiness/params.py), dates null."""
    name = "".join(c if c.isalnum() else "-" for c in mapping.name.lower()).strip("-") or "crm"
    f, t = FeaturesParams(), TrainParams()
    h = LabelsParams().horizon_days
    written = "null              # null = the mapping's own source"
    return f"""# Readiness on your export "{mapping.name}" (written by `readiness init`; README, "Use your
# own data"). Paths are relative to this file. Run everything with `dvc repro` in this folder, or
# each stage with `readiness <stage> --params params.yaml`. Every key and its default: the
# checkout's params.yaml. dvc.yaml names the keys below: keep them (a section may stay empty).

# the milestones your mapping writes, in buying order: a model per gate
ladder: [{", ".join(ladder)}]

import:
  mapping: {json.dumps(mapping_file)}
  source: {written if source is None else json.dumps(source)}

ingest: {{}}

features:
  windows: {list(f.windows)}      # days; every windowed count also has an all-time twin
  cadence_days: {f.cadence_days}          # a training snapshot every {f.cadence_days} days ...
  first_cutoff: null        # ... from the first lead's day + the longest window (null)
  dormant_after_days: {f.dormant_after_days}   # no sign of life for this long: dormant

labels:
  horizon_days: {h}          # a label: crosses the gate within this many days of the cutoff

train:
  # the time split: null = chosen from the data's dates once `features` ran (`readiness labels`
  # prints it); dates (quoted, "YYYY-MM-DD") fix it
  train_start: null
  train_end: null
  valid_start: null
  valid_end: null
  test_start: null
  test_end: null
  seed: {t.seed}
  time_horizons: null       # null: 14, 30 and 60 days, those below the horizon
  mlflow:
    experiment: readiness-{name}
    registered_model: readiness-{name}

evaluate:
  ground_truth: false       # real data: no simulator truth to compare with
  ece_bins: {EvaluateParams().ece_bins}

score:
  routing: {{}}

publish:
  exports: {PublishParams().exports}

report: {{}}

monitor: {{}}
"""


def init_project(folder: Path, mapping_file: Path, source: Path | None = None) -> dict[str, Any]:
    """Write params.yaml and dvc.yaml into `folder` (made when missing) for the export that
    `mapping_file` reads (from `source`, else the mapping's own source folder)."""
    mapping = load_mapping(mapping_file)
    export = (
        source or (mapping_file.parent / mapping.source if mapping.source else mapping_file.parent)
    ).resolve()
    if not export.is_dir():
        raise ReadinessError(
            f"The export folder {export} does not exist: pass --source DIR (the folder that "
            "holds the mapping's files) or set `source:` in the mapping."
        )
    inside = folder.resolve().is_relative_to(export) or export.is_relative_to(folder.resolve())
    if inside:
        raise ReadinessError(
            f"The project folder {folder} and the export folder {export} hold one another: the "
            "import would depend on its own outputs. Put the project beside the export (e.g. "
            "`readiness init ../my_project ...`), or the export's files in a folder of their own."
        )
    repository = next(
        (p for p in (folder.resolve(), *folder.resolve().parents) if (p / ".dvc").is_dir()), None
    )
    if repository is None and shutil.which("dvc") is None:
        raise ReadinessError(
            f"{folder} is in no DVC repository and the `dvc` command is not installed: install "
            "Readiness's dependencies (`pip install -e .`), or run `dvc init` there yourself."
        )
    folder.mkdir(parents=True, exist_ok=True)
    taken = [n for n in ("params.yaml", "dvc.yaml", "dvc.lock") if (folder / n).exists()]
    if taken:
        raise ReadinessError(
            f"{folder} already holds {', '.join(taken)}: `readiness init` never overwrites a "
            "project. Choose a new folder, or move them away first."
        )
    ladder = mapped_ladder(mapping)
    flat = mapping.flat is not None
    stages = project_stages(folder, mapping_file, export, flat)
    mapping_rel = os.path.relpath(mapping_file.resolve(), folder.resolve())
    source_rel = None if source is None else os.path.relpath(export, folder.resolve())
    (folder / "params.yaml").write_text(_params_text(mapping, mapping_rel, source_rel, ladder))
    header = (
        "# Written by `readiness init` from the checkout's dvc.yaml: `import` instead of "
        "`simulate`, no simulator truth.\n# Run with `dvc repro` in this folder.\n"
    )
    (folder / "dvc.yaml").write_text(
        header + yaml.safe_dump({"stages": stages}, sort_keys=False, width=100)
    )
    if repository is None:
        quiet = {**os.environ, "DVC_NO_ANALYTICS": "1", "DO_NOT_TRACK": "1"}
        for args in (["init", "--no-scm", "-q"], ["config", "core.analytics", "false"]):
            subprocess.run(["dvc", *args], cwd=folder, check=True, env=quiet)
        repository = folder.resolve()
    return {
        "folder": str(folder),
        "ladder": list(ladder),
        "flat": flat,
        "stages": list(stages),
        "export": str(export),
        "dvc_repository": str(repository),
    }
