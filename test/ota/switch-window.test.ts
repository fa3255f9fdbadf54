// The pieces of an agent switch waiting for its maintenance window, without the image: an unsigned
// "now" is refused now-unsigned; the launcher's rule (waitsForWindow) holds only before the window and
// after it, for agent bundles in Switching; ota/state says which window it waits for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOffer } from '../../ota/agent/offer.js';
import { isOtaRefusal } from '../../ota/errors.js';
import { waitsForWindow } from '../../ota/device/states.js';
import { initialState, type OtaState } from '../../ota/device/state-store.js';
import { statePayload } from '../../ota/agent/state-payload.js';

const refusal = (payload: string): string | undefined => {
  try {
    parseOffer(Buffer.from(payload));
    return undefined;
  } catch (e) {
    return isOtaRefusal(e) ? e.reason : 'other';
  }
};

test('"now" outside the signed manifest is refused now-unsigned', () => {
  assert.equal(refusal(JSON.stringify({ url: 'https://h/x.bundle', now: true })), 'now-unsigned');
  assert.equal(refusal(JSON.stringify({ manifest: 'a.b.c', now: true })), 'now-unsigned');
  assert.equal(refusal(JSON.stringify({ manifest: 'a.b.c', now: false })), 'now-unsigned');
  assert.equal(refusal(JSON.stringify({ url: 'https://h/x.bundle' })), undefined);
});

function switching(start: number, end: number, target: 'agent' | 'plc-map' = 'agent'): OtaState {
  const s = initialState();
  s.phase = 'Switching';
  s.update = {
    id: 'wms-gateway@0.2.0#2',
    target,
    source: {},
    startedAt: new Date(0).toISOString(),
    switchWindow: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
  };
  return s;
}

test('the launcher waits before the window and after it, switches inside it', () => {
  const s = switching(10_000, 20_000);
  assert.equal(waitsForWindow(s, 9_999), true);
  assert.equal(waitsForWindow(s, 10_000), false);
  assert.equal(waitsForWindow(s, 19_999), false);
  assert.equal(waitsForWindow(s, 20_000), true, 'past the end: waits for the next window');
  assert.equal(waitsForWindow(switching(10_000, 20_000, 'plc-map'), 0), false, 'maps do not wait');
  const now = initialState();
  now.phase = 'Switching';
  now.update = { id: 'x', source: {}, startedAt: new Date(0).toISOString() };
  assert.equal(waitsForWindow(now, 0), false, 'no window recorded: switch at once');
  s.phase = 'Probation';
  assert.equal(waitsForWindow(s, 0), false);
});

test('ota/state says which window the switch waits for', () => {
  const start = Date.now() + 60_000;
  const p = statePayload(switching(start, start + 60_000), '0.1.0');
  assert.deepEqual(p.waitsForWindow, {
    start: new Date(start).toISOString(),
    end: new Date(start + 60_000).toISOString(),
  });
  const inside = statePayload(switching(Date.now() - 1000, Date.now() + 60_000), '0.1.0');
  assert.equal(inside.waitsForWindow, undefined);
});
