/** Test support: record concurrent API histories and check them for linearizability. */
export type { AddressInput, AddressState, Holder } from './addressModel.js';
export { addressModel } from './addressModel.js';
export type { Anomaly, CheckOptions, HistoryReport, LinearizabilityAnomaly } from './check.js';
export { checkHistory, describeAnomalies } from './check.js';
export type { CrossAnomaly } from './crossChecks.js';
export type { LinearizabilityResult, Model, Operation, StepResult } from './linearizability.js';
export { checkLinearizable } from './linearizability.js';
export { partitionHistory } from './projection.js';
export type { RecordingClient } from './recorder.js';
export { HistoryRecorder, httpClient, inProcessClient, outcomeOfError } from './recorder.js';
export type {
  AllocationFields,
  ApiInput,
  ApiOperation,
  Outcome,
  PoolRange,
  SubnetStart,
} from './types.js';
