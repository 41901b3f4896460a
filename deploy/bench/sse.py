"""Opens N live streams (SSE over HTTPS) with one token, waits until all are connected,
prints 'connected', then on stdin 'go' reports the seconds until every stream received
one event."""
import asyncio, ssl, sys, time

host, port, token, n, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
ctx = ssl.create_default_context(cafile=cafile)
got = []

async def stream(i, ready, start):
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    writer.write(f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    connected = False
    while True:
        line = await reader.readline()
        if not line:
            return
        if not connected and line.startswith(b": connected"):
            connected = True
            ready.append(i)
        if line.startswith(b"event: ") and start[0] > 0:
            got.append(time.monotonic() - start[0])
            writer.close()
            return

async def main():
    ready, start = [], [0.0]
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(stream(i, ready, start)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    while len(ready) < n:
        await asyncio.sleep(0.1)
    print("connected", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start[0] = time.monotonic() + 0.2  # the event is committed 0.2 s after "go"
    await asyncio.wait(tasks, timeout=60)
    got.sort()
    print(f"received {len(got)}/{n} p50 {got[len(got)//2]:.3f}s max {got[-1]:.3f}s", flush=True)

asyncio.run(main())
