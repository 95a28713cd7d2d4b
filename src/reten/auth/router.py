from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from reten.auth.dependencies import check_login_rate, public, session_user, tenant_user
from reten.auth.permissions import Permission, sort_permissions, sort_roles
from reten.auth.principal import Principal
from reten.auth.schemas import LoginCreate, LoginRead, MeRead, MessageRead, RefreshRead, UserBrief
from reten.config import Environment
from reten.kit.errors import Unauthorized, error_response
from reten.kit.jsonbody import body_of
from reten.kit.schemas import openapi_body
from reten.runtime import DbSession, Runtime, get_runtime
from reten.users import service as users
from reten.users import sessions
from reten.users.models import User
from reten.users.schemas import ResetMyPassword, ResetUserPassword

router = APIRouter(prefix="/api/auth", tags=["Auth"])

COOKIE = "refreshToken"
COOKIE_PATH = "/api/auth"


def _set_cookie(response: Response, runtime: Runtime, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=runtime.settings.refresh_token_ttl_seconds,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=runtime.settings.env != Environment.DEVELOPMENT,
    )


def _clear_cookie(response: Response, runtime: Runtime) -> None:
    response.set_cookie(
        COOKIE,
        "",
        max_age=0,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=runtime.settings.env != Environment.DEVELOPMENT,
    )


@router.post("/login", response_model=LoginRead, openapi_extra=openapi_body(LoginCreate))
async def login(
    request: Request,
    response: Response,
    _: None = Depends(public()),
    data: LoginCreate = Depends(body_of(LoginCreate)),
    session: AsyncSession = DbSession,
) -> LoginRead:
    runtime = get_runtime(request)
    await check_login_rate(
        runtime, request.client.host if request.client else None, data.identifier
    )
    issued = await sessions.login(session, runtime.settings, data.identifier, data.password)
    _set_cookie(response, runtime, issued.refresh_token)
    return LoginRead(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        user=UserBrief.model_validate(issued.user),
    )


@router.post("/refresh", response_model=RefreshRead)
async def refresh(
    request: Request,
    response: Response,
    _: None = Depends(public()),
    session: AsyncSession = DbSession,
) -> RefreshRead | Response:
    runtime = get_runtime(request)
    try:
        issued = await sessions.refresh(session, runtime.settings, request.cookies.get(COOKIE))
    except Unauthorized as exc:
        failed = error_response(401, exc.message)
        _clear_cookie(failed, runtime)
        return failed
    _set_cookie(response, runtime, issued.refresh_token)
    return RefreshRead(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post("/logout", response_model=MessageRead)
async def logout(
    request: Request,
    response: Response,
    _: None = Depends(public()),
    session: AsyncSession = DbSession,
) -> MessageRead:
    runtime = get_runtime(request)
    await sessions.logout(session, request.cookies.get(COOKIE))
    _clear_cookie(response, runtime)
    return MessageRead(message="Logged out successfully")


@router.get("/me", response_model=MeRead)
async def me(
    principal: Principal = Depends(session_user()),
    session: AsyncSession = DbSession,
) -> MeRead:
    user = await session.get(User, principal.user_id)
    assert user is not None
    return MeRead(
        id=user.id,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        tenant_ids=await users.tenant_ids_of(session, user.id),
        roles=sort_roles(user.roles),
        permissions=sort_permissions(principal.permissions),
    )


@router.post(
    "/reset-my-password", response_model=MessageRead, openapi_extra=openapi_body(ResetMyPassword)
)
async def reset_my_password(
    request: Request,
    principal: Principal = Depends(session_user()),
    data: ResetMyPassword = Depends(body_of(ResetMyPassword)),
    session: AsyncSession = DbSession,
) -> MessageRead:
    # The session this request came from stays logged in; every other one ends.
    keep = await users.family_of(session, request.cookies.get(COOKIE))
    await users.reset_my_password(
        session,
        principal.user_id,
        data.current_password,
        data.new_password,
        keep_family=keep,
        actor=principal.actor(),
    )
    return MessageRead(message="Password reset successfully")


@router.post(
    "/reset-user-password",
    response_model=MessageRead,
    openapi_extra=openapi_body(ResetUserPassword),
)
async def reset_user_password(
    principal: Principal = Depends(tenant_user(Permission.RESET_USER_PASSWORD)),
    data: ResetUserPassword = Depends(body_of(ResetUserPassword)),
    session: AsyncSession = DbSession,
) -> MessageRead:
    await users.reset_password(
        session, principal.require_tenant(), principal, data.user_id, data.new_password
    )
    return MessageRead(message="Password reset successfully")
