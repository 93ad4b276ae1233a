"""A real HTTP server for the app and a small Server-Sent Events reader, for the live-status tests.

Streams need a real server: an in-memory ASGI transport buffers the whole response.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve an app (already started) on a free loopback port; yields its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Frame:
    """One block of an event stream: an event, a comment or a retry hint."""

    event: str | None = None
    data: list[str] = field(default_factory=list)
    comment: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


class EventStream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def frame(self, timeout: float = 10) -> Frame:
        return await asyncio.wait_for(self._read_frame(), timeout)

    async def event(self, timeout: float = 10) -> tuple[str, Any]:
        """The next event (skipping comments and hints) as (name, parsed data)."""
        while True:
            frame = await self.frame(timeout)
            if frame.event is not None:
                return frame.event, frame.json()

    async def _read_frame(self) -> Frame:
        frame = Frame()
        async for line in self._lines:
            if line == "":
                if frame != Frame():
                    return frame
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                frame.comment = value
            elif name == "event":
                frame.event = value
            elif name == "data":
                frame.data.append(value)
            elif name == "retry":
                frame.retry = int(value)
        raise EOFError("the stream ended")


@asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> AsyncIterator[EventStream]:
    async with http.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)
