"""Imports every model so that the metadata is complete (Alembic, tests)."""

from reten.activities.models import Activity, ActivityStatusEvent, CommerceAssignment, TaskDetails
from reten.activity_config.models import (
    AttributeKey,
    AttributePolicy,
    TargetResolutionConfig,
    TargetResolutionCriteria,
    TaskResultType,
)
from reten.api_keys.models import ApiKey
from reten.audit.models import AuditEvent
from reten.commerces.models import Address, Commerce, CommerceUser, CommerceUserRoleLink, Contact
from reten.dispatch.models import (
    ChannelDefinition,
    DispatchAttempt,
    DispatchConfig,
    DispatchProvider,
)
from reten.integration.models import task_list_items
from reten.kit.db import Base
from reten.kit.idempotency import IdempotencyRecord
from reten.operators.models import Operator
from reten.resolution.models import ActivityAttribute, ActivityTargetUser
from reten.results.models import ActivityResult
from reten.routes.models import Route, RouteCommerce, RouteOperator
from reten.tenants.models import Tenant
from reten.users.models import Membership, RefreshToken, User

__all__ = [
    "Activity",
    "ActivityAttribute",
    "ActivityResult",
    "ActivityStatusEvent",
    "ActivityTargetUser",
    "Address",
    "ApiKey",
    "AttributeKey",
    "AttributePolicy",
    "AuditEvent",
    "Base",
    "ChannelDefinition",
    "Commerce",
    "CommerceAssignment",
    "CommerceUser",
    "CommerceUserRoleLink",
    "Contact",
    "DispatchAttempt",
    "DispatchConfig",
    "DispatchProvider",
    "IdempotencyRecord",
    "Membership",
    "Operator",
    "RefreshToken",
    "Route",
    "RouteCommerce",
    "RouteOperator",
    "TargetResolutionConfig",
    "TargetResolutionCriteria",
    "TaskDetails",
    "TaskResultType",
    "Tenant",
    "User",
    "task_list_items",
]  # fmt: skip
