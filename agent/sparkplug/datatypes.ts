// Tag types → Sparkplug datatypes and metric values, and back for DCMD writes (docs/sparkplug.md has the
// table). Integers keep their width and sign; int64/uint64 travel exact in long_value (two's complement
// for negative int64), scaled values as doubles, strings as String, bool and bit tags as Boolean.
import type { TagConfig } from '../../plc/config/schema.js';
import type { TagValue } from '../../plc/codec/codec.js';
import { isIdentity } from '../../plc/codec/scale.js';
import type { SpMetric } from './payload-codec.js';

/** Sparkplug B datatype codes (Sparkplug 3.0 data types). */
export const DataType = {
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

const UNSCALED: Record<TagConfig['type'], DataTypeCode> = {
  bool: DataType.Boolean,
  bit: DataType.Boolean,
  int16: DataType.Int16,
  uint16: DataType.UInt16,
  int32: DataType.Int32,
  uint32: DataType.UInt32,
  int64: DataType.Int64,
  uint64: DataType.UInt64,
  float32: DataType.Float,
  float64: DataType.Double,
  string: DataType.String,
};

/** The datatype a tag is born with: a scaled or offset number is a Double whatever its register type. */
export function tagDataType(tag: TagConfig): DataTypeCode {
  const numeric = tag.type !== 'bool' && tag.type !== 'bit' && tag.type !== 'string';
  if (numeric && !isIdentity(tag)) return DataType.Double;
  return UNSCALED[tag.type];
}

const U64 = (1n << 64n) - 1n;

/** Sets the value field for `datatype` on m (or is_null when the value cannot be represented). */
export function setMetricValue(m: SpMetric, datatype: DataTypeCode, v: TagValue | null): SpMetric {
  if (v === null) {
    m.isNull = true;
    return m;
  }
  switch (datatype) {
    case DataType.Boolean:
      m.booleanValue = v === true || v === 1;
      break;
    case DataType.String:
      m.stringValue = String(v);
      break;
    case DataType.Float:
      m.floatValue = Number(v);
      break;
    case DataType.Double:
      m.doubleValue = Number(v);
      break;
    case DataType.Int8:
    case DataType.Int16:
    case DataType.Int32:
    case DataType.UInt8:
    case DataType.UInt16:
      // int_value is a uint32: signed values go in as their two's complement (Sparkplug 3.0).
      m.intValue = Number(v) >>> 0;
      break;
    case DataType.Int64:
    case DataType.UInt32:
    case DataType.UInt64:
      // The codec gives 64-bit values as exact numbers, or decimal strings past 2^53.
      m.longValue = BigInt(v) & U64;
      break;
  }
  return m;
}

/** A DCMD metric's value as the commands service expects it for `tag`; throws TypeError when absent. */
export function metricValueForTag(tag: TagConfig, m: SpMetric): unknown {
  if (m.isNull) throw new TypeError('a null value cannot be written');
  if (m.booleanValue !== undefined) return m.booleanValue;
  if (m.stringValue !== undefined) return m.stringValue;
  if (m.floatValue !== undefined) return m.floatValue;
  if (m.doubleValue !== undefined) return m.doubleValue;
  if (m.intValue !== undefined) {
    const signed =
      m.datatype === DataType.Int8 ||
      m.datatype === DataType.Int16 ||
      m.datatype === DataType.Int32;
    return signed ? m.intValue | 0 : m.intValue;
  }
  if (m.longValue !== undefined) {
    let big = BigInt(m.longValue);
    const signed =
      m.datatype === DataType.Int64 || (m.datatype === undefined && tag.type === 'int64');
    if (signed && big > (1n << 63n) - 1n) big -= 1n << 64n;
    // Exact decimal strings for 64-bit tags (the codec takes them), plain numbers otherwise.
    if (tag.type === 'int64' || tag.type === 'uint64')
      return Number.isSafeInteger(Number(big)) ? Number(big) : big.toString();
    return Number(big);
  }
  throw new TypeError('the metric carries no value');
}
