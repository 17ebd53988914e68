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
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/http/routes.js';
import { AUDIT_JOB_ENTRIES, AUDIT_JOB_FUNCTIONS } from '../../infra/constructs/AuditJob.js';
import { PROVIDER_FUNCTION } from '../../infra/constructs/IpamProvider.js';
import { PROJECT_ROOT } from '../../infra/functionSettings.js';
import { AUDIT_FUNCTION } from '../../infra/IpamStack.js';
import { type TableAction, tableAccessOf } from '../../infra/tableAccess.js';

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
  UpdateTimeToLive: null,
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
];

/** The handler file a function bundles, as IpamStack.ts picks it. */
function entryOf(name: string): string {
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
