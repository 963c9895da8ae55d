#!/usr/bin/env python3
"""A TCP relay that holds every byte for a fixed time in each direction.

It stands in for the one-way delay of a network link on test hosts whose kernel has no netem
qdisc. Order is kept: each direction is one queue of (due time, bytes), sent when due.

    delay_relay.py SECONDS LISTEN_HOST:PORT:TARGET_HOST:PORT [...]

Runs until SIGTERM. A connection to the target that fails closes the accepted one, as a
refused or unreachable peer would.
"""
import asyncio
import signal
import sys


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    sender = asyncio.create_task(send())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((loop.time() + delay, None))
    await sender


def serve(delay, target_host, target_port):
    async def on_accept(client_reader, client_writer):
        try:
            target_reader, target_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(pump(client_reader, target_writer, delay),
                                 pump(target_reader, client_writer, delay))
        except asyncio.CancelledError:
            pass  # the relay is stopping

    return on_accept


async def main(argv):
    delay = float(argv[0])
    servers = []
    for route in argv[1:]:
        listen_host, listen_port, target_host, target_port = route.rsplit(":", 3)
        servers.append(await asyncio.start_server(serve(delay, target_host, int(target_port)),
                                                  listen_host, int(listen_port)))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("relaying", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1:]))
