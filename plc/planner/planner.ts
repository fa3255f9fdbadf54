// Request planner: which Modbus reads and writes serve a set of tags (south side, before the driver).
export {
  planReads,
  isBitArea,
  spanOf,
  MODBUS_MAX_READ_REGISTERS,
  MODBUS_MAX_READ_BITS,
  type ReadBlock,
  type ReadLimits,
} from './plan-reads.js';
export { decodeBlock, decodeBlockInto, type BlockResult } from './decode-block.js';
export {
  planWrites,
  MODBUS_MAX_WRITE_REGISTERS,
  MODBUS_MAX_WRITE_COILS,
  type WriteOp,
} from './plan-writes.js';
export { PlanError, isPlanError } from './plan-error.js';
