"""Today's alerts for the clinic, as the daily scan stored them (or computed now when it has not run yet)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from coverage_tracker.domain.alerts import TITLES
from coverage_tracker.services import alerts as daily

from .pages import User, app_state, desk_router, render

router = desk_router()


@router.get("/alerts")
def alerts_page(request: Request, user: User) -> Response:
    """The clinic's alerts of today, most severe first, each linking to its patient."""
    user.require("alerts")
    with user.audit("alerts"):
        report = daily.list_alerts(user.ctx, user.ctx.today, app_state(request).settings.alert_lookahead_days)
    return render(request, "alerts.html", user, day=user.ctx.today, report=report, titles=TITLES)
