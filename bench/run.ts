/**
 * `npm run bench [-- --quick] [-- --json]`: the allocator against a raw-write
 * ceiling and a Neutron-style baseline, on a DynamoDB Local of its own.
 *
 * --quick  everything in ≤ 2 minutes on an idle 2-core machine: shorter measurements,
 *          the baseline on a /17, the size run's /16 pre-filled lazily, and a fill
 *          subnet sized from the allocation rate measured in this run (the /16 when
 *          it fits)
 * --json   the result as one JSON object on stdout (progress stays on stderr)
 * --audit  only the audit bench (bench/audit.ts): a 100,000-item table audited clean
 *          and with planted drift (bench/results/latest-audit.json)
 *
 * The result is also written to bench/results/latest.json and latest-<mode>.json
 * (git-ignored).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  runBulk,
  runChurn,
  runFill,
  runSize,
  type SizeResult,
  warmUpAllocator,
} from './allocatorPhases.js';
import { auditText, runAuditBench } from './audit.js';
import { measureCeiling } from './ceiling.js';
import { measureColdStart } from './coldStart.js';
import { BenchEnv, progress } from './env.js';
import { round } from './metrics.js';
import { runBaseline } from './neutronBaseline.js';
import { checkShapes } from './prefill.js';
import { judge, type Measurements, toJson, toText } from './report.js';
import { verify } from './verify.js';

const QUICK_BUDGET_MS = 110_000;
/** Scan speed assumed when reserving time for the final verification (measured 2.5k–10k items/s). */
const SCAN_ITEMS_PER_SEC = 3_000;

interface Settings {
  readonly warmupRoundMs: number;
  readonly warmupRounds: number;
  readonly ceilingRoundMs: number;
  readonly ceilingWarmupRounds: number;
  readonly ceilingMeasureRounds: number;
  readonly ceilingMeasureMs: number;
  readonly transactionMs: number;
  readonly sizeMs: number;
  readonly sizePerWorker: number;
  readonly baselineCidr: string;
  readonly churnMs: number;
  readonly bulkMs: number;
  readonly baselineAllocations: number;
  readonly baselineConcurrency: number;
  readonly baselineMaxMs: number;
  readonly fillMaxMs: number;
}

const SETTINGS: Record<'quick' | 'full', Settings> = {
  quick: {
    warmupRoundMs: 1500,
    warmupRounds: 2,
    ceilingRoundMs: 1500,
    ceilingWarmupRounds: 2,
    ceilingMeasureRounds: 3,
    ceilingMeasureMs: 1000,
    transactionMs: 1500,
    sizeMs: 6000,
    sizePerWorker: 2,
    // Half the /16's 59k pre-filled items and its 1 MB-paged reads: ~20 s less; the
    // baseline's RCU per allocation is then half of the /16's (conservative for the target).
    baselineCidr: '10.90.0.0/17',
    churnMs: 2500,
    bulkMs: 1500,
    baselineAllocations: 1,
    baselineConcurrency: 1,
    baselineMaxMs: 0,
    fillMaxMs: 60_000,
  },
  full: {
    warmupRoundMs: 2000,
    warmupRounds: 6,
    ceilingRoundMs: 2000,
    ceilingWarmupRounds: 6,
    ceilingMeasureRounds: 3,
    ceilingMeasureMs: 3000,
    transactionMs: 4000,
    sizeMs: 30_000,
    sizePerWorker: 6,
    baselineCidr: '10.90.0.0/16',
    churnMs: 10_000,
    bulkMs: 10_000,
    baselineAllocations: 8,
    baselineConcurrency: 8,
    baselineMaxMs: 30_000,
    fillMaxMs: 480_000,
  },
};

/** Addresses in an IPv4 subnet's default pools (no network, gateway, broadcast). */
const ipv4Pool = (prefix: number) => 2 ** (32 - prefix) - 3;

/** Which allocator was measured: the commit, and whether shared/ differed from it. */
function sourceOf(root: string): {
  commit: string;
  sharedModified: boolean;
  allocationsSha256: string;
} {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    commit: git('rev-parse', 'HEAD') || 'unknown',
    sharedModified: git('status', '--porcelain', '--', 'shared') !== '',
    allocationsSha256: allocatorSha256(join(root, 'shared', 'allocator')),
  };
}

/** One hash over the allocator's files (name and content, in name order). */
function allocatorSha256(folder: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(folder).sort()) {
    if (!name.endsWith('.ts')) continue;
    hash.update(name).update(readFileSync(join(folder, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = new Set(process.argv.slice(2));
  for (const arg of args) {
    if (arg !== '--quick' && arg !== '--json' && arg !== '--audit')
      throw new Error(`Unknown option ${arg}; use --quick and/or --json, or --audit.`);
  }
  if (args.has('--audit')) {
    await auditMain(args.has('--json'));
    return;
  }
  const mode = args.has('--quick') ? 'quick' : 'full';
  const settings = SETTINGS[mode];
  const started = Date.now();
  const loadAtStart = loadavg()[0]!;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const resultsDir = join(root, 'bench', 'results');
  const source = sourceOf(root);

  progress(`mode ${mode}: starting DynamoDB Local`);
  const env = await BenchEnv.start();
  try {
    const shapeCheck = await checkShapes(env);
    progress(
      `pricing: transactions of 1 and 3 small items report ${env.pricing.observed.oneItem} and ${env.pricing.observed.threeItems} WCU; ${shapeCheck}`,
    );

    // First, as its 59k batch-written items also warm the JVM up for everything after.
    progress(
      `4. Neutron-style baseline: ${settings.baselineCidr} at 90 %, ${settings.baselineAllocations} allocation(s)`,
    );
    const neutronBaseline = await runBaseline(env, {
      cidr: settings.baselineCidr,
      fraction: 0.9,
      allocations: settings.baselineAllocations,
      concurrency: settings.baselineConcurrency,
      maxMs: settings.baselineMaxMs,
    });
    progress(
      `  ${neutronBaseline.rcuPerAlloc} RCU per allocation, ${neutronBaseline.allocsPerSec} allocs/s`,
    );

    progress('warm-up: allocations until the JVM has settled');
    const warmup = await warmUpAllocator(env, {
      roundMs: settings.warmupRoundMs,
      maxRounds: settings.warmupRounds,
    });

    progress('3. size independence: /24, /16, /8 at 50 % and an IPv6 /64');
    const sizes: SizeResult[] = [];
    for (const spec of [
      { cidr: '10.24.0.0/24', prefill: 'eager' as const },
      // --quick saves the /16's 33k batch-written items (~10 s, and their Scan) by the lazy pre-fill.
      { cidr: '10.16.0.0/16', prefill: mode === 'quick' ? ('lazy' as const) : ('eager' as const) },
      { cidr: '10.0.0.0/8', prefill: 'lazy' as const },
      { cidr: 'fd00:64::/64', prefill: 'lazy' as const },
    ]) {
      const size = await runSize(env, spec, {
        ms: settings.sizeMs,
        perWorker: settings.sizePerWorker,
        fraction: 0.5,
      });
      sizes.push(size);
      progress(
        `  ${size.cidr}: ${size.requestsPerAlloc} requests/allocation over ${size.allocations} allocations (pre-fill ${size.prefillSeconds} s)`,
      );
    }

    progress('5. churn: release+allocate pairs on a /16 at 90 %');
    const churn = await runChurn(env, '10.18.0.0/16', {
      ms: settings.churnMs,
      fraction: 0.9,
      seed: 2,
    });
    progress(`  ${churn.pairsPerSec} pairs/s, ${churn.requestsPerPair} requests per pair`);

    progress('6. bulk: count=100 on a fresh /16');
    const bulk = await runBulk(env, '10.17.0.0/16', { ms: settings.bulkMs, count: 100 });
    progress(
      `  ${bulk.requestsPerSec} requests/s, ${bulk.dynamoRequestsPerCall} DynamoDB requests each`,
    );

    progress('7. cold start: bundling functions/*.ts and importing each in fresh processes');
    const coldStart = await measureColdStart(root, join(resultsDir, 'bundles'));
    progress(`  ${coldStart.functions.length} handler(s) measured`);

    progress('1. ceiling: conditional PutItem of fresh keys at concurrency 32');
    const ceiling = await measureCeiling(env, {
      roundMs: settings.ceilingRoundMs,
      maxWarmupRounds: settings.ceilingWarmupRounds,
      measureRounds: settings.ceilingMeasureRounds,
      measureMs: settings.ceilingMeasureMs,
      transactionMs: settings.transactionMs,
    });
    progress(
      `  ${ceiling.putsPerSec} puts/s; bare allocation-shaped transactions ${ceiling.transactionsPerSec}/s`,
    );

    // The fill: the /16, unless --quick measured that it cannot finish in time.
    let prefix = 16;
    let fillChoice = 'the /16';
    let fillMaxMs = settings.fillMaxMs;
    if (mode === 'quick') {
      // The rate now, on a warm JVM: one short round on a fresh /16.
      const calibration = await warmUpAllocator(env, { roundMs: 1500, maxRounds: 1 });
      const described = await env.admin.doc.send(
        new DescribeTableCommand({ TableName: env.tableName }),
      );
      const items = described.Table?.ItemCount ?? 0;
      const reserveMs = (items / SCAN_ITEMS_PER_SEC) * 1000 + 4000;
      const budgetMs = QUICK_BUDGET_MS - (Date.now() - started) - reserveMs;
      const rate = calibration.allocsPerSec;
      // The last 10 % fill slower than the first 90 % (contention for the last addresses).
      const estimate = (p: number) => (ipv4Pool(p) / rate) * 1000 * 1.3;
      while (prefix < 24 && estimate(prefix) > budgetMs) prefix++;
      fillChoice =
        prefix === 16
          ? `the /16 fits: ~${round(estimate(16) / 1000, 0)} s at ${round(rate, 0)} allocations/s`
          : `--quick: the /16 would take ~${round(estimate(16) / 1000, 0)} s at the ${round(rate, 0)} allocations/s measured in this run, ${round(Math.max(0, budgetMs) / 1000, 0)} s were left`;
      fillMaxMs = Math.max(5000, budgetMs * 1.4);
    }
    const cidr = `10.${100 + prefix}.0.0/${prefix}`;
    progress(`2. fill: random allocations into ${cidr} at concurrency 32 (${fillChoice})`);
    const fill = await runFill(env, cidr, { maxMs: fillMaxMs });
    progress(`  ${fill.allocated}/${fill.poolSize} allocated in ${fill.seconds} s`);

    // Issue 17's phase: a /24 is one shard, so every allocation in it meets the others
    // on one counter; its rate beside the /16's shows what that costs.
    progress('8. small subnet: a /24 filled by 32 allocators');
    const smallFill = await runFill(env, '10.125.0.0/24', { maxMs: 60_000 });
    progress(`  ${smallFill.allocated}/${smallFill.poolSize} allocated in ${smallFill.seconds} s`);

    progress('verification: full Scan of the table');
    const verification = await verify(env);
    progress(
      `Verified by a full Scan of ${verification.itemsScanned} items: ${verification.duplicates} addresses held twice`,
    );

    const measurements: Measurements = {
      mode,
      startedAt: new Date(started).toISOString(),
      source,
      seconds: round((Date.now() - started) / 1000, 1),
      machine: {
        cpus: cpus().length,
        node: process.version,
        loadAverage1mAtStart: round(loadAtStart, 2),
        loadAverage1mAtEnd: round(loadavg()[0]!, 2),
      },
      pricing: env.pricing,
      shapeCheck,
      warmup,
      ceiling,
      fill,
      fillChoice,
      smallFill,
      sizes,
      neutronBaseline,
      churn,
      bulk,
      coldStart,
      verification,
    };
    const checks = judge(measurements);
    const json = toJson(measurements, checks);
    mkdirSync(resultsDir, { recursive: true });
    const text = `${JSON.stringify(json, null, 2)}\n`;
    writeFileSync(join(resultsDir, 'latest.json'), text);
    writeFileSync(join(resultsDir, `latest-${mode}.json`), text);
    if (args.has('--json')) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    else {
      process.stdout.write(`${toText(measurements, checks)}\n`);
      process.stdout.write(`\nJSON: ${join('bench', 'results', 'latest.json')}\n`);
    }
    progress(`done in ${round((Date.now() - started) / 1000, 1)} s`);
  } finally {
    await env.stop();
  }
}

/** `--audit`: the audit bench alone (bench/audit.ts). */
async function auditMain(asJson: boolean): Promise<void> {
  progress('audit bench: starting DynamoDB Local');
  const env = await BenchEnv.start();
  try {
    progress(`shapes: ${await checkShapes(env)}`);
    const result = await runAuditBench(env);
    const root = join(dirname(fileURLToPath(import.meta.url)), '..');
    const resultsDir = join(root, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, 'latest-audit.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${asJson ? JSON.stringify(result, null, 2) : auditText(result)}\n`);
  } finally {
    await env.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
