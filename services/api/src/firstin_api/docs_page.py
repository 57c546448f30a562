"""/docs, the api's Swagger UI, served by the api alone.

FastAPI's own page loads Swagger UI from a CDN (a blank page offline) and starts it with an inline script, which the
pages' Content-Security-Policy refuses (security_headers.py). Here Swagger UI's files come from the fastapi-offline
package, mounted at DOCS_ASSETS_URL by `FastAPIOffline(static_url=...)`, and static/docs.js starts it.
"""

from fastapi import APIRouter
from fastapi.responses import FileResponse

from firstin_api.static_files import STATIC_DIR

DOCS_ASSETS_URL = "/docs-assets"

router = APIRouter()


@router.get("/docs", include_in_schema=False)
async def docs_page() -> FileResponse:
    return FileResponse(str(STATIC_DIR.joinpath("docs.html")))
