"""The one table from unique constraint to 409, against the real database of the run.

PostgreSQL reports the constraint's name, SQLite the indexed columns: each case below makes the
database itself refuse a write and reads its report back through the table.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from reten.commerces.models import Address, Commerce, CommerceUser, CommerceUserRoleLink
from reten.kit.db import Base, Database
from reten.kit.errors import Conflict
from reten.kit.unique import conflict, conflict_of, unique_as_conflict, unique_rules, violated
from reten.operators.models import Operator
from reten.routes.models import Route
from reten.users.models import User
from tests.factories import Factory, unique


async def _refused(db: Database, *rows: Base) -> IntegrityError:
    """Insert `rows` one by one in one transaction and return the database's refusal."""
    async with db.sessionmaker() as session:
        with pytest.raises(IntegrityError) as caught:
            for row in rows:
                session.add(row)
                await session.flush()
        await session.rollback()
    return caught.value


def _commerce(tenant_id: uuid.UUID, **values: Any) -> Commerce:
    fields: dict[str, Any] = {"external_id": unique("c"), "name": "Shop", "metadata_": {}}
    fields.update(values)
    return Commerce(id=uuid.uuid4(), tenant_id=tenant_id, **fields)


def _operator(tenant_id: uuid.UUID, **values: Any) -> Operator:
    fields: dict[str, Any] = {"type": "SALESMAN", "external_id": unique("op"), "metadata_": {}}
    fields.update(values)
    return Operator(id=uuid.uuid4(), tenant_id=tenant_id, **fields)


class TestUniqueTable:
    def test_no_two_constraints_share_a_column_list(self) -> None:
        # SQLite names only the columns: two constraints on the same columns could not be told
        # apart there.
        rules = {rule.name: rule for rule in unique_rules().values()}
        shared = [cols for cols, n in Counter(r.columns for r in rules.values()).items() if n > 1]
        assert shared == []

    def test_models_imported_after_a_first_lookup_are_in_the_table(self) -> None:
        # A fresh interpreter: one domain's models first, a lookup, then the rest.
        script = (
            "import reten.users.models\n"
            "from reten.kit.unique import unique_rules\n"
            "assert 'uq_users_email' in unique_rules()\n"
            "assert 'uq_commerces_tenant_id_tax_id' not in unique_rules()\n"
            "import reten.commerces.models\n"
            "assert 'uq_commerces_tenant_id_tax_id' in unique_rules()\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    def test_a_conflict_needs_a_field_or_a_message(self) -> None:
        assert conflict("tax_id") == {"conflict": "tax_id already exists"}
        assert conflict(message="taken") == {"conflict": "taken"}
        with pytest.raises(ValueError):
            conflict()


class TestViolationsOnTheDatabase:
    async def test_a_commerce_tax_id_taken_names_the_tax_id(
        self, db: Database, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        tax = unique("tax")
        exc = await _refused(
            db, _commerce(world.tenant_id, tax_id=tax), _commerce(world.tenant_id, tax_id=tax)
        )
        rule = violated(exc)
        assert rule is not None and rule.name == "uq_commerces_tenant_id_tax_id"
        found = conflict_of(exc)
        assert isinstance(found, Conflict) and found.message == "tax_id already exists"

    async def test_a_commerce_external_id_taken_names_the_external_id(
        self, db: Database, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        ext = unique("ext")
        exc = await _refused(
            db,
            _commerce(world.tenant_id, external_id=ext),
            _commerce(world.tenant_id, external_id=ext),
        )
        found = conflict_of(exc)
        assert found is not None and found.message == "external_id already exists"

    async def test_a_second_primary_address_meets_the_partial_index(
        self, db: Database, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        shop = _commerce(world.tenant_id)
        exc = await _refused(
            db,
            shop,
            *(
                Address(
                    id=uuid.uuid4(), tenant_id=world.tenant_id, commerce_id=shop.id, is_primary=True
                )
                for _ in range(2)
            ),
        )
        rule = violated(exc)
        assert rule is not None and rule.name == "uq_addresses_one_primary"
        found = conflict_of(exc)
        assert found is not None and "retry the request" in found.message

    async def test_operator_email_and_key_are_told_apart(
        self, db: Database, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        email = f"{unique('op')}@example.com"
        by_email = await _refused(
            db, _operator(world.tenant_id, email=email), _operator(world.tenant_id, email=email)
        )
        found = conflict_of(by_email)
        assert found is not None and found.message == "email already exists"
        ext = unique("op")
        by_key = await _refused(
            db,
            _operator(world.tenant_id, external_id=ext),
            _operator(world.tenant_id, external_id=ext),
        )
        found = conflict_of(by_key)
        assert found is not None and found.message == "type + external_id already exists"

    async def test_a_user_email_taken_names_the_email(self, db: Database) -> None:
        email = f"{unique('u')}@example.com"
        exc = await _refused(
            db,
            *(User(id=uuid.uuid4(), email=email, password_hash="x", roles=[]) for _ in range(2)),
        )
        found = conflict_of(exc)
        assert found is not None and found.message == "email already exists"

    async def test_an_undeclared_constraint_is_found_but_gives_no_409(
        self, db: Database, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        shop = _commerce(world.tenant_id)
        user = CommerceUser(id=uuid.uuid4(), tenant_id=world.tenant_id, commerce_id=shop.id)
        exc = await _refused(
            db,
            shop,
            user,
            *(
                CommerceUserRoleLink(
                    id=uuid.uuid4(),
                    tenant_id=world.tenant_id,
                    commerce_user_id=user.id,
                    role="OWNER",
                )
                for _ in range(2)
            ),
        )
        rule = violated(exc)
        assert rule is not None and rule.name == "uq_commerce_user_roles_commerce_user_id_role"
        assert conflict_of(exc) is None

    async def test_a_foreign_key_failure_is_no_unique_violation(self, db: Database) -> None:
        exc = await _refused(
            db, Route(id=uuid.uuid4(), tenant_id=uuid.uuid4(), name="r", metadata_={})
        )
        assert violated(exc) is None
        assert conflict_of(exc) is None

    async def test_unique_as_conflict_rolls_back_and_raises_the_409(
        self, db: Database, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        tax = unique("tax")
        async with db.sessionmaker() as session:
            session.add(_commerce(world.tenant_id, tax_id=tax))
            await session.commit()
            session.add(_commerce(world.tenant_id, tax_id=tax))
            with pytest.raises(Conflict) as caught:
                async with unique_as_conflict(session):
                    await session.commit()
            assert caught.value.message == "tax_id already exists"
            assert not session.in_transaction()
