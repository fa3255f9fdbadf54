// requireSignature: false (demo only): plain JSON commands run, and the gateway says so loudly at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { validateConfig } from '../../agent/config/validate.js';
import { AuditLog } from '../../agent/audit/audit-log.js';
import { CommandService } from '../../agent/commands/command-service.js';
import { createLogger } from '../../platform/logger.js';
import { PollerSet } from '../../plc/poller/poller-set.js';
import { tmpDir } from '../helpers/tmp.js';
import { ackAndResult, startHarness } from './harness.js';
import { cmdId } from './signer.js';

test(
  'the service logs a warning at start when signatures are not required',
  { timeout: 10_000 },
  async (t) => {
    const dir = tmpDir();
    t.after(dir.cleanup);
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    const config = validateConfig({ commands: { requireSignature: false } });
    const audit = await AuditLog.open(join(dir.path, 'audit'), config.commands.audit);
    t.after(() => audit.close());
    const svc = await CommandService.create({
      settings: config.commands,
      dataDir: dir.path,
      pollers: new PollerSet({ logger }),
      link: { publishEvent: async () => undefined },
      audit,
      logger,
    });
    await svc.close();
    const warn = lines.find(
      (l) => l.level === 40 && /requireSignature is false/.test(String(l.msg)),
    );
    assert.ok(warn, JSON.stringify(lines));
    const signed = validateConfig({});
    lines.length = 0;
    const svc2 = await CommandService.create({
      settings: signed.commands,
      dataDir: dir.path,
      pollers: new PollerSet({ logger }),
      link: { publishEvent: async () => undefined },
      audit,
      logger,
    });
    await svc2.close();
    assert.equal(lines.filter((l) => /requireSignature/.test(String(l.msg))).length, 0);
  },
);

test(
  'a plain JSON command is accepted and runs (no iat/exp needed); a signed one still verifies',
  { timeout: 30_000 },
  async (t) => {
    const h = await startHarness({ commands: { requireSignature: false } });
    t.after(() => h.stop());
    const id = cmdId('plain');
    await h.send('cmd', JSON.stringify({ id, plc: 'plc1', op: 'write', values: { target: 321 } }));
    const { ack, result } = await ackAndResult(h, id);
    assert.equal(ack.status, 'accepted');
    assert.equal(result!.status, 'ok');
    const mb = await h.modbus(h.sims[0]!);
    assert.deepEqual((await mb.readHoldingRegisters(20, 1)).data, [321]);
    const forged = cmdId('forged');
    const jws = await h.signer.sign(
      { id: forged, plc: 'plc1', op: 'write', values: { target: 1 } },
      { kid: 'unknown' },
    );
    await h.send('cmd', jws);
    assert.match(String((await ackAndResult(h, forged)).ack.reason), /^unknown-key/);
  },
);
