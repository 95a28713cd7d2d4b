"""Receive Reten's push deliveries in FastAPI.

    RETEN_SIGNING_SECRET=whsec_... uvicorn fastapi_receiver:app

Answer 2xx quickly (Reten retries otherwise); de-duplicate on `event.webhook_id`, which is the
same on every retry and resend of one activity.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException, Request

from reten.receiver import ActivityDispatched, PayloadError, SignatureError, verify

app = FastAPI()
# Several secrets during a rotation: RETEN_SIGNING_SECRET="whsec_new whsec_old".
SECRETS = os.environ.get("RETEN_SIGNING_SECRET", "").split()
received: dict[str, ActivityDispatched] = {}  # stands in for your queue or table


@app.post("/reten/webhook")
async def reten_webhook(request: Request) -> dict[str, str]:
    body = await request.body()  # the raw bytes: the signature covers exactly these
    try:
        event = verify(body, request.headers, SECRETS)
    except SignatureError:
        raise HTTPException(status_code=401, detail="invalid signature") from None
    except PayloadError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    received.setdefault(event.webhook_id, event)
    # Reten reads an id from the answer (`id`) and keeps it as the activity's provider id.
    return {"id": f"job-{event.data.id}"}
