"""The only place where the internal and the integration vocabularies meet (domain-model.md).

Internally an activity has a status (READY, …, CANCELED) and a lifecycle status derived from it
and its results; the integration API speaks of PENDING / IN_PROGRESS / COMPLETED / CANCELLED and
of results that are EFFECTIVE, NOT_EFFECTIVE or PENDING.
"""

from __future__ import annotations

from enum import StrEnum

from reten.activities.lifecycle import PHASE_OF, LifecycleStatus, Phase, ResultStatus


class IntegrationStatus(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"  # double L here; CANCELED internally


class IntegrationResultStatus(StrEnum):
    EFFECTIVE = "EFFECTIVE"
    NOT_EFFECTIVE = "NOT_EFFECTIVE"
    PENDING = "PENDING"


# status filter -> the stored phase it selects (one index range each)
PHASE_OF_STATUS: dict[IntegrationStatus, Phase] = {
    IntegrationStatus.PENDING: Phase.OPEN,
    IntegrationStatus.IN_PROGRESS: Phase.IN_PROGRESS,
    IntegrationStatus.COMPLETED: Phase.DONE,
    IntegrationStatus.CANCELLED: Phase.CANCELED,
}
STATUS_OF_PHASE: dict[Phase, IntegrationStatus] = {v: k for k, v in PHASE_OF_STATUS.items()}

# result_status filter -> the stored lifecycle status it selects
LIFECYCLE_OF_RESULT_STATUS: dict[IntegrationResultStatus, LifecycleStatus] = {
    IntegrationResultStatus.EFFECTIVE: LifecycleStatus.EFFECTIVE,
    IntegrationResultStatus.NOT_EFFECTIVE: LifecycleStatus.NOT_EFFECTIVE,
    IntegrationResultStatus.PENDING: LifecycleStatus.IN_PROGRESS,
}
RESULT_STATUS_OF_LIFECYCLE: dict[LifecycleStatus, IntegrationResultStatus] = {
    v: k for k, v in LIFECYCLE_OF_RESULT_STATUS.items()
}

# submitted result status -> internal result status
RESULT_STATUS_IN: dict[IntegrationResultStatus, ResultStatus] = {
    IntegrationResultStatus.EFFECTIVE: ResultStatus.COMPLETED,
    IntegrationResultStatus.NOT_EFFECTIVE: ResultStatus.NOT_EXECUTED,
    IntegrationResultStatus.PENDING: ResultStatus.PENDING,
}
# internal result status -> what an integrator reads back
RESULT_STATUS_OUT: dict[ResultStatus, str] = {
    ResultStatus.COMPLETED: IntegrationResultStatus.EFFECTIVE.value,
    ResultStatus.TRANSFERRED: IntegrationResultStatus.EFFECTIVE.value,
    ResultStatus.NOT_EXECUTED: IntegrationResultStatus.NOT_EFFECTIVE.value,
    ResultStatus.PENDING: IntegrationResultStatus.PENDING.value,
    ResultStatus.CANCELED: IntegrationStatus.CANCELLED.value,
}

LABELS: dict[str, dict[LifecycleStatus, str]] = {
    "es": {
        LifecycleStatus.SCHEDULED: "Programada",
        LifecycleStatus.UNRESOLVED: "Sin resolver",
        LifecycleStatus.DISPATCHED: "Despachada",
        LifecycleStatus.DISPATCH_FAILED: "Error de despacho",
        LifecycleStatus.IN_PROGRESS: "En curso",
        LifecycleStatus.EFFECTIVE: "Efectiva",
        LifecycleStatus.NOT_EFFECTIVE: "No efectiva",
        LifecycleStatus.CANCELED: "Cancelada",
    },
    "en": {
        LifecycleStatus.SCHEDULED: "Scheduled",
        LifecycleStatus.UNRESOLVED: "Unresolved",
        LifecycleStatus.DISPATCHED: "Dispatched",
        LifecycleStatus.DISPATCH_FAILED: "Dispatch failed",
        LifecycleStatus.IN_PROGRESS: "In progress",
        LifecycleStatus.EFFECTIVE: "Effective",
        LifecycleStatus.NOT_EFFECTIVE: "Not effective",
        LifecycleStatus.CANCELED: "Canceled",
    },
}


def status_of(lifecycle: LifecycleStatus) -> IntegrationStatus:
    return STATUS_OF_PHASE[PHASE_OF[lifecycle]]


def result_status_of(lifecycle: LifecycleStatus) -> str | None:
    found = RESULT_STATUS_OF_LIFECYCLE.get(lifecycle)
    return found.value if found else None


def label_of(lifecycle: LifecycleStatus, locale: str) -> str:
    return LABELS.get(locale, LABELS["es"])[lifecycle]
