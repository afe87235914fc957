"""Every route handler of the web app, in one list (the route × role test walks it)."""

from __future__ import annotations

from typing import Any


def handlers() -> list[Any]:
    from starlevel.web.account import AccountController
    from starlevel.web.admin import AdminController
    from starlevel.web.assets import favicon
    from starlevel.web.hr import HrController
    from starlevel.web.dashboard import HrDashboardController
    from starlevel.web.months import HrMonthsController
    from starlevel.web.reviews import HrReviewsController
    from starlevel.web.whatif import HrWhatIfController
    from starlevel.web.agents import AgentsController
    from starlevel.web.inspector import InspectionsController, UploadsController
    from starlevel.web.metrics import MetricsController
    from starlevel.web.api import CONTROLLERS as API_CONTROLLERS
    from starlevel.web.mystar import AgentStarController, MyStarController
    from starlevel.web.rules import PeriodsController, RulesController
    from starlevel.web.disputes import CONTROLLERS as DISPUTE_CONTROLLERS
    from starlevel.web.api_disputes import CONTROLLERS as DISPUTE_API
    from starlevel.web.calibration import CONTROLLERS as CALIBRATION_CONTROLLERS
    from starlevel.web.consistency import CONTROLLERS as CONSISTENCY_CONTROLLERS

    return [*API_CONTROLLERS, AccountController, AgentsController, InspectionsController, UploadsController,
            MetricsController, MyStarController, AgentStarController,
            HrController, HrDashboardController, HrMonthsController, HrReviewsController, HrWhatIfController,
            PeriodsController, RulesController, AdminController, favicon, *DISPUTE_CONTROLLERS, *DISPUTE_API,
            *CALIBRATION_CONTROLLERS, *CONSISTENCY_CONTROLLERS]
