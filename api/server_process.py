"""One of ``esign serve --workers N``'s server processes: uvicorn serving the connections the supervisor
(``api.supervisor``) hands over the Unix socket whose descriptor is the first argument.

    python -m api.server_process FD HOST PORT
"""

from __future__ import annotations

# First: it silences known library warnings that the imports below would print at import time.
import api.quiet  # noqa: F401

# isort: split
import asyncio
import socket
import sys
from typing import Any

import uvicorn

from api.access_log import uvicorn_log_config
from esign import pdf_limits

READY = b"ready"  # what a process tells the supervisor once it serves
DRAIN_S = 0.5


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    """What ``esign serve`` gives uvicorn, in one process or in each of several."""
    return {
        "host": host,
        "port": port,
        "log_level": "info",
        "log_config": uvicorn_log_config(),
        # After SIGTERM, requests get this long; then they are cancelled and the lifespan kills parse workers.
        "timeout_graceful_shutdown": pdf_limits.configured().shutdown_grace_s,
    }


class HandedServer(uvicorn.Server):
    """uvicorn's server with no listening socket of its own: it serves the connections read from ``channel``,
    and stops (uvicorn's graceful shutdown) when the supervisor closes its end, or on SIGTERM or SIGINT."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self._channel = channel
        self._handing: set[asyncio.Task[None]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup with no listening socket (``sockets`` is not used), then the channel is read."""
        await super().startup(sockets=[])
        if self.should_exit:
            return
        loop = asyncio.get_running_loop()
        self._channel.setblocking(False)
        loop.add_reader(self._channel.fileno(), self._receive)
        self._channel.send(READY)

    def _receive(self) -> None:
        try:
            message, descriptors, _, _ = socket.recv_fds(self._channel, 16, 4)
        except BlockingIOError:
            return
        except OSError:
            message, descriptors = b"", []
        if not message:
            self._close_channel()
            # The connections just handed over get their first request read before the shutdown closes
            # the idle ones (which would reset a client whose request is still unread).
            asyncio.get_running_loop().call_later(DRAIN_S, setattr, self, "should_exit", True)
            return
        for descriptor in descriptors:
            task = asyncio.get_running_loop().create_task(self._serve_connection(socket.socket(fileno=descriptor)))
            self._handing.add(task)
            task.add_done_callback(self._handing.discard)

    async def _serve_connection(self, connection: socket.socket) -> None:
        config = self.config
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: config.http_protocol_class(  # type: ignore[call-arg]
                    config=config, server_state=self.server_state, app_state=self.lifespan.state
                ),
                connection,
            )
        except OSError:  # the client went away in between
            connection.close()

    def _close_channel(self) -> None:
        if self._channel.fileno() >= 0:
            asyncio.get_running_loop().remove_reader(self._channel.fileno())
            self._channel.close()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """New connections stop first: the supervisor's next ones go to the other processes."""
        self._close_channel()
        await super().shutdown(sockets)


def main(argv: list[str]) -> None:
    descriptor, host, port = int(argv[0]), argv[1], int(argv[2])
    channel = socket.socket(fileno=descriptor)
    config = uvicorn.Config("api.app:served_app", factory=True, **uvicorn_options(host, port))
    HandedServer(config, channel).run()


if __name__ == "__main__":
    main(sys.argv[1:])
