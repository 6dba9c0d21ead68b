"""``python -m bench.otlp_sink PORT``: a real OTLP/HTTP receiver (oteltap) that keeps nothing.

Sampled spans must cost what they cost in a pod (serialisation, the batch processor's
thread, an HTTP round trip), so benchmarks export them here rather than to nowhere.
"""

from __future__ import annotations

import asyncio
import sys

from oteltap import OtelTapHttpProtobufReceiver, OtelTapHttpProtobufReceiverSettings


async def serve(port: int) -> None:
    async with OtelTapHttpProtobufReceiver(OtelTapHttpProtobufReceiverSettings(http_port=port)):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
