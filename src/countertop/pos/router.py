"""The operator's web app: page shells rendered on the server, plus their static files.

Every page is a small HTML shell; the JavaScript modules under `static/` fill it from the public
JSON API (docs/api.md) and follow its Server-Sent Events. Nothing here reads the database or holds
a secret, so a page reveals nothing that its API calls would not.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = (HERE / "static").resolve()
templates = Jinja2Templates(directory=str(HERE / "templates"))

# The pages load only their own scripts, styles and API; nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
ORDER_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, title: str, **context: str) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, template, {"title": title, "page": template.removesuffix(".html"), **context}
    )
    response.headers.update(PAGE_HEADERS)
    return response


@router.get("/", response_class=HTMLResponse)
async def sign_in(request: Request) -> HTMLResponse:
    """The sign-in page; it moves on to the till when the browser already holds a session."""
    return _page(request, "signin.html", "Sign in")


@router.get("/till", response_class=HTMLResponse)
async def till(request: Request) -> HTMLResponse:
    return _page(request, "till.html", "Till")


@router.get("/orders", response_class=HTMLResponse)
async def orders(request: Request) -> HTMLResponse:
    return _page(request, "orders.html", "Orders")


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_detail(request: Request, order_id: str) -> HTMLResponse:
    if not ORDER_ID.match(order_id):
        raise HTTPException(status_code=404, detail="No such order")
    return _page(request, "order.html", "Order", order_id=order_id)


@router.get("/fleet", response_class=HTMLResponse)
async def fleet(request: Request) -> HTMLResponse:
    return _page(request, "fleet.html", "Fleet")


@router.get("/end-of-day", response_class=HTMLResponse)
async def end_of_day(request: Request) -> HTMLResponse:
    return _page(request, "end-of-day.html", "End of day")


@router.get("/reader-configurations", response_class=HTMLResponse)
async def reader_configurations(request: Request) -> HTMLResponse:
    return _page(request, "reader-configurations.html", "Reader configurations")


@router.get("/static/pos/{path:path}")
async def static_file(path: str) -> Response:
    """Serve a file of the app's static folder, and nothing outside it."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        raise HTTPException(status_code=404, detail="Not found")
    media_type = MEDIA_TYPES.get(target.suffix, "application/octet-stream")
    return FileResponse(
        target,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
