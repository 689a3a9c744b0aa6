"""Today's alerts for the clinic."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from .pages import User, desk_router, render

router = desk_router()


@router.get("/alerts")
def alerts_page(request: Request, user: User) -> Response:
    """The clinic's alerts of today (the daily alerts service fills this page once it exists)."""
    user.require("alerts")
    return render(request, "alerts.html", user, day=user.ctx.today, report=None)
