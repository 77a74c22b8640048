"""Train, save and load the classifier.

The model is a scikit-learn pipeline (standard scaling + logistic regression) trained on the Wisconsin
breast-cancer data set that ships inside scikit-learn (``sklearn.datasets.load_breast_cancer``: no
download). It is saved with joblib next to a JSON metadata file that records the model version (a
content hash of the joblib file) and the training timestamp. Loading verifies the hash.

CLI::

    python -m model_service.training [--model-dir DIR] [--if-missing]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from pydantic import BaseModel, ConfigDict
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from model_service.settings import default_model_dir

logger = logging.getLogger(__name__)

MODEL_NAME = "breast-cancer-classifier"
DATASET = "sklearn.datasets.load_breast_cancer"
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
RANDOM_STATE = 0
TEST_SIZE = 0.25


class ModelMetadata(BaseModel):
    """Contents of ``metadata.json``."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    #: First 12 hex digits of the SHA-256 of ``model.joblib``: the version used in metric labels.
    model_version: str
    sha256: str
    trained_at: float
    trained_at_iso: str
    dataset: str
    n_features: int
    feature_names: list[str]
    classes: list[int]
    class_names: list[str]
    n_train: int
    n_test: int
    test_accuracy: float
    random_state: int
    sklearn_version: str
    joblib_version: str
    numpy_version: str


@dataclass(frozen=True, slots=True)
class ModelBundle:
    model: Any  # sklearn Pipeline (untyped library)
    metadata: ModelMetadata
    #: Where the model was loaded from / saved to; None when it lives only in memory.
    path: Path | None


@dataclass(frozen=True, slots=True)
class Dataset:
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str]


def load_dataset() -> Dataset:
    """The data set and its deterministic train/hold-out split (also used by the traffic generator)."""
    data = load_breast_cancer()
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, random_state=RANDOM_STATE, stratify=y
    )
    return Dataset(
        x_train=x_train,
        x_test=x_test,
        y_train=y_train,
        y_test=y_test,
        feature_names=[str(n) for n in data.feature_names],
        class_names=[str(n) for n in data.target_names],
    )


def train() -> tuple[Any, bytes, ModelMetadata]:
    """Fit the pipeline; return it, its joblib serialisation and its metadata."""
    ds = load_dataset()
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=2000, random_state=RANDOM_STATE)),
        ]
    )
    pipeline.fit(ds.x_train, ds.y_train)
    accuracy = float(pipeline.score(ds.x_test, ds.y_test))
    buf = io.BytesIO()
    joblib.dump(pipeline, buf)
    payload = buf.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    now = time.time()
    metadata = ModelMetadata(
        model_name=MODEL_NAME,
        model_version=digest[:12],
        sha256=digest,
        trained_at=now,
        trained_at_iso=datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="seconds"),
        dataset=DATASET,
        n_features=int(ds.x_train.shape[1]),
        feature_names=ds.feature_names,
        classes=[int(c) for c in pipeline.classes_],
        class_names=ds.class_names,
        n_train=int(ds.x_train.shape[0]),
        n_test=int(ds.x_test.shape[0]),
        test_accuracy=round(accuracy, 6),
        random_state=RANDOM_STATE,
        sklearn_version=sklearn.__version__,
        joblib_version=joblib.__version__,
        numpy_version=np.__version__,
    )
    return pipeline, payload, metadata


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the serving user may differ from the trainer
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(model_dir: Path, payload: bytes, metadata: ModelMetadata) -> Path:
    """Write ``model.joblib`` then ``metadata.json`` atomically (readers never see a torn pair
    for long: load() verifies the hash and fails loudly on a mismatch)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(model_dir / MODEL_FILE, payload)
    _atomic_write(model_dir / METADATA_FILE, (metadata.model_dump_json(indent=2) + "\n").encode())
    return model_dir


def train_and_save(model_dir: Path | None = None) -> ModelBundle:
    target = model_dir or default_model_dir()
    model, payload, metadata = train()
    save(target, payload, metadata)
    logger.info("trained %s version %s -> %s", metadata.model_name, metadata.model_version, target)
    return ModelBundle(model=model, metadata=metadata, path=target)


class ModelIntegrityError(RuntimeError):
    pass


def load(model_dir: Path | None = None) -> ModelBundle:
    """Load a saved model from the local directory only (never from a remote store)."""
    source = model_dir or default_model_dir()
    metadata = ModelMetadata.model_validate_json((source / METADATA_FILE).read_bytes())
    payload = (source / MODEL_FILE).read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != metadata.sha256:
        raise ModelIntegrityError(
            f"{source / MODEL_FILE} has sha256 {digest[:12]}, metadata says {metadata.model_version}"
        )
    model = joblib.load(io.BytesIO(payload))
    return ModelBundle(model=model, metadata=metadata, path=source)


def exists(model_dir: Path | None = None) -> bool:
    source = model_dir or default_model_dir()
    return (source / MODEL_FILE).is_file() and (source / METADATA_FILE).is_file()


def load_or_train(model_dir: Path | None = None, *, train_if_missing: bool = True) -> ModelBundle:
    """Load the model; when none is saved, train one (first start) and try to save it.

    On a read-only model directory the freshly trained model is kept in memory only.
    """
    source = model_dir or default_model_dir()
    if exists(source):
        return load(source)
    if not train_if_missing:
        raise FileNotFoundError(f"no model in {source} (run `make model` or set MODEL_TRAIN_IF_MISSING=true)")
    model, payload, metadata = train()
    try:
        save(source, payload, metadata)
    except OSError as exc:
        logger.warning("trained model could not be saved to %s (%s); keeping it in memory", source, exc)
        return ModelBundle(model=model, metadata=metadata, path=None)
    logger.info("trained %s version %s -> %s", metadata.model_name, metadata.model_version, source)
    return ModelBundle(model=model, metadata=metadata, path=source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_service.training", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model-dir", type=Path, default=None, help="default: $MODEL_DIR or ~/.cache/...")
    parser.add_argument("--if-missing", action="store_true", help="train only if no model is saved yet")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    target: Path = args.model_dir or default_model_dir()
    bundle = load_or_train(target) if args.if_missing else train_and_save(target)
    json.dump(
        {
            "model_dir": str(target),
            "model_version": bundle.metadata.model_version,
            "trained_at": bundle.metadata.trained_at_iso,
            "test_accuracy": bundle.metadata.test_accuracy,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
