/**
 * Records concurrent API calls as a history for `checkHistory`: each call's client,
 * input, outcome, and its invocation and response times on the monotonic clock
 * (`performance.now()`), plus the service clock for lease expiry.
 *
 * Two kinds of client record the same vocabulary: `inProcessClient` (an Allocator
 * and the subnet operations on an IpamContext) and `httpClient` (fetch against a
 * running server). Outcomes are classified as the HTTP contract does: 2xx ok, 4xx a
 * definite refusal, and 5xx / 503 / time-outs / thrown errors ambiguous.
 */
import { performance } from 'node:perf_hooks';
import { STATUS_BY_CODE } from '../../../functions/http/errors.js';
import type { Allocator } from '../../../shared/allocator/index.js';
import { IpamError } from '../../../shared/errors.js';
import { parseIp } from '../../../shared/net/address.js';
import { onSubnetDeleted } from '../../../shared/pools/index.js';
import type { IpamContext } from '../../../shared/store/context.js';
import { deleteSubnet, updateSubnet } from '../../../shared/subnets/subnets.js';
import { type CheckOptions, checkHistory, type HistoryReport } from './check.js';
import type { ApiInput, ApiOperation, Outcome, PoolRange, SubnetStart } from './types.js';

/**
 * How long after its answer an ambiguous operation may still take effect, in ms.
 * An in-process call that threw, or a server that answered 5xx, sends nothing
 * more; what may still land is a request the SDK gave up on (a lost answer, a
 * time-out) that DynamoDB has not finished yet, and, over HTTP, the server's own
 * work for a request the client stopped waiting for. Both end within seconds on
 * this machine; 10 s leaves a wide margin. Bounding the window is what keeps the
 * search small: an operation open forever (Porcupine's and Knossos' reading of an
 * unknown outcome) can be placed after everything, so each one doubles the
 * orders a long soak must consider.
 */
export const AMBIGUOUS_EFFECT_WINDOW_MS = 10_000;

type Body<K extends ApiInput['kind']> = Omit<Extract<ApiInput, { kind: K }>, 'kind' | 'subnetId'>;

export class HistoryRecorder {
  readonly operations: ApiOperation[] = [];
  readonly subnets: SubnetStart[] = [];

  /**
   * @param clock the service's clock (ms since the epoch), for lease expiry.
   * @param effectWindowMs see AMBIGUOUS_EFFECT_WINDOW_MS.
   */
  constructor(
    readonly clock: () => number = Date.now,
    readonly effectWindowMs = AMBIGUOUS_EFFECT_WINDOW_MS,
  ) {}

  /** Checks the history of this subnet from here on; `view` is its create (or GET) answer. */
  track(view: {
    id: string;
    cidr: string;
    gatewayIp: string | null;
    allocationPools: readonly PoolRange[];
  }): void {
    this.subnets.push({
      id: view.id,
      cidr: view.cidr,
      gatewayIp: view.gatewayIp,
      allocationPools: view.allocationPools.map(({ start, end }) => ({ start, end })),
    });
  }

  /** Runs `call`, recording it; `classify` turns its result or error into an outcome. */
  async record(client: string, input: ApiInput, call: () => Promise<Outcome>): Promise<Outcome> {
    const wallCall = this.clock();
    const start = performance.now();
    let output: Outcome;
    try {
      output = await call();
    } catch (error) {
      output = {
        status: 'ambiguous',
        reason: `threw ${(error as Error).name}: ${(error as Error).message}`,
      };
    }
    const end = performance.now();
    const ambiguous = output.status === 'ambiguous';
    this.operations.push({
      id: this.operations.length,
      client,
      input,
      output,
      call: start,
      // An ambiguous outcome may take effect up to the window after its answer.
      return: ambiguous ? end + this.effectWindowMs : end,
      wallCall,
      wallReturn: this.clock() + (ambiguous ? this.effectWindowMs : 0),
    });
    return output;
  }

  check(options?: CheckOptions): HistoryReport {
    return checkHistory(this.operations, this.subnets, options);
  }
}

/** A recording client: one method per API call, each answering the recorded outcome. */
export interface RecordingClient {
  readonly name: string;
  allocate(subnetId: string, body: Body<'allocate'>): Promise<Outcome>;
  release(subnetId: string, ip: string, owner?: string): Promise<Outcome>;
  update(subnetId: string, ip: string, patch: Body<'update'>['patch']): Promise<Outcome>;
  get(subnetId: string, ip: string): Promise<Outcome>;
  updateSubnet(subnetId: string, patch: Body<'updateSubnet'>['patch']): Promise<Outcome>;
  deleteSubnet(subnetId: string): Promise<Outcome>;
}

/** Classifies an error thrown in-process as the HTTP layer would answer it. */
export function outcomeOfError(error: unknown): Outcome {
  if (error instanceof IpamError && error.code in STATUS_BY_CODE) {
    const status = STATUS_BY_CODE[error.code as keyof typeof STATUS_BY_CODE];
    if (status < 500) return { status: 'error', code: error.code, details: error.details };
    return { status: 'ambiguous', reason: `${status} ${error.code}` };
  }
  return { status: 'ambiguous', reason: `threw ${(error as Error).name}` };
}

/** Calls the domain code directly: an Allocator for allocations, `ctx` for subnet operations. */
export function inProcessClient(
  recorder: HistoryRecorder,
  name: string,
  allocator: Allocator,
  ctx: IpamContext,
): RecordingClient {
  const run = (input: ApiInput, call: () => Promise<unknown>) =>
    recorder.record(name, input, async () => {
      try {
        return { status: 'ok', value: await call() };
      } catch (error) {
        return outcomeOfError(error);
      }
    });
  return {
    name,
    allocate: (subnetId, body) =>
      run({ kind: 'allocate', subnetId, ...body }, () =>
        allocator.allocate(subnetId, {
          ...body,
          ip: body.ip === undefined ? undefined : parseIp(body.ip),
          tags: body.tags === undefined ? undefined : { ...body.tags },
        }),
      ),
    release: (subnetId, ip, owner) =>
      run({ kind: 'release', subnetId, ip, ...(owner === undefined ? {} : { owner }) }, () =>
        allocator.release(subnetId, parseIp(ip), owner),
      ),
    update: (subnetId, ip, patch) =>
      run({ kind: 'update', subnetId, ip, patch }, () =>
        allocator.update(subnetId, parseIp(ip), {
          ...patch,
          tags: patch.tags === undefined ? undefined : { ...patch.tags },
        }),
      ),
    get: (subnetId, ip) =>
      run({ kind: 'get', subnetId, ip }, () => allocator.get(subnetId, parseIp(ip))),
    updateSubnet: (subnetId, patch) =>
      run({ kind: 'updateSubnet', subnetId, patch }, () => updateSubnet(ctx, subnetId, patch)),
    deleteSubnet: (subnetId) =>
      run({ kind: 'deleteSubnet', subnetId }, () => deleteSubnet(ctx, subnetId, onSubnetDeleted)),
  };
}

/** Calls a running server over HTTP (127.0.0.1); a response slower than `timeoutMs` is ambiguous. */
export function httpClient(
  recorder: HistoryRecorder,
  name: string,
  url: string,
  options: { timeoutMs?: number } = {},
): RecordingClient {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const send = (input: ApiInput, method: string, path: string, body?: unknown) =>
    recorder.record(name, input, async () => {
      const response = await fetch(`${url}${path}`, {
        method,
        signal: AbortSignal.timeout(timeoutMs),
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
      });
      const text = await response.text();
      const parsed: unknown = text.length > 0 ? JSON.parse(text) : undefined;
      if (response.status >= 500) return { status: 'ambiguous', reason: `HTTP ${response.status}` };
      if (response.status >= 400) {
        const error = (parsed as { error?: { code?: string; details?: Record<string, unknown> } })
          ?.error;
        return {
          status: 'error',
          code: error?.code ?? `HTTP_${response.status}`,
          details: error?.details ?? {},
        };
      }
      const value =
        method === 'POST' && path.endsWith('/allocations')
          ? (parsed as { allocations: unknown[] }).allocations
          : parsed;
      return { status: 'ok', value };
    });
  const at = (subnetId: string, ip: string) =>
    `/subnets/${encodeURIComponent(subnetId)}/allocations/${encodeURIComponent(ip)}`;
  return {
    name,
    allocate: (subnetId, body) =>
      send(
        { kind: 'allocate', subnetId, ...body },
        'POST',
        `/subnets/${encodeURIComponent(subnetId)}/allocations`,
        body,
      ),
    release: (subnetId, ip, owner) =>
      send(
        { kind: 'release', subnetId, ip, ...(owner === undefined ? {} : { owner }) },
        'DELETE',
        `${at(subnetId, ip)}${owner === undefined ? '' : `?owner=${encodeURIComponent(owner)}`}`,
      ),
    update: (subnetId, ip, patch) =>
      send({ kind: 'update', subnetId, ip, patch }, 'PATCH', at(subnetId, ip), patch),
    get: (subnetId, ip) => send({ kind: 'get', subnetId, ip }, 'GET', at(subnetId, ip)),
    updateSubnet: (subnetId, patch) =>
      send(
        { kind: 'updateSubnet', subnetId, patch },
        'PATCH',
        `/subnets/${encodeURIComponent(subnetId)}`,
        patch,
      ),
    deleteSubnet: (subnetId) =>
      send(
        { kind: 'deleteSubnet', subnetId },
        'DELETE',
        `/subnets/${encodeURIComponent(subnetId)}`,
      ),
  };
}
