"""Demo data: one tenant with everything the integrator quickstart needs.

Seeding is idempotent: a second run never duplicates the data; it gives the demo admin a new
random password and issues a fresh API key, so the printed credentials always work.
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities import service as activities
from reten.activities.lifecycle import ResultStatus
from reten.activities.models import ActivityType, Channel
from reten.activity_config import service as activity_config
from reten.activity_config.models import ResultOutcome
from reten.activity_config.schemas import TaskResultTypeCreate
from reten.api_keys import service as api_keys
from reten.audit import service as audit
from reten.audit.models import AuditAction
from reten.auth.permissions import Permission, permissions_for_roles
from reten.commerces import service as commerces
from reten.kit.actor import Actor
from reten.kit.db import Database
from reten.kit.time import utcnow
from reten.operators import service as operators
from reten.results import service as results
from reten.results.service import ResultSubmission
from reten.routes import service as routes
from reten.routes.models import RouteOperatorRole
from reten.tenants import service as tenants
from reten.tenants.models import Tenant
from reten.tenants.schemas import TenantSetup
from reten.users import service as users

DEMO_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo.reten.dev"
RESULT_TYPES = [
    ("SALE_COMPLETED", "Venta completada", False, ResultOutcome.EFFECTIVE, 10),
    ("NOT_INTERESTED", "No interesado", False, ResultOutcome.NOT_EFFECTIVE, 20),
    ("RESCHEDULE", "Reprogramar visita", True, ResultOutcome.NOT_EFFECTIVE, 30),
    ("NO_CONTACT", "Sin contacto", False, ResultOutcome.NOT_EFFECTIVE, 40),
]
STORE_NAMES = [
    "Almacén Don Pepe", "Minimarket La Esquina", "Botillería El Trébol", "Kiosko Las Flores",
    "Supermercado San José", "Almacén La Estrella", "Negocio Doña Rosa", "Minimarket El Sol",
    "Provisiones Santa Ana", "Almacén El Porvenir", "Bazar Los Andes", "Minimarket Vista Hermosa",
    "Almacén Don Luis", "Kiosko El Parque", "Botillería La Bodega", "Despensa Los Aromos",
    "Almacén Mi Barrio", "Minimarket Las Palmas", "Almacén El Roble", "Distribuidora Central",
    "Almacén La Cumbre", "Minimarket Río Claro", "Almacén Los Pinos", "Kiosko La Plaza",
]  # fmt: skip
OPERATORS = [
    ("OP-01", "Juan Pérez"), ("OP-02", "María González"), ("OP-03", "Pedro Soto"),
    ("OP-04", "Camila Rojas"), ("OP-05", "Diego Muñoz"),
]  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    tenant_id: uuid.UUID
    tenant_slug: str
    admin_email: str
    admin_password: str
    api_key: str
    base_url: str
    created: bool

    def as_json(self) -> dict[str, str]:
        return {
            "tenant_id": str(self.tenant_id),
            "tenant_slug": self.tenant_slug,
            "admin_email": self.admin_email,
            "admin_password": self.admin_password,
            "api_key": self.api_key,
            "base_url": self.base_url,
        }


async def seed_demo(db: Database, base_url: str, *, rng_seed: int = 7) -> DemoSummary:
    password = secrets.token_urlsafe(12)
    async with db.sessionmaker() as session:
        tenant = await tenants.get_by_slug(session, DEMO_SLUG)
        created = tenant is None
        if tenant is None:
            tenant = await _create(db, session, password, random.Random(rng_seed))
        admin = await users.get_by_email(session, DEMO_ADMIN_EMAIL)
        assert admin is not None, "the demo tenant exists without its admin"
        if not created:
            before = audit.describe(admin)
            await users.set_password(session, admin, password)
            admin.is_active = True
            audit.record_changed(
                session, tenant.id, Actor.system(), AuditAction.USER_PASSWORD_RESET, admin, before,
                passwordReset=True,
            )  # fmt: skip
            await session.commit()
        _, plaintext = await api_keys.create_key(
            session,
            tenant_id=tenant.id,
            owner_id=admin.id,
            owner_permissions=permissions_for_roles(admin.roles),
            name=f"Demo integration key {utcnow():%Y-%m-%d %H:%M:%S}",
            permissions=[Permission.VIEW_ACTIVITIES.value, Permission.SUBMIT_ACTIVITY_RESULT.value],
            expires_at=None,
            actor=Actor.system(),
        )
        return DemoSummary(
            tenant.id, tenant.slug, admin.email, password, plaintext, base_url, created
        )


async def _create(db: Database, session: AsyncSession, password: str, rng: random.Random) -> Tenant:
    tenant = await tenants.setup_tenant(
        session,
        TenantSetup(
            name="Demo Retail",
            slug=DEMO_SLUG,
            admin_email=DEMO_ADMIN_EMAIL,
            admin_password=password,
            admin_first_name="Demo",
            admin_last_name="Admin",
        ),
        actor=Actor.system(),
    )
    tid = tenant.id
    for code, label, future, outcome, order in RESULT_TYPES:
        await activity_config.create_type(
            session,
            tid,
            TaskResultTypeCreate(
                code=code,
                label=label,
                requires_future_scheduled_at=future,
                outcome=outcome,
                sort_order=order,
            ),
            actor=Actor.system(),
        )
    stores = [
        await commerces.create_commerce(
            session,
            tid,
            external_id=f"COM-{i + 1:03d}",
            name=name,
            tax_id=f"76.{100 + i:03d}.{200 + i:03d}-{i % 10}",
        )
        for i, name in enumerate(STORE_NAMES)
    ]
    ops = [
        await operators.create_operator(session, tid, external_id=e, name=n) for e, n in OPERATORS
    ]
    north = await routes.create_route(session, tid, external_id="R-NORTE-3", name="Ruta Norte 3")
    south = await routes.create_route(session, tid, external_id="R-SUR-1", name="Ruta Sur 1")
    route_of_op = {}
    for i, op in enumerate(ops):
        route = north if i < 3 else south
        role = RouteOperatorRole.LEAD if i in (0, 3) else RouteOperatorRole.MEMBER
        await routes.assign_operator(session, tid, route.id, op.id, role)
        route_of_op[op.id] = route
    for i, store in enumerate(stores):
        await routes.assign_commerce(session, tid, (north if i % 2 == 0 else south).id, store.id)
    await session.commit()

    system = Actor.system()
    start = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    created = []
    for i in range(50):
        store = stores[i % len(stores)]
        op = ops[i % len(ops)]
        activity = await activities.create_activity(
            session,
            tid,
            activities.ActivityInput(
                type=ActivityType.TASK,
                channel=Channel.CALLCENTER if i % 5 == 4 else Channel.SALESMAN,
                reason=rng.choice(["retention", "reactivation", "cross_sell", "new_launch"]),
                commerce_id=store.id,
                idempotency_key=f"demo-task-{i + 1:03d}",
                scheduled_at=start + timedelta(hours=i // 5, minutes=15 * (i % 4)),
                score=rng.randint(40, 99),
                assigned_route_id=route_of_op[op.id].id,
                assigned_operator_id=op.id,
            ),
            system,
        )
        created.append((activity, store, op))
    # Results are submitted as the endpoints submit them, each in its own session.
    await session.commit()

    # A few activities already handled, so every integration status shows up; most stay READY.
    plan = {40: ResultStatus.COMPLETED, 41: ResultStatus.COMPLETED, 42: ResultStatus.COMPLETED,
            43: ResultStatus.NOT_EXECUTED, 44: ResultStatus.NOT_EXECUTED,
            45: ResultStatus.PENDING, 46: ResultStatus.PENDING}  # fmt: skip
    codes = {ResultStatus.COMPLETED: "SALE_COMPLETED", ResultStatus.NOT_EXECUTED: "NOT_INTERESTED",
             ResultStatus.PENDING: "NO_CONTACT"}  # fmt: skip
    for index, status in plan.items():
        activity, store, op = created[index]
        await results.submit(
            db,
            tid,
            system,
            ResultSubmission(
                activity_id=activity.id,
                commerce_external_id=store.external_id,
                occurred_at=utcnow() - timedelta(hours=1),
                status=status,
                result_code=codes[status],
                operator_external_id=op.external_id,
                comment="Demo result",
            ),
            lambda submitted: {"id": str(submitted.result.id)},
        )
    for index in (47, 48):
        await activities.cancel_activity(
            session, tid, created[index][0].id, system, "Commerce closed"
        )
    return tenant
