"""A loopback TCP proxy that can freeze, blackhole, reset and re-point the connections it carries.

It runs its own asyncio loop in a background thread, so the benchmark's plain threads can call
freeze(), blackhole(), restore(), reset() and switch_upstream() at any moment. Between the service
and PostgreSQL it plays three parts:

- a network that stalls: freeze() stops moving bytes, every socket stays open;
- a silent network (a dead node, a dropped NAT entry): blackhole() also leaves new connections
  accepted but unanswered, no RST and no data, until restore();
- the stable address of a failover (a Kubernetes Service, a cloud writer endpoint):
  switch_upstream() sends new connections to another PostgreSQL; links to the old one end when it
  dies, as they do when the node behind an address goes away.

One limit of a user-space proxy: the service's TCP peer is this proxy's socket, whose kernel keeps
acknowledging data and keepalive probes while nothing is forwarded. TCP keepalive cannot see this
blackhole; only timeouts above TCP (the request deadline, the probe timeout) can.
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
        self.connections_held = 0  # accepted during a blackhole, left unanswered
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._flowing = None    # asyncio.Event: bytes move on existing links
        self._answering = None  # asyncio.Event: new connections are connected upstream
        self._server = None
        self._links = set()
        self._held = set()      # writers of clients accepted during a blackhole, not yet connected

    # --- called from the benchmark's threads ----------------------------------------------------

    def start(self):
        self._thread.start()
        self._run(self._listen())
        return self.port

    def freeze(self):
        """Stop moving bytes in both directions; every socket stays open."""
        self._run(self._set(flowing=False, answering=True))

    def blackhole(self):
        """A freeze that also swallows new connections: accepted, never connected, never answered."""
        self._run(self._set(flowing=False, answering=False))

    def restore(self):
        """Back to normal after freeze() or blackhole(). Held bytes and held connections go on, as
        packets retransmitted after a partition heals would (a peer that gave up has closed by then)."""
        self._run(self._set(flowing=True, answering=True))

    resume = restore

    def switch_upstream(self, port):
        """New connections go to `port` from now on; existing links stay until their upstream ends."""
        self._run(self._switch(port))

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
        self._answering = asyncio.Event()
        self._answering.set()
        self._server = await asyncio.start_server(self._on_client, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set(self, flowing, answering):
        for event, on in ((self._flowing, flowing), (self._answering, answering)):
            if on:
                event.set()
            else:
                event.clear()

    async def _switch(self, port):
        self.upstream_port = port

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
        for writer in list(self._held):
            writer.transport.abort()
        # lets pumps parked on a freeze and clients held by a blackhole see the end and finish
        self._flowing.set()
        self._answering.set()

    async def _on_client(self, client_reader, client_writer):
        self.connections_accepted += 1
        if not self._answering.is_set():
            # blackhole: the kernel has completed the handshake; nothing more happens until restore
            self.connections_held += 1
            self._held.add(client_writer)
            try:
                await self._answering.wait()
            finally:
                self._held.discard(client_writer)
            if client_writer.transport.is_closing():
                return
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
        """Copies one direction; waits on the freeze gate both before reading and before writing.

        An end of stream is held at the gate like data: during a freeze or blackhole, a peer that
        hangs up is not seen by the other side until the network is back.
        """
        try:
            while not link.closed:
                await self._flowing.wait()
                try:
                    data = await reader.read(CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                await self._flowing.wait()  # a freeze that started during the read holds these bytes
                if not data or link.closed:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            link.close()  # PostgreSQL's protocol has no use for half-open connections
