"""The baseline: a bare FastAPI `async def` endpoint returning a small JSON object."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
