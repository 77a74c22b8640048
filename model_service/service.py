# bentoml exports its decorators through a lazy module __getattr__, so mypy sees them as untyped.
# mypy: disable-error-code="untyped-decorator"
"""The BentoML service: ``bentoml serve model_service.service:ModelService --port 3000``.

Endpoints (all ``POST`` + JSON, as BentoML APIs are):

``/predict``               ``{"instances": [[30 floats], ...]}`` -> labels, probabilities, prediction ids
``/feedback``              ``{"prediction_id": "...", "true_label": 0|1}`` -> was the prediction right
``/features/refresh``      ``{"updated_at": <unix seconds, optional>}`` -> records a feature update
``/admin/faults``          fault configuration (``model_service.faults``); needs MODEL_SERVICE_ADMIN_ENABLED
``/admin/faults/status``   current faults and how many were injected

plus BentoML's ``GET /livez``, ``/readyz`` and ``/metrics``. Client errors are 4xx JSON bodies
``{"error": <code>, "detail": <text>}`` and are not recorded as SLI failures; 5xx are.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import time
import uuid
from typing import Annotated

import bentoml
import numpy as np
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from model_service import training
from model_service.cost import CostMeter
from model_service.faults import FaultConfig, FaultInjector, FaultStatus
from model_service.settings import LATENCY_BUCKETS, Settings, env_flag
from model_service.sli import SLITracker
from model_service.store import FeedbackOutcome, PredictionStore

logger = logging.getLogger("bentoml.model_service")

SERVICE_NAME = "model-service"
#: Allowed clock skew for ``/features/refresh`` timestamps in the future.
MAX_FUTURE_SKEW_SECONDS = 60.0

FeatureValue = Annotated[float, Field(allow_inf_nan=False)]
FeatureRow = Annotated[list[FeatureValue], Field(min_length=1)]
PredictionId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]


class Prediction(BaseModel):
    prediction_id: str
    label: int
    label_name: str
    #: Probability of each class, in the order of ``PredictResponse.classes``.
    probabilities: list[float]


class PredictResponse(BaseModel):
    model_name: str
    model_version: str
    classes: list[int]
    predictions: list[Prediction]


class FeedbackResponse(BaseModel):
    prediction_id: str
    predicted_label: int
    true_label: int
    correct: bool
    model_version: str
    #: Seconds between the prediction and its ground truth.
    delay_seconds: float


class FeaturesStatus(BaseModel):
    updated_at: float
    age_seconds: float
    stale_fault_active: bool


def client_error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


class FeatureSnapshot:
    """Stand-in for the upstream feature store the model reads from.

    It only tracks when the features were last updated. The service refreshes it every
    ``MODEL_FEATURE_REFRESH_INTERVAL_SECONDS`` (0: never by itself); a feature pipeline, the traffic CLI
    or an operator can report an update through ``POST /features/refresh``. The ``stale_features`` fault
    moves the update time into the past and blocks refreshes until the fault is cleared.
    """

    def __init__(self, tracker: SLITracker) -> None:
        self._tracker = tracker
        self.updated_at = 0.0

    def set(self, timestamp: float) -> None:
        self.updated_at = timestamp
        self._tracker.record_feature_refresh(timestamp)


_settings = Settings.from_env()


@bentoml.service(
    name=SERVICE_NAME,
    workers=1,  # the prediction store and the fault state are per process (see README)
    traffic={"timeout": 60},
    metrics={
        "enabled": env_flag("MODEL_SERVICE_BENTOML_METRICS", True),
        "namespace": "bentoml_service",
        "duration": {"buckets": list(LATENCY_BUCKETS)},
    },
    logging={"access": {"enabled": env_flag("MODEL_SERVICE_ACCESS_LOG", True)}},
)
class ModelService:
    def __init__(self) -> None:
        self.settings = _settings
        bundle = training.load_or_train(
            self.settings.model_dir, train_if_missing=self.settings.train_if_missing
        )
        self.model = bundle.model
        self.meta = bundle.metadata
        self.classes: list[int] = [int(c) for c in self.model.classes_]
        self.class_names = self.meta.class_names
        self._class_array = np.asarray(self.classes)
        self.tracker = SLITracker(
            enabled=self.settings.sli_tracking,
            model_name=self.meta.model_name,
            model_version=self.meta.model_version,
            endpoint="/predict",
        )
        self.tracker.start()
        self.cost = CostMeter(self.tracker, self.settings.cpu_price_per_hour)
        self._cost_task: asyncio.Task[None] | None = None
        self.store = PredictionStore(
            ttl_seconds=self.settings.feedback_ttl_seconds, max_entries=self.settings.feedback_max_entries
        )
        self.faults = FaultInjector()
        self.features = FeatureSnapshot(self.tracker)
        self.features.set(time.time())
        self._refresh_task: asyncio.Task[None] | None = None
        logger.info(
            "serving %s version %s (trained %s, test accuracy %.3f) from %s; sli_tracking=%s admin=%s",
            self.meta.model_name,
            self.meta.model_version,
            self.meta.trained_at_iso,
            self.meta.test_accuracy,
            bundle.path or "memory",
            self.settings.sli_tracking,
            self.settings.admin_enabled,
        )

    # ------------------------------------------------------------------ lifecycle

    @bentoml.on_startup
    async def _start_feature_refresh(self) -> None:
        if self.settings.feature_refresh_interval_seconds > 0:
            self._refresh_task = asyncio.create_task(self._feature_refresh_loop())
        self._cost_task = asyncio.create_task(self._cost_loop())

    async def _cost_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.cost_interval_seconds)
            self.cost.charge()

    @bentoml.on_shutdown
    async def _stop_feature_refresh(self) -> None:
        for task in (self._refresh_task, self._cost_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _feature_refresh_loop(self) -> None:
        interval = self.settings.feature_refresh_interval_seconds
        while True:
            await asyncio.sleep(interval)
            if self.faults.stale_features_seconds() == 0:
                self.features.set(time.time())

    # ------------------------------------------------------------------ model APIs

    @bentoml.api(route="/predict", output_spec=PredictResponse)
    async def predict(
        self, instances: Annotated[list[FeatureRow], Field(min_length=1)]
    ) -> PredictResponse | Response:
        """Classify a batch of feature rows (each with ``n_features`` finite numbers)."""
        started = time.perf_counter()
        n_features = self.meta.n_features
        if len(instances) > self.settings.max_batch_rows:
            return client_error(
                413,
                "batch_too_large",
                f"{len(instances)} rows; at most {self.settings.max_batch_rows} per request",
            )
        bad = [i for i, row in enumerate(instances) if len(row) != n_features]
        if bad:
            return client_error(
                400,
                "wrong_shape",
                f"rows {bad[:10]} have {len(instances[bad[0]])} values; {n_features} features expected",
            )
        delay, fail = self.faults.decide()
        if delay:
            await asyncio.sleep(delay)
        if fail:
            self.tracker.record_availability(False)
            self.tracker.record_latency(time.perf_counter() - started)
            return JSONResponse(
                {"error": "injected_fault", "detail": "fault injection: error_rate"}, status_code=500
            )
        try:
            proba = self.model.predict_proba(np.asarray(instances, dtype=np.float64))
            idx = proba.argmax(axis=1)
            labels = self._class_array[idx].tolist()
            ids = [uuid.uuid4().hex for _ in labels]
            self.store.add_many(list(zip(ids, labels, strict=True)), self.meta.model_version)
            predictions = [
                Prediction(
                    prediction_id=pid,
                    label=label,
                    label_name=self.class_names[i],
                    probabilities=[round(p, 6) for p in row],
                )
                for pid, label, i, row in zip(ids, labels, idx.tolist(), proba.tolist(), strict=True)
            ]
        except Exception:
            self.tracker.record_availability(False)
            self.tracker.record_latency(time.perf_counter() - started)
            raise
        self.tracker.record_predictions(len(labels))
        self.tracker.record_availability(True)
        self.tracker.record_latency(time.perf_counter() - started)
        self.cost.charge()
        return PredictResponse(
            model_name=self.meta.model_name,
            model_version=self.meta.model_version,
            classes=self.classes,
            predictions=predictions,
        )

    @bentoml.api(route="/feedback", output_spec=FeedbackResponse)
    async def feedback(self, prediction_id: PredictionId, true_label: int) -> FeedbackResponse | Response:
        """Report the ground truth of an earlier prediction; feeds the accuracy SLI."""
        if true_label not in self.classes:
            return client_error(400, "unknown_label", f"true_label {true_label} is not one of {self.classes}")
        outcome, entry = self.store.resolve(prediction_id)
        if outcome is FeedbackOutcome.UNKNOWN or entry is None:
            return client_error(
                404,
                "unknown_prediction",
                f"prediction {prediction_id} is unknown or older than the feedback TTL "
                f"({self.settings.feedback_ttl_seconds:g} s)",
            )
        if outcome is FeedbackOutcome.DUPLICATE:
            return client_error(
                409, "duplicate_feedback", f"prediction {prediction_id} already has its ground truth"
            )
        correct = self.tracker.record_accuracy(entry.label, true_label, entry.model_version)
        return FeedbackResponse(
            prediction_id=prediction_id,
            predicted_label=entry.label,
            true_label=true_label,
            correct=correct,
            model_version=entry.model_version,
            delay_seconds=round(time.monotonic() - entry.created_at, 3),
        )

    @bentoml.api(route="/features/refresh", output_spec=FeaturesStatus)
    async def refresh_features(self, updated_at: float | None = None) -> FeaturesStatus | Response:
        """Record that the features were updated (now, or at ``updated_at`` unix seconds)."""
        now = time.time()
        if updated_at is not None and (not math.isfinite(updated_at) or updated_at <= 0):
            return client_error(400, "bad_timestamp", "updated_at must be a positive unix time in seconds")
        if updated_at is not None and updated_at > now + MAX_FUTURE_SKEW_SECONDS:
            return client_error(400, "bad_timestamp", f"updated_at is {updated_at - now:.0f} s in the future")
        if self.faults.stale_features_seconds() > 0:
            return JSONResponse(
                {"error": "features_stalled", "detail": "fault injection: stale_features_seconds is set"},
                status_code=503,
            )
        self.features.set(updated_at if updated_at is not None else now)
        return self._features_status(now)

    def _features_status(self, now: float) -> FeaturesStatus:
        return FeaturesStatus(
            updated_at=self.features.updated_at,
            age_seconds=round(now - self.features.updated_at, 3),
            stale_fault_active=self.faults.stale_features_seconds() > 0,
        )

    # ------------------------------------------------------------------ admin (fault injection)

    def _admin_denied(self, ctx: bentoml.Context) -> Response | None:
        # With a ``ctx`` parameter BentoML overwrites the status of a returned Response with
        # ``ctx.response.status_code``: set both.
        denied: JSONResponse | None = None
        if not self.settings.admin_enabled:
            denied = client_error(
                404, "admin_disabled", "admin endpoints are off (MODEL_SERVICE_ADMIN_ENABLED=true)"
            )
        elif (token := self.settings.admin_token) is not None:
            supplied = ctx.request.headers.get("authorization", "")
            if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
                denied = client_error(
                    401, "unauthorized", "admin endpoints need Authorization: Bearer <token>"
                )
        if denied is not None:
            ctx.response.status_code = denied.status_code
        return denied

    @bentoml.api(route="/admin/faults", output_spec=FaultStatus)
    async def admin_faults(self, config: FaultConfig, /, ctx: bentoml.Context) -> FaultStatus | Response:
        """Replace the fault configuration (``{}`` clears every fault)."""
        if (denied := self._admin_denied(ctx)) is not None:
            return denied
        status = self.faults.configure(FaultConfig.model_validate(config.model_dump()))
        if status.config.stale_features_seconds > 0:
            self.features.set(time.time() - status.config.stale_features_seconds)
        logger.warning("fault injection configured: %s", status.config.model_dump_json())
        return status

    @bentoml.api(route="/admin/faults/status", output_spec=FaultStatus)
    async def admin_faults_status(self, ctx: bentoml.Context) -> FaultStatus | Response:
        if (denied := self._admin_denied(ctx)) is not None:
            return denied
        return self.faults.status()
