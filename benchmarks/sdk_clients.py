"""Benchmark: the stripe SDK's cost per request, threads (RequestsClient) vs asyncio (HTTPXClient).

Run: ``.venv/bin/pip install httpx && .venv/bin/python benchmarks/sdk_clients.py`` (httpx
is not a dependency of the project; the SDK's async client needs it). Not part of the
test suite.

The same 600 ``subscription_schedules.retrieve`` calls, 32 at a time, against the Stripe
emulator answering after 50 ms, each way in its own child process: the engine's way (one
``StripeClient`` with the default ``RequestsClient``, shared by a pool of 32 threads) and
the SDK's async way (``HTTPXClient``, the ``*_async`` methods, ``asyncio.gather`` under a
semaphore of 32). Printed per way: wall time and CPU milliseconds per request. This is
what decided the engine's concurrency model (``docs/performance.md``).
"""

import subprocess
import sys
import time

N, C = 600, 32  # requests, in flight at once
CHILD = r'''
import asyncio, json, sys, time
from concurrent.futures import ThreadPoolExecutor
import stripe
url, mode, n, c, sid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
if mode == "threads":
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": url}, max_network_retries=0)
    client.v1.subscription_schedules.retrieve(sid)
    t, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(c) as pool:
        list(pool.map(lambda _: client.v1.subscription_schedules.retrieve(sid), range(n)))
else:
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": url}, max_network_retries=0,
                                 http_client=stripe.HTTPXClient())
    async def main():
        await client.v1.subscription_schedules.retrieve_async(sid)
        sem = asyncio.Semaphore(c)
        async def one():
            async with sem:
                await client.v1.subscription_schedules.retrieve_async(sid)
        global t, cpu
        t, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one() for _ in range(n)))
    asyncio.run(main())
print(json.dumps({"mode": mode, "wall": time.perf_counter() - t,
                  "cpu_ms_per_request": 1000 * (time.process_time() - cpu) / n}))
'''


def main() -> None:
    import stripe
    from generated_org import generate

    from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig, StripeEmulator

    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    g = generate(10)
    emu = StripeEmulator(seed=g.stripe_seed)
    emu.start(host="127.0.0.1", port=0)
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.url})
    cus = client.v1.customers.create(params={"name": "x"})
    sched = client.v1.subscription_schedules.create(params={
        "customer": cus.id, "start_date": int(time.time()) + 86400, "end_behavior": "cancel",
        "phases": [{"items": [{"price": "price_A", "quantity": 1}],
                    "duration": {"interval": "month", "interval_count": 1}}]})
    emu.set_faults(FaultConfig(latency_ms=50))
    for mode in ("threads", "asyncio", "threads", "asyncio"):
        out = subprocess.run([sys.executable, "-c", CHILD, emu.url, mode, str(N), str(C),
                              sched.id], capture_output=True, text=True, check=False)
        print(out.stdout.strip() or out.stderr[-1500:])
    emu.stop()


if __name__ == "__main__":
    main()
