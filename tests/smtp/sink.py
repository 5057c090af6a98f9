"""An SMTP server for the mail tests: accepts every message and keeps it.

Usage: sink.py DIRECTORY [PORT]

Binds 127.0.0.1 on PORT (0 or absent: any free port), prints "port N" once it listens, and writes
every message it receives, as received, to DIRECTORY/<arrival ns>-<sequence>.eml (written to a
temporary name first, then renamed, so a reader never sees half a message). Runs until killed.
"""

import asyncio
import itertools
import os
import sys
import time

from aiosmtpd.smtp import SMTP


class Keep:
    def __init__(self, directory):
        self.directory = directory
        self.sequence = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        arrived = time.time_ns()
        name = f"{arrived}-{next(self.sequence):06d}.eml"
        temporary = os.path.join(self.directory, "." + name + ".tmp")
        with open(temporary, "wb") as out:
            out.write(envelope.original_content or envelope.content)
        os.rename(temporary, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


async def main():
    directory = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    os.makedirs(directory, exist_ok=True)
    handler = Keep(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", enable_SMTPUTF8=True, decode_data=False),
        host="127.0.0.1",
        port=port,
        reuse_address=True,
    )
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
