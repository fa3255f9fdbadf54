// modbus-serial is CommonJS with `export default` typings; under NodeNext the class is `.default`
// (at runtime module.exports.default === module.exports, so this holds both ways).
import modbusSerial from 'modbus-serial';

export const ModbusRTU = modbusSerial.default;
export type ModbusRTUClient = InstanceType<typeof ModbusRTU>;
