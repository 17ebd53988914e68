/**
 * `checkHistory`: partitions a recorded API history per address, searches each
 * partition for a linearization against the address model, runs the cross-address
 * checks, and for every partition that cannot be linearized finds a small
 * counter-example: the shortest prefix (by invocation time) that already cannot be
 * linearized, operations still running at its cut counted as "may or may not have
 * happened" (a prefix of a linearizable history is linearizable, so the prefix is a
 * genuine counter-example), with the model's reason for each operation that could
 * not be placed after the longest partial linearization.
 */
import { type AddressState, addressModel, describeOutcome } from './addressModel.js';
import { type CrossAnomaly, crossAddressChecks } from './crossChecks.js';
import { checkLinearizable } from './linearizability.js';
import {
  type AddressOperation,
  type Partition,
  partitionHistory,
  pendingAt,
} from './projection.js';
import type { ApiOperation, SubnetStart } from './types.js';

export interface LinearizabilityAnomaly {
  readonly kind: 'not-linearizable';
  /** `<subnetId> <ip>` */
  readonly key: string;
  readonly message: string;
  /** The counter-example, rendered one operation per line. */
  readonly counterExample: readonly string[];
  readonly operations: readonly ApiOperation[];
}

export type Anomaly = LinearizabilityAnomaly | CrossAnomaly;

export interface HistoryReport {
  readonly operations: number;
  readonly ambiguous: number;
  readonly partitions: number;
  readonly anomalies: readonly Anomaly[];
  /** Partitions the search gave up on (no verdict). */
  readonly undecided: readonly string[];
  readonly steps: number;
}

export interface CheckOptions {
  /** Search steps per partition before giving up (default 1,000,000). */
  readonly maxSteps?: number;
}

export function checkHistory(
  history: readonly ApiOperation[],
  subnets: readonly SubnetStart[],
  options: CheckOptions = {},
): HistoryReport {
  const anomalies: Anomaly[] = [];
  const undecided: string[] = [];
  let steps = 0;
  const partitions = partitionHistory(history, subnets);
  for (const partition of partitions) {
    const result = checkLinearizable(
      addressModel,
      partition.initial,
      partition.operations,
      options,
    );
    steps += result.steps;
    if (result.verdict === 'unknown') undecided.push(partition.key);
    if (result.verdict === 'illegal') anomalies.push(explain(partition, options));
  }
  anomalies.push(...crossAddressChecks(history, subnets));
  return {
    operations: history.length,
    ambiguous: history.filter((op) => op.output.status === 'ambiguous').length,
    partitions: partitions.length,
    anomalies,
    undecided,
    steps,
  };
}

/** Renders a report's anomalies for a test failure message or the soak's output. */
export function describeAnomalies(report: HistoryReport): string {
  return report.anomalies
    .map((anomaly) =>
      anomaly.kind === 'not-linearizable'
        ? `${anomaly.key}: ${anomaly.message}\n${anomaly.counterExample.map((line) => `  ${line}`).join('\n')}`
        : `${anomaly.subnetId}: ${anomaly.kind}: ${anomaly.message}\n${anomaly.operations.map((op) => `  ${renderApi(op, op.call)}`).join('\n')}`,
    )
    .join('\n');
}

function explain(partition: Partition, options: CheckOptions): LinearizabilityAnomaly {
  const byCall = [...partition.operations].sort((a, b) => a.call - b.call);
  const illegalAt = (length: number) => {
    const cut = (byCall[length - 1] as AddressOperation).call;
    const prefix = byCall.slice(0, length).map((op) => pendingAt(op, cut));
    return checkLinearizable(addressModel, partition.initial, prefix, options).verdict === 'illegal'
      ? prefix
      : undefined;
  };
  // The shortest failing prefix (failing is monotone in the prefix length).
  let lo = 1;
  let hi = byCall.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (illegalAt(mid) !== undefined) hi = mid;
    else lo = mid + 1;
  }
  const prefix = illegalAt(lo) ?? byCall;
  const result = checkLinearizable(addressModel, partition.initial, prefix, options);
  const placed = new Set(result.linearization);
  // Replay the longest partial linearization to say why the rest cannot follow it.
  let state: AddressState = partition.initial;
  const byId = new Map(prefix.map((op) => [op.id, op]));
  for (const id of result.linearization) {
    const op = byId.get(id) as AddressOperation;
    const step = addressModel.step(state, op.input, op.output);
    if (step.ok) state = step.states[step.states.length - 1] as AddressState;
  }
  const origin = Math.min(...prefix.map((op) => op.call));
  const reasons: string[] = [];
  for (const op of prefix) {
    if (placed.has(op.id)) continue;
    const step = addressModel.step(state, op.input, op.output);
    if (!step.ok) reasons.push(`#${op.source.id}: ${step.reason}`);
  }
  const lines = prefix.map(
    (op) => `${placed.has(op.id) ? ' ' : '✗'} ${renderApi(op.source, origin, op)}`,
  );
  lines.push(
    `linearized: ${result.linearization.map((id) => `#${(byId.get(id) as AddressOperation).source.id}`).join(' → ') || '(none)'}`,
  );
  return {
    kind: 'not-linearizable',
    key: partition.key,
    message: `no linearization of ${prefix.length} operation(s): ${reasons.join('; ') || 'every order fails'}`,
    counterExample: lines,
    operations: prefix.map((op) => op.source),
  };
}

function renderApi(op: ApiOperation, origin: number, projected?: AddressOperation): string {
  const time = (t: number) => (Number.isFinite(t) ? (t - origin).toFixed(1) : '∞');
  const { kind, subnetId: _subnet, ...rest } = op.input;
  const output = projected?.output ?? op.output;
  return `#${op.id} ${op.client} [${time(op.call)}, ${time(projected?.return ?? op.return)}] ${kind} ${JSON.stringify(rest)} → ${describeOutcome(output)}`;
}
