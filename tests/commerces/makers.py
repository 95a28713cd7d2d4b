"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py)."""

from __future__ import annotations

from typing import Any

from reten.commerces import service
from reten.commerces.schemas import CommerceCreate
from tests.factories import Factory, Maker, World, unique


async def commerce_with_children(factory: Factory, world: World) -> dict[str, str]:
    """A commerce with an address and a user holding OWNER and one contact; every path id."""
    data = CommerceCreate.model_validate(
        {
            "external_id": unique("C"),
            "name": "Victim store",
            "addresses": [{"source_ref": "main", "street": "Main St", "is_primary": True}],
            "users": [
                {
                    "external_id": "u-1",
                    "name": "Maria Garcia",
                    "roles": ["OWNER"],
                    "contacts": [{"contact_type": "PHONE", "value": "+56912345678"}],
                }
            ],
        }
    )
    async with factory.db.sessionmaker() as session:
        bundle = await service.create(session, world.tenant_id, data)
    user = bundle.users[0]
    return {
        "id": str(bundle.commerce.id),
        "commerceId": str(bundle.commerce.id),
        "addressId": str(bundle.addresses[0].id),
        "userId": str(user.user.id),
        "role": "OWNER",
        "contactId": str(user.contacts[0].id),
    }


# A valid body for the routes that take one, so only the path lookup can fail (§1.6 order).
BODIES: dict[str, dict[str, Any]] = {
    "/api/commerces/{commerceId}/addresses": {"source": "RETEN"},
    "/api/commerces/{commerceId}/users/{userId}/roles": {"role": "OWNER"},
    "/api/commerces/{commerceId}/users/{userId}/contacts": {
        "contact_type": "EMAIL",
        "value": "someone@example.com",
        "source": "RETEN",
    },
}


def _with_body(path: str) -> Maker:
    async def maker(factory: Factory, world: World) -> dict[str, Any]:
        ids: dict[str, Any] = dict(await commerce_with_children(factory, world))
        if path in BODIES:
            ids["_body"] = BODIES[path]
        return ids

    return maker


OBJECT_MAKERS: dict[str, Maker] = {
    path: _with_body(path)
    for path in (
        "/api/commerces/{id}",
        "/api/commerces/{commerceId}/addresses",
        "/api/commerces/{commerceId}/addresses/{addressId}",
        "/api/commerces/{commerceId}/users",
        "/api/commerces/{commerceId}/users/{userId}",
        "/api/commerces/{commerceId}/users/{userId}/roles",
        "/api/commerces/{commerceId}/users/{userId}/roles/{role}",
        "/api/commerces/{commerceId}/users/{userId}/contacts",
        "/api/commerces/{commerceId}/users/{userId}/contacts/{contactId}",
    )
}
