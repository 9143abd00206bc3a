"""The program dashboard at /dashboard: charts drawn in the browser from `programMetrics`.

The page and its scripts are static files and hold no data; the figures come from
/graphql with the API key the user signs in with (admin or metrics:read), kept in the
tab's sessionStorage, or given in the address's #fragment, which browsers never send to
the server. Chart.js is vendored (static/chart.umd.min.js, MIT, from the npm registry:
see CHART_JS below), so nothing is loaded from the internet at run time.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
MOUNT = "/dashboard"

# npm `chart.js` 4.5.1, dist/chart.umd.min.js; tests/unit/test_dashboard_assets.py checks it.
CHART_JS = ("chart.umd.min.js", "4.5.1", "48444a82d4edcb5bec0f1965faacdde18d9c17db3063d042abada2f705c9f54a")

# The page runs only its own files: no inline script, no other origin.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:;"
    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


async def page(request: Request) -> Response:
    response = FileResponse(STATIC / "index.html", media_type="text/html")
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Cache-Control"] = "no-store"
    return response


def routes() -> list[BaseRoute]:
    return [
        Route(MOUNT, page),
        Mount(f"{MOUNT}/static", app=StaticFiles(directory=STATIC), name="dashboard"),
    ]
