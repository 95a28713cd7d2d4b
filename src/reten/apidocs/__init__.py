"""The API reference pages (`/docs`, `/redoc`), served entirely from the package.

FastAPI's default pages load Swagger UI and ReDoc from a CDN, so on a self-hosted machine
without internet access the reference is a blank page. The assets are vendored under
`static/vendor/` (versions and checksums in its README) and served from the process itself.
"""
