"""A loopback TCP proxy that can freeze, resume and reset the connections it carries.

It runs its own asyncio loop in a background thread, so the benchmark's plain threads can call
freeze(), resume() and reset() at any moment. Used between the service and PostgreSQL to simulate
a network that stalls (packets stop, sockets stay open) or drops every connection at once.
"""
import asyncio
import threading

CHUNK = 64 * 1024


class _Link:
    """One proxied connection: the client's socket and the matching upstream socket."""

    def __init__(self, client_writer, upstream_writer):
        self.writers = (client_writer, upstream_writer)
        self.closed = False

    def close(self):
        # abort() instead of close(): no graceful flush, the peers see the connection drop at once
        if not self.closed:
            self.closed = True
            for writer in self.writers:
                writer.transport.abort()


class FaultProxy:
    def __init__(self, upstream_port, host="127.0.0.1"):
        self.host = host
        self.upstream_port = upstream_port
        self.port = None
        self.connections_accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._flowing = None  # asyncio.Event, created on the proxy's loop
        self._server = None
        self._links = set()

    # --- called from the benchmark's threads ----------------------------------------------------

    def start(self):
        self._thread.start()
        self._run(self._listen())
        return self.port

    def freeze(self):
        """Stop moving bytes in both directions; every socket stays open."""
        self._run(self._set_flowing(False))

    def resume(self):
        self._run(self._set_flowing(True))

    def reset(self):
        """Drop every proxied connection; returns how many were dropped."""
        return self._run(self._drop_all())

    def open_connections(self):
        return self._run(self._count())

    def stop(self):
        if not self._thread.is_alive():
            return
        try:
            self._run(self._shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def _run(self, coroutine, timeout=10):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    # --- on the proxy's loop --------------------------------------------------------------------

    async def _listen(self):
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._on_client, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set_flowing(self, flowing):
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _drop_all(self):
        links = list(self._links)
        for link in links:
            link.close()
        return len(links)

    async def _count(self):
        return len(self._links)

    async def _shutdown(self):
        self._server.close()
        await self._drop_all()
        self._flowing.set()  # lets pumps parked on a freeze see their closed link and finish

    async def _on_client(self, client_reader, client_writer):
        self.connections_accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.upstream_port), timeout=5)
        except (OSError, asyncio.TimeoutError):
            client_writer.transport.abort()  # upstream down: the client sees a refused/dropped connection
            return
        link = _Link(client_writer, upstream_writer)
        self._links.add(link)
        try:
            await asyncio.gather(self._pump(client_reader, upstream_writer, link),
                                 self._pump(upstream_reader, client_writer, link))
        finally:
            link.close()
            self._links.discard(link)

    async def _pump(self, reader, writer, link):
        """Copies one direction; waits on the freeze gate both before reading and before writing."""
        try:
            while not link.closed:
                await self._flowing.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                await self._flowing.wait()  # a freeze that started during the read holds these bytes
                if link.closed:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            link.close()  # PostgreSQL's protocol has no use for half-open connections
