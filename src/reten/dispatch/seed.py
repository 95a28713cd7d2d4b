"""Seed the global providers and their channel definitions from the registry, idempotently."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.activities.models import Channel
from reten.dispatch.models import ChannelDefinition, DispatchProvider
from reten.dispatch.providers import REGISTRY


async def seed_providers(session: AsyncSession) -> None:
    """Insert what is missing and bring names and schemas up to date with the code.

    Safe when several processes start together: a lost insert race is simply skipped.
    """
    for provider in REGISTRY.values():
        row = (
            await session.execute(
                select(DispatchProvider).where(DispatchProvider.code == provider.code)
            )
        ).scalar_one_or_none()
        if row is None:
            row = DispatchProvider(
                id=uuid.uuid4(),
                code=provider.code,
                name=provider.name,
                protocol_type=provider.protocol_type,
                is_active=True,
            )
            session.add(row)
        else:
            row.name, row.protocol_type = provider.name, provider.protocol_type
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            continue
        defined = {
            d.channel: d
            for d in (
                await session.execute(
                    select(ChannelDefinition).where(
                        ChannelDefinition.dispatch_provider_id == row.id
                    )
                )
            ).scalars()
        }
        for channel in Channel:
            definition = defined.get(channel.value)
            if definition is None:
                session.add(
                    ChannelDefinition(
                        id=uuid.uuid4(),
                        dispatch_provider_id=row.id,
                        channel=channel.value,
                        credential_schema=provider.credential_schema,
                        settings_schema=provider.settings_schema,
                    )
                )
            elif (definition.credential_schema, definition.settings_schema) != (
                provider.credential_schema,
                provider.settings_schema,
            ):
                definition.credential_schema = provider.credential_schema
                definition.settings_schema = provider.settings_schema
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
