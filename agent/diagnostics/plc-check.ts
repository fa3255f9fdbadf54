// One PLC: connect (TCP or serial) and one Modbus read of its first tag, each with a clear verdict.
import modbusSerial from 'modbus-serial';
import type { PlcConfig } from '../../plc/config/schema.js';
import { tagWidth } from '../../plc/config/schema.js';
import { errCode, type DiagCheck } from './check.js';

// modbus-serial is CommonJS with `export default` typings: under NodeNext the class is `.default`.
const ModbusRTU = modbusSerial.default;

const CONNECT_ADVICE: Record<string, string> = {
  ECONNREFUSED:
    'The PLC refuses connections on this port: check that it is powered, that Modbus TCP is enabled and the port (usually 502).',
  EHOSTUNREACH:
    'No route to the PLC: check cabling, the switch and that the PLC is on the same subnet as the gateway.',
  ENETUNREACH: 'No route to the PLC network: check the gateway IP configuration and the cable.',
  ETIMEDOUT:
    'The PLC does not answer: check that it is powered and reachable (ping), and any firewall in between.',
  ENOTFOUND: 'The PLC host name does not resolve: use its IP address or fix DNS.',
  ENOENT: 'The serial device does not exist: check the USB adapter and the path (ls /dev/ttyUSB*).',
  EACCES: 'No permission on the serial device: run the container privileged or map the device.',
};

function connectAdvice(code: string): string {
  return (
    CONNECT_ADVICE[code] ??
    'Check the PLC is powered and reachable, and plcs[].transport in the config.'
  );
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        t = setTimeout(
          () =>
            reject(
              Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' }),
            ),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}

export async function plcCheck(plc: PlcConfig, timeoutMs?: number): Promise<DiagCheck> {
  const name = `plc.${plc.id}`;
  const timeout = timeoutMs ?? Math.max(plc.timeoutMs, 1000);
  const where =
    plc.transport.type === 'tcp'
      ? `${plc.transport.host}:${plc.transport.port}`
      : plc.transport.path;
  const client = new ModbusRTU();
  const detail: Record<string, unknown> = {
    transport: plc.transport.type,
    address: where,
    unitId: plc.unitId,
  };
  const t0 = performance.now();
  try {
    try {
      if (plc.transport.type === 'tcp')
        await withTimeout(
          client.connectTCP(plc.transport.host, { port: plc.transport.port }),
          timeout,
          'connect',
        );
      else {
        const t = plc.transport;
        await withTimeout(
          client.connectRTUBuffered(t.path, {
            baudRate: t.baudRate,
            parity: t.parity,
            dataBits: t.dataBits,
            stopBits: t.stopBits,
          }),
          timeout,
          'open',
        );
      }
    } catch (e) {
      const code = errCode(e);
      return {
        name,
        status: 'critical',
        message: `cannot connect to ${where}: ${code}`,
        recommendation: connectAdvice(code),
        detail: { ...detail, error: code },
      };
    }
    detail.connectMs = Math.round(performance.now() - t0);
    const tag = plc.groups[0]?.tags[0];
    if (!tag)
      return { name, status: 'ok', message: `connected to ${where}; no tag to read`, detail };
    client.setID(plc.unitId);
    client.setTimeout(timeout);
    const n = tag.area === 'coil' || tag.area === 'discrete' ? 1 : tagWidth(tag);
    const t1 = performance.now();
    try {
      const read: Promise<{ data: unknown[] }> =
        tag.area === 'coil'
          ? client.readCoils(tag.address, n)
          : tag.area === 'discrete'
            ? client.readDiscreteInputs(tag.address, n)
            : tag.area === 'holding'
              ? client.readHoldingRegisters(tag.address, n)
              : client.readInputRegisters(tag.address, n);
      const res = await withTimeout(read, timeout + 500, 'read');
      detail.readMs = Math.round(performance.now() - t1);
      detail.tag = tag.name;
      detail.raw = res.data.slice(0, n);
      return {
        name,
        status: 'ok',
        message: `connected to ${where}; read ${tag.name} (${tag.area} ${tag.address}) in ${detail.readMs} ms`,
        detail,
      };
    } catch (e) {
      const modbusCode = (e as { modbusCode?: number }).modbusCode;
      const code = errCode(e);
      detail.error = modbusCode !== undefined ? `exception ${modbusCode}` : code;
      if (modbusCode !== undefined)
        return {
          name,
          status: 'warning',
          message: `connected to ${where} but reading ${tag.name} (${tag.area} ${tag.address}) gave Modbus exception ${modbusCode}`,
          recommendation:
            modbusCode === 2
              ? `Illegal data address: check the address of ${tag.name} in the PLC map (zero-based) and its area.`
              : modbusCode === 1
                ? 'Illegal function: this PLC does not support this area; check the tag area.'
                : 'Check the PLC program and the unit id (plcs[].unitId).',
          detail,
        };
      return {
        name,
        status: 'critical',
        message: `connected to ${where} but no answer to a read of ${tag.name}: ${code}`,
        recommendation: `Check the unit id (plcs[].unitId = ${plc.unitId}) and that the device at ${where} speaks Modbus; raise plcs[].timeoutMs for slow PLCs.`,
        detail,
      };
    }
  } finally {
    await new Promise<void>((resolve) => {
      try {
        client.close(() => resolve());
      } catch {
        resolve();
      }
      // Not unref'd: close() of a client that never connected may never call back, and nothing
      // else may keep the process alive until diagnose has printed its report.
      setTimeout(resolve, 200);
    });
  }
}
