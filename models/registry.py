"""MLflow tracking, the model registry, aliases and the promotion gate.

Runs go to the tracking URI in MLFLOW_TRACKING_URI, or to a local SQLite store next to
params.yaml (mlflow.db, artifacts in mlartifacts/). All gates are registered together as one
MLflow pyfunc model that the standard loader (`mlflow.pyfunc.load_model("models:/readiness@champion")`)
loads and that scores a feature frame into p_<gate> columns. Every new version gets the alias
`challenger`; it becomes `champion` only through the promotion gate
(`models/promotion.py`) or a manual `readiness promote`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel

from models.bundle import ReadinessModel
from readiness.errors import ReadinessError, scrub_secrets

log = logging.getLogger(__name__)


class _NoPickleNotice(logging.Filter):
    """MLflow warns on every model logged that a Python object is pickled. Ours is this
    project's own wrapper (ReadinessPyfunc), loaded only from this project's registry: the
    notice is no news to the user, so it is left out of the stage logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "CloudPickle" not in record.getMessage()


logging.getLogger("mlflow.pyfunc").addFilter(_NoPickleNotice())
CHAMPION, CHALLENGER = "champion", "challenger"
# the first model, when it failed the promotion gate and no champion exists yet: scored and
# published marked provisional, never over a champion (see models/promotion.py)
PROVISIONAL = "provisional"


def redact(uri: str) -> str:
    """A URI safe to print or log: any password is replaced by ***."""
    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return scrub_secrets(uri)


@contextmanager
def tracking_errors() -> Iterator[None]:
    """A tracking server that cannot be reached (or refuses us) is one paragraph naming the
    redacted URI, never a traceback that would print its password."""
    try:
        yield
    except ReadinessError:
        raise
    except Exception as exc:  # MLflow, requests and SQLAlchemy all raise their own types
        uri = redact(mlflow.get_tracking_uri())
        detail = scrub_secrets(" ".join(str(exc).split()))[:300]
        raise ReadinessError(
            f"The MLflow tracking store {uri} could not be used ({type(exc).__name__}: {detail}). "
            "Check MLFLOW_TRACKING_URI (unset it to use mlflow.db next to params.yaml) and that "
            "the server is reachable."
        ) from exc


def configure(root: Path, experiment: str) -> str:
    """Point MLflow at the tracking store and experiment; returns the (redacted) tracking URI."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root / 'mlflow.db').resolve()}"
    mlflow.set_tracking_uri(uri)
    with tracking_errors():
        if mlflow.get_experiment_by_name(experiment) is None:
            local = uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri
            artifacts = (root / "mlartifacts").resolve().as_uri() if local else None
            mlflow.create_experiment(experiment, artifact_location=artifacts)
        mlflow.set_experiment(experiment)
    return redact(uri)


class ReadinessPyfunc(PythonModel):
    """MLflow wrapper: the model folder travels as an artifact and is loaded from plain files."""

    def load_context(self, context) -> None:
        self.model = ReadinessModel.load(Path(context.artifacts["bundle"]))

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        return self.model.predict(model_input)


def _flat_params(params: dict) -> dict[str, str]:
    return {k: str(v)[:6000] for k, v in params.items()}


def log_training_run(
    params: dict,
    model_dir: Path,
    baselines_dir: Path,
    example: pd.DataFrame,
    tags: dict[str, str],
    artifacts: dict[str, str],
    metrics: dict[str, float],
    registered_model: str,
) -> tuple[str, str]:
    """A run with params, tags, metrics and artifacts; the model registered as a new version.

    Returns (run_id, version); the version gets the alias `challenger`.
    """
    import lightgbm
    import sklearn

    model = ReadinessModel.load(model_dir)
    with mlflow.start_run(run_name=f"train-{tags.get('catalog_version', '')}") as run:
        flat = _flat_params(params)
        keys = sorted(flat)
        for i in range(0, len(keys), 90):
            mlflow.log_params({k: flat[k] for k in keys[i : i + 90]})
        mlflow.set_tags(tags)
        if metrics:
            mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in artifacts.items():
                (Path(tmp) / name).write_text(text)
            mlflow.log_artifacts(tmp, artifact_path="training")
        signature = mlflow.models.infer_signature(example, model.predict(example))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=ReadinessPyfunc(),
            artifacts={"bundle": str(model_dir), "baselines": str(baselines_dir)},
            registered_model_name=registered_model,
            signature=signature,
            input_example=example.head(3),
            pip_requirements=[
                f"lightgbm=={lightgbm.__version__}",
                f"scikit-learn=={sklearn.__version__}",
                f"pandas=={pd.__version__}",
                f"mlflow=={mlflow.__version__}",
            ],
        )
        version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(registered_model, CHALLENGER, version)
    return run.info.run_id, version


def log_evaluation(run_id: str, metrics: dict[str, float], files: list[Path]) -> None:
    """Add the evaluation metrics and plots to the training run."""
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(metrics)
        for f in files:
            mlflow.log_artifact(str(f), artifact_path="evaluation")


def alias_version(name: str, alias: str) -> str | None:
    with tracking_errors():
        try:
            return str(MlflowClient().get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise


def load_version(name: str, version: str) -> ReadinessModel:
    """The ReadinessModel of a registered version (through the standard pyfunc loader)."""
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    return loaded.unwrap_python_model().model


def version_run(name: str, version: str) -> tuple[dict[str, float], dict[str, str]]:
    """The metrics and params of the training run behind a registered version (the evaluation's
    test metrics are logged to it as `test.<gate>.<model>.<metric>`)."""
    client = MlflowClient()
    with tracking_errors():
        run_id = client.get_model_version(name, version).run_id
        if run_id is None:
            raise ReadinessError(
                f"Registered model {name!r} version {version} has no training run."
            )
        run = client.get_run(run_id)
    return dict(run.data.metrics), dict(run.data.params)


def set_champion(name: str, version: str) -> str | None:
    """Make a version the champion (promotion or rollback); returns the previous champion."""
    client = MlflowClient()
    with tracking_errors():
        try:
            client.get_model_version(name, version)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise
            raise ReadinessError(
                f"Model '{name}' has no version {version}. List them with `readiness promote --list`."
            ) from exc
        previous = alias_version(name, CHAMPION)
        client.set_registered_model_alias(name, CHAMPION, version)
    return previous


def set_alias(name: str, alias: str, version: str | None) -> None:
    """Point `alias` at `version`, or remove it (None)."""
    client = MlflowClient()
    with tracking_errors():
        if version is None:
            if alias_version(name, alias) is not None:
                client.delete_registered_model_alias(name, alias)
        else:
            client.set_registered_model_alias(name, alias, version)


def versions(name: str) -> pd.DataFrame:
    """Every registered version with its aliases and run.

    Aliases come from the registered model: search results do not carry them."""
    client = MlflowClient()
    with tracking_errors():
        try:
            found = client.search_model_versions(f"name='{name}'")
            aliases = client.get_registered_model(name).aliases if found else {}
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            found, aliases = [], {}  # type: ignore[assignment]
    by_version: dict[str, list[str]] = {}
    for alias, v in sorted(aliases.items()):
        by_version.setdefault(str(v), []).append(alias)
    rows = [
        {
            "version": int(v.version),
            "aliases": ",".join(by_version.get(str(v.version), [])),
            "run_id": v.run_id,
            "created": pd.Timestamp(v.creation_timestamp, unit="ms"),
        }
        for v in found
    ]
    return pd.DataFrame(rows, columns=["version", "aliases", "run_id", "created"]).sort_values(
        "version"
    )
