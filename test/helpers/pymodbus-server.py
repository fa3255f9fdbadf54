"""A Modbus TCP server we did not write: Debian's python3-pymodbus (3.0.x), for the tests.

Usage: pymodbus-server.py PORT UNIT[,UNIT...]
Each unit u serves holding registers 0..9: float32 (u + 0.5) ABCD at 0, uint32 (u * 100001) ABCD at
2, int16 (-u) at 4, and 1000 * u + i at 5..9. Units not listed are absent: pymodbus drops their
requests without an answer (a silent unit behind a gateway). Prints "ready" once listening, then
"connections open=N total=M" whenever a client connects or disconnects.
"""
import asyncio
import struct
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.server.async_io import ModbusConnectedRequestHandler, ModbusTcpServer

port = int(sys.argv[1])
units = [int(u) for u in sys.argv[2].split(",")]

counts = {"open": 0, "total": 0}


def report():
    print(f"connections open={counts['open']} total={counts['total']}", flush=True)


made = ModbusConnectedRequestHandler.connection_made
lost = ModbusConnectedRequestHandler.connection_lost


def connection_made(self, transport):
    counts["open"] += 1
    counts["total"] += 1
    report()
    return made(self, transport)


def connection_lost(self, exc):
    counts["open"] -= 1
    report()
    return lost(self, exc)


ModbusConnectedRequestHandler.connection_made = connection_made
ModbusConnectedRequestHandler.connection_lost = connection_lost


def registers(u):
    words = list(struct.unpack(">2H", struct.pack(">f", u + 0.5)))
    words += list(struct.unpack(">2H", struct.pack(">I", u * 100001)))
    words += [(-u) & 0xFFFF]
    words += [1000 * u + i for i in range(5, 10)]
    # pymodbus' sequential block is addressed from 1 for protocol address 0
    return ModbusSequentialDataBlock(1, words + [0] * 90)


slaves = {u: ModbusSlaveContext(hr=registers(u), zero_mode=False) for u in units}
context = ModbusServerContext(slaves=slaves, single=False)


async def main():
    server = ModbusTcpServer(context, address=("127.0.0.1", port), allow_reuse_address=True)
    task = asyncio.ensure_future(server.serve_forever())
    await server.serving  # set once the socket listens
    print("ready", flush=True)
    await task


asyncio.run(main())
