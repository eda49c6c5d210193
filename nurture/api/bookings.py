"""`POST /v1/bookings`: the prospect booked; sequences that `stop_on: [booked]` stop."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from nurture.api.access import machine
from nurture.api.deps import catalog_dep, now_dep
from nurture.api.intake import read_model
from nurture.db import session_scope
from nurture.errors import NotFoundError
from nurture.schedule.catalog import Catalog
from nurture.steering.bookings import book

router = APIRouter(
    prefix="/v1", dependencies=[Depends(machine("report bookings"))], tags=["bookings"]
)


class BookingIn(BaseModel):
    """Who booked: their email or their phone, as the booking tool knows them."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _one_address(self) -> BookingIn:
        if not self.email and not self.phone:
            raise ValueError("give the email or the phone of the prospect who booked")
        return self


@router.post(
    "/bookings",
    responses={404: {"description": "no prospect with that email or phone"}},
)
async def create_booking(
    request: Request,
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> JSONResponse:
    """Mark the prospect booked and skip every pending message of sequences that stop on it."""
    booking = await read_model(request, BookingIn)
    if isinstance(booking, JSONResponse):
        return booking

    def apply() -> dict[str, object]:
        with session_scope() as session:
            contact, result = book(
                session,
                email=booking.email,
                phone=booking.phone,
                catalog=catalog,
                now=now,
                source="api",
            )
            return {
                "contact_id": contact.id,
                "booked_at": (contact.booked_at or now).isoformat(),
                "enrollments_stopped": result.enrollments_stopped,
                "deliveries_skipped": result.deliveries_skipped,
            }

    try:
        body = await run_in_threadpool(apply)
    except NotFoundError as exc:
        return JSONResponse(status_code=404, content={"detail": str(exc)})
    return JSONResponse(status_code=200, content=body)
