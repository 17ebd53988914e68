/**
 * DynamoDB Local does not check IAM, so a function that calls an action its role
 * lacks would pass every other test and fail in AWS with AccessDenied. This test
 * reads the source each function bundles (esbuild's metafile, packages left out)
 * and compares the DynamoDB calls in it with infra/tableAccess.ts — both ways.
 *
 * functions/runtime.ts is left out of the walk: it only constructs clients, and
 * importing it would pull the allocator into every function, including meta.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/http/routes.js';
import { AUDIT_JOB_ENTRIES, AUDIT_JOB_FUNCTIONS } from '../../infra/constructs/AuditJob.js';
import { PROVIDER_FUNCTION } from '../../infra/constructs/IpamProvider.js';
import { PROJECT_ROOT } from '../../infra/functionSettings.js';
import { AUDIT_FUNCTION, STREAM_FUNCTION } from '../../infra/IpamStack.js';
import { type TableAction, tableAccessOf } from '../../infra/tableAccess.js';
import {
  failAudit,
  finishAudit,
  getLatestStartedAudit,
  LOCK_LEASE_MS,
  readReport,
  runAuditSegment,
  startAuditJob,
} from '../../shared/audit/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { keys } from '../../shared/store/keys.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

/** SDK command class (document client or low level) → the IAM action it needs. */
const COMMAND_ACTIONS: Record<string, TableAction | null> = {
  Get: 'GetItem',
  GetItem: 'GetItem',
  BatchGet: 'BatchGetItem',
  BatchGetItem: 'BatchGetItem',
  TransactGet: 'GetItem',
  TransactGetItems: 'GetItem',
  Query: 'Query',
  Scan: 'Scan',
  Put: 'PutItem',
  PutItem: 'PutItem',
  Update: 'UpdateItem',
  UpdateItem: 'UpdateItem',
  Delete: 'DeleteItem',
  DeleteItem: 'DeleteItem',
  BatchWrite: 'BatchWriteItem',
  BatchWriteItem: 'BatchWriteItem',
  DescribeTable: 'DescribeTable',
  // Authorised per item: see TRANSACT_ITEM_ACTIONS.
  TransactWrite: null,
  TransactWriteItems: null,
  // local/tables.ts ensureTables(): DynamoDB Local and tests only, never in Lambda.
  CreateTable: null,
  UpdateTable: null,
  UpdateTimeToLive: null,
  // Not DynamoDB: the stream processor's events (granted on its bus, infra/constructs/IpamHistory.ts).
  PutEvents: null,
  ListTables: null,
  // Not DynamoDB: Step Functions (functions/audit/launch.ts), checked as startsAuditJob.
  StartExecution: null,
};

const TRANSACT_ITEM_ACTIONS: Record<string, TableAction> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

interface Usage {
  readonly table: Set<TableAction>;
  readonly index: boolean;
  readonly idempotency: boolean;
  readonly startsAuditJob: boolean;
  readonly files: string[];
}

async function usageOf(name: string): Promise<Usage> {
  const entry = entryOf(name);
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    write: false,
    metafile: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
    plugins: [
      {
        name: 'leave-out-runtime',
        setup(pluginBuild) {
          pluginBuild.onResolve({ filter: /\/runtime\.js$/ }, (args) => ({
            path: args.path,
            external: true,
          }));
        },
      },
    ],
  });
  const files = Object.keys(result.metafile.inputs);
  const table = new Set<TableAction>();
  let transactions = false;
  let index = false;
  let startsAuditJob = false;
  const itemKinds = new Set<string>();
  for (const file of files) {
    const source = readFileSync(join(PROJECT_ROOT, file), 'utf8');
    // `new XCommand(` and lib-dynamodb's paginators (`paginateScan(`, `paginateQuery(`).
    for (const [, created, paginated] of source.matchAll(
      /(?:new (\w+)Command|\bpaginate(\w+))\(/g,
    )) {
      const command = created ?? paginated;
      const action = COMMAND_ACTIONS[command!];
      if (action === undefined) throw new Error(`${file}: map ${command}Command in this test`);
      if (action !== null) table.add(action);
      if (command!.startsWith('TransactWrite')) transactions = true;
      if (command === 'StartExecution') startsAuditJob = true;
    }
    for (const [, kind] of source.matchAll(/\b(Put|Update|Delete|ConditionCheck)\s*:\s*\{/g)) {
      itemKinds.add(kind!);
    }
    if (/\bIndexName\b/.test(source)) index = true;
  }
  if (transactions) for (const kind of itemKinds) table.add(TRANSACT_ITEM_ACTIONS[kind]!);
  const handler = readFileSync(entry, 'utf8');
  return {
    table,
    index,
    idempotency: /\bwithIdempotency\(/.test(handler),
    startsAuditJob,
    files,
  };
}

const names = [
  ...new Set(ROUTES.map((route) => route.group)),
  AUDIT_FUNCTION,
  ...Object.values(AUDIT_JOB_FUNCTIONS),
  PROVIDER_FUNCTION,
  STREAM_FUNCTION,
];

/** The handler file a function bundles, as IpamStack.ts picks it (the stream processor has its own folder). */
function entryOf(name: string): string {
  if (name === STREAM_FUNCTION) return join(PROJECT_ROOT, 'functions', 'stream', 'handler.ts');
  return join(PROJECT_ROOT, 'functions', `${AUDIT_JOB_ENTRIES[name] ?? name}.ts`);
}

/**
 * What an audit function's bundle holds but the function never calls with
 * `IPAM_AUDIT_STATE_MACHINE_ARN` set (the stack sets it for every function that
 * starts jobs). The walk is per file, and the audit's files serve every step:
 * job.ts holds the start, the segment scan and the merge, launch.ts the in-process
 * runner, so every audit bundle holds every audit action. Which step calls what is
 * read from the code (infra/tableAccess.ts) and checked below against DynamoDB Local
 * ("each audit step calls only what its function is granted").
 */
const NOT_CALLED_IN_AWS: Readonly<
  Record<string, { readonly table: readonly TableAction[]; readonly index: boolean }>
> = {
  audits: { table: ['Scan', 'UpdateItem', 'BatchGetItem', 'ConditionCheckItem'], index: true },
  auditSchedule: {
    table: ['Scan', 'Query', 'UpdateItem', 'BatchGetItem', 'ConditionCheckItem'],
    index: true,
  },
  auditSegment: { table: ['DescribeTable'], index: true },
  auditMerge: { table: ['DescribeTable', 'Scan'], index: false },
  auditFail: {
    table: ['DescribeTable', 'Scan', 'Query', 'UpdateItem', 'BatchGetItem', 'ConditionCheckItem'],
    index: true,
  },
};

describe('declared DynamoDB access matches the code', () => {
  it.each(names)('%s', async (name) => {
    expect(existsSync(entryOf(name))).toBe(true);
    const used = await usageOf(name);
    const access = tableAccessOf(name);
    const granted = new Set(access.table);
    const notCalled = NOT_CALLED_IN_AWS[name] ?? { table: [], index: false };
    const excluded = new Set(notCalled.table);
    const missing = [...used.table].filter(
      (action) => !granted.has(action) && !excluded.has(action),
    );
    const unused = [...granted].filter((action) => !used.table.has(action));
    // An exclusion the bundle no longer holds, or one that is granted anyway, is stale.
    const stale = notCalled.table.filter(
      (action) => !used.table.has(action) || granted.has(action),
    );
    expect({ missing, unused, stale }, `files: ${used.files.join(' ')}`).toEqual({
      missing: [],
      unused: [],
      stale: [],
    });
    if (notCalled.index)
      expect({ index: used.index, granted: access.index }).toEqual({ index: true, granted: false });
    else expect(access.index).toBe(used.index);
    expect(access.idempotency).toBe(used.idempotency);
    expect(access.startsAuditJob).toBe(used.startsAuditJob);
  });

  it('meta only describes the table', async () => {
    expect([...(await usageOf('meta')).table]).toEqual(['DescribeTable']);
  });

  it('a function with no declared access fails the synth', () => {
    expect(() => tableAccessOf('reports')).toThrow(/No DynamoDB access is declared/);
  });
});

/** What one function's steps sent: the IAM actions, and whether a Query named the index. */
interface Calls {
  readonly table: Set<TableAction>;
  index: boolean;
}

/** A context for function `name` whose client records every request's IAM action. */
function recording(db: { ctx: IpamContext; endpoint: string }, calls: Map<string, Calls>) {
  return (name: string): IpamContext => {
    const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
    const into = calls.get(name) ?? { table: new Set<TableAction>(), index: false };
    calls.set(name, into);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName).replace(/Command$/, '');
        const input = args.input as { IndexName?: string; TransactItems?: object[] };
        if (command === 'TransactWriteItems') {
          for (const item of input.TransactItems ?? []) {
            for (const kind of Object.keys(item)) {
              const action = TRANSACT_ITEM_ACTIONS[kind];
              if (action !== undefined) into.table.add(action);
            }
          }
        } else {
          const action = COMMAND_ACTIONS[command];
          if (action === undefined) throw new Error(`map ${command}Command in this test`);
          if (action !== null) into.table.add(action);
        }
        if (command === 'Query' && input.IndexName !== undefined) into.index = true;
        return next(args);
      },
      { step: 'initialize', name: 'recordActions' },
    );
    return { ...db.ctx, doc: createDocumentClient(client) };
  };
}

describe('each audit step calls only what its function is granted', () => {
  it('start, progress, segments with repairs, merge, fail, and a start over an expired lock', {
    timeout: 120_000,
  }, async () => {
    const db = await createTestDb();
    const { ctx } = db;
    // A few subnets with allocations, an expiring lease and a drifted counter: repairs.
    const allocator = new TextAllocator(ctx);
    for (let i = 0; i < 2; i++) {
      const s = await createSubnet(ctx, { cidr: `10.41.${i * 2}.0/23`, space: 'access' });
      await allocator.allocate(s.id, { count: 3, owner: `web-${i}` });
      await allocator.allocate(s.id, { ip: `10.41.${i * 2 + 1}.9`, ttlSeconds: 60 });
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: keys.counter(s.id, 1),
          UpdateExpression: 'ADD n :n, p :n, ver :one',
          ExpressionAttributeValues: { ':n': 2, ':one': 1 },
        }),
      );
    }
    db.advance(61_000);
    const calls = new Map<string, Calls>();
    const as = recording(db, calls);

    // POST /audits and the schedule start jobs alike (launch.ts, then StartExecution).
    const job = await startAuditJob(as('audits'), { repair: true, gracePeriodMs: 0, segments: 2 });
    await readReport(as('audits'), job.id);
    await getLatestStartedAudit(as('audits'));
    for (const segment of [0, 1]) {
      for (let run = 0; run < 100; run++) {
        const { done } = await runAuditSegment(as(AUDIT_JOB_FUNCTIONS.segment), job.id, segment, {
          pageSize: 3,
          checkpointEveryMs: 0,
        });
        if (done) break;
      }
    }
    const report = await finishAudit(as(AUDIT_JOB_FUNCTIONS.merge), job.id);
    expect(report.status).toBe('complete');
    const repaired = report.findings.filter((finding) => finding.repaired === true);
    expect(repaired.length).toBeGreaterThan(0);
    await readReport(as('audits'), job.id);

    const second = await startAuditJob(as(AUDIT_FUNCTION), { repair: false });
    await failAudit(as(AUDIT_JOB_FUNCTIONS.fail), second.id, 'The audit job failed.');
    // A job that stopped without finishing: the next start marks it failed.
    await startAuditJob(ctx, { repair: false });
    db.advance(LOCK_LEASE_MS + 1);
    await startAuditJob(as(AUDIT_FUNCTION), { repair: false });

    expect(calls.get(AUDIT_JOB_FUNCTIONS.segment)?.table.has('Scan')).toBe(true);
    expect(calls.get(AUDIT_JOB_FUNCTIONS.merge)?.index).toBe(true);
    for (const [name, used] of calls) {
      const access = tableAccessOf(name);
      const beyond = [...used.table].filter((action) => !access.table.includes(action));
      expect({ name, beyond, index: used.index && !access.index }).toEqual({
        name,
        beyond: [],
        index: false,
      });
    }
  });
});
