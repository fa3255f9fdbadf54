// The simulator of `npm run bench south`, in a process of its own so the bench measures the poller's
// CPU alone: unit 1 with float32 registers for up to 200 groups of 62 (high words give values of
// 10..2000, low words move every 5 ms).
import { startSimulator } from '../plc/simulator/simulator.js';

const FLOATS = 200 * 62;
const sim = await startSimulator({
  host: '127.0.0.1',
  port: 0,
  map: { units: [{ id: 1, sizes: { holding: 65536 } }] },
});
const regs = sim.registers(1, 'holding') as Uint16Array;
for (let i = 0; i < FLOATS * 2; i += 2) regs[i] = 0x4120 + ((i >> 1) % 256);
setInterval(() => {
  for (let i = 1; i < FLOATS * 2; i += 2) regs[i] = (regs[i]! + 1) & 0xffff;
}, 5);
process.send!(sim.port);
process.on('disconnect', () => process.exit(0));
