export { expectedContent } from './content.ts';
export type { FaultName, FaultRate, FixedLatency, Misroute, SimFaults } from './faults.ts';
export { DEFAULT_FAULTS, FAULT_NAMES } from './faults.ts';
export type { SimModel } from './models.ts';
export { DEFAULT_MODELS } from './models.ts';
export type { Simulator, SimulatorOptions } from './server.ts';
export { startSimulator } from './server.ts';
export type { ModelStats, Outcome, RecentRequest, SimStats } from './stats.ts';
export { OUTCOMES } from './stats.ts';
