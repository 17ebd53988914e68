/**
 * The carve protocol: take the best-fitting free block of a pool for a new subnet,
 * never overlapping anything in the pool's space.
 *
 * - **Find.** Read the pool, then one `Query` on the free partition, `sk >= <host
 *   bits of L>#`, `Limit 1`: the best fit. Its lowest /L is the candidate.
 * - **Claim.** Plan the subnet there (`planSubnet`: the usual defaults, `poolId`, the
 *   pool's space) and `insertSubnet` it. The space index stays the one authority on
 *   overlap: two carves racing for one candidate cannot both commit, whatever the
 *   free structure says.
 * - **Record.** One transaction: the pool's `ver`, a check that the subnet still
 *   exists, the carved block, and the free block replaced by what is left of it
 *   (`subtract`). Idempotent, and anyone may do it: a carve whose caller died after
 *   the insert is recorded by the next carve that meets it (after a 2 s grace).
 * - **Conflicts teach.** A candidate refused with SUBNET_OVERLAP names the subnet in
 *   the way. One of ours: a racing carve (back off with jitter, retry). Any other
 *   (created directly, or by another pool): take its part out of the free block as a
 *   foreign block and retry at once. A new pool learns the subnets already in its
 *   space when it is created; later direct creates are learned when a candidate
 *   meets them, so best fit is exact with respect to everything the pool has seen.
 * - **Cost.** A carve is 7 requests (pool, best fit, the 4 of `insertSubnet`, the
 *   record transaction), a preview 4, a release 3, however many subnets the pool
 *   holds. Transactions stay within 100 items because prefixes are subnet-sized
 *   (IPv4 /8 or longer, IPv6 /32 or longer): at most 96 levels of splitting.
 */
import {
  AllocationContentionError,
  PoolExhaustedError,
  PoolNotFoundError,
  PrefixLengthOutOfRangeError,
  SubnetNotFoundError,
  SubnetOverlapError,
  ValidationError,
} from '../errors.js';
import { type Cidr, cidrSize, formatCidr, parseCidr } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import { PoolBlockKind as Kind, keys } from '../store/keys.js';
import { backoffMs, sleep } from '../store/retry.js';
import { writeTransaction } from '../store/transactions.js';
import { type Subnet, type SubnetView, subnetView } from '../subnets/subnet.js';
import {
  type CreateSubnetInput,
  deleteSubnet,
  findOverlap,
  insertSubnet,
  loadSubnet,
  planSubnet,
} from '../subnets/subnets.js';
import { blocksOverlap, containsBlock, lowestPart, subtract } from './buddy.js';
import {
  bestFreeBlock,
  bumpPool,
  carvedItem,
  failedAt,
  foreignItem,
  loadPool,
  locate,
  onSubnetDeleted,
  readPool,
  reclaimStale,
  replaceFree,
  WRITE_ATTEMPTS,
} from './ledger.js';
import { type Pool, rootOf } from './pool.js';
import { totalAddresses, usageOf } from './usage.js';

/** The subnet body without `space` (the pool's), with either `cidr` or `prefixLength`. */
export type CarveSubnetInput = Omit<CreateSubnetInput, 'cidr' | 'space' | 'poolId'> & {
  readonly cidr?: string;
  readonly prefixLength?: number;
};

/** Lost races (a racing carve took the candidate) a carve survives before ALLOCATION_CONTENTION. */
const CARVE_ATTEMPTS = 40;
/** How long a carve's own caller has to record it before others do it for them. */
const RECORD_GRACE_MS = 2000;
/** Rounds of one carve, lost or learning; only a bug or a storm of direct creates reaches it. */
const MAX_ROUNDS = 1000;

interface Conflict {
  readonly subnetId: string;
  readonly cidr: string;
}
type ClaimResult<T> = { readonly won: T } | { readonly conflict: Conflict };

/**
 * Carves a subnet: at `cidr`, or the best fit for `prefixLength` (default: the pool's
 * defaultPrefixLength). Errors: 404 POOL_NOT_FOUND; 400 VALIDATION_ERROR for both
 * `cidr` and `prefixLength`, a `cidr` of the other version or outside every prefix
 * of the pool; 400 PREFIX_LENGTH_OUT_OF_RANGE outside [min, max]; 409
 * SUBNET_OVERLAP for a taken `cidr`; 409 POOL_EXHAUSTED; 503 ALLOCATION_CONTENTION;
 * and every error of `planSubnet` (gateway, allocation pools).
 */
export async function carveSubnet(
  ctx: IpamContext,
  poolId: string,
  input: CarveSubnetInput,
): Promise<SubnetView> {
  const pool = await loadPool(ctx, poolId);
  const { cidr, prefixLength, ...fields } = input;
  const plan = (block: Cidr) =>
    planSubnet(
      { ...fields, cidr: formatCidr(block), space: pool.space, poolId: pool.id },
      new Date(ctx.now()).toISOString(),
    );
  let carved: { pool: Pool; holder?: Cidr; won: Subnet };
  if (cidr !== undefined) {
    if (prefixLength !== undefined) {
      throw new ValidationError('Give either cidr or prefixLength, not both.', {
        field: 'prefixLength',
      });
    }
    const subnet = plan(explicitBlock(pool, cidr));
    await insertSubnet(ctx, subnet);
    carved = { pool, won: subnet };
  } else {
    const length = prefixLength ?? pool.defaultPrefixLength;
    assertPrefixLength(pool, length);
    carved = await claimNext<Subnet>(ctx, pool, length, async (_current, block) => {
      const subnet = plan(block);
      try {
        await insertSubnet(ctx, subnet);
        return { won: subnet };
      } catch (error) {
        if (error instanceof SubnetOverlapError) return { conflict: conflictOf(error) };
        throw error;
      }
    });
  }
  const subnet = carved.won;
  if ((await recordCarve(ctx, subnet, carved.pool, carved.holder)) === 'pool-gone') {
    // The pool was deleted while we carved: do not leave a subnet that names it.
    await deleteSubnet(ctx, subnet.id, onSubnetDeleted).catch((error: unknown) => {
      if (!(error instanceof SubnetNotFoundError)) throw error;
    });
    throw new PoolNotFoundError(pool.id);
  }
  return subnetView(subnet, { all: 0n, inPools: 0n });
}

/**
 * The CIDR the next carve of `prefixLength` would take, without taking it (409
 * POOL_EXHAUSTED when none is left). Like a carve it checks the space and learns
 * about subnets in the way, so its answer is what the next carve gets.
 */
export async function previewNextCidr(
  ctx: IpamContext,
  poolId: string,
  prefixLength?: number,
): Promise<{ cidr: string }> {
  const pool = await loadPool(ctx, poolId);
  const length = prefixLength ?? pool.defaultPrefixLength;
  assertPrefixLength(pool, length);
  const { won } = await claimNext<Cidr>(ctx, pool, length, async (current, block) => {
    const conflict = await findOverlap(ctx, current.space, block);
    return conflict === undefined ? { won: block } : { conflict };
  });
  return { cidr: formatCidr(won) };
}

function assertPrefixLength(pool: Pool, prefixLength: number): void {
  if (!Number.isInteger(prefixLength)) {
    throw new ValidationError('prefixLength must be an integer.', { field: 'prefixLength' });
  }
  const { minPrefixLength: min, maxPrefixLength: max } = pool;
  if (prefixLength < min || prefixLength > max) {
    throw new PrefixLengthOutOfRangeError(
      `Pool ${pool.id} carves /${min} to /${max}; /${prefixLength} is outside that range.`,
      { prefixLength, minPrefixLength: min, maxPrefixLength: max },
    );
  }
}

/** An explicit `cidr`: of the pool's version, prefix length in range, inside one prefix. */
function explicitBlock(pool: Pool, text: string): Cidr {
  const cidr = parseCidr(text);
  if (cidr.version !== pool.version) {
    throw new ValidationError(
      `${formatCidr(cidr)} is IPv${cidr.version}; pool ${pool.id} holds IPv${pool.version} prefixes.`,
      { field: 'cidr' },
    );
  }
  assertPrefixLength(pool, cidr.prefixLength);
  if (rootOf(pool, cidr) === undefined) {
    const prefixes = pool.prefixes.map(formatCidr);
    throw new ValidationError(
      `${formatCidr(cidr)} is not inside any prefix of pool ${pool.id} (${prefixes.join(', ')}).`,
      { field: 'cidr', prefixes },
    );
  }
  return cidr;
}

/**
 * The carve loop shared by carve and preview: best fit, then `claim` the lowest
 * /prefixLength of it; a conflict is recorded (ours) or learned (foreign) and the
 * loop goes on, until a claim wins, the pool is exhausted, or too many races are lost.
 */
async function claimNext<T>(
  ctx: IpamContext,
  first: Pool,
  prefixLength: number,
  claim: (pool: Pool, block: Cidr) => Promise<ClaimResult<T>>,
): Promise<{ pool: Pool; holder: Cidr; won: T }> {
  let pool = first;
  let losses = 0;
  let reclaimed = false;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (round > 0) pool = await loadPool(ctx, pool.id);
    const holder = await bestFreeBlock(ctx, pool, prefixLength);
    if (holder === undefined) {
      if (!reclaimed && pool.foreignCount > 0) {
        reclaimed = true;
        if ((await reclaimStale(ctx, pool, { kind: Kind.FOREIGN })) > 0) continue;
      }
      throw new PoolExhaustedError(
        `Pool ${pool.id} has no free /${prefixLength} left (${pool.carvedAddresses} of ` +
          `${totalAddresses(pool)} addresses carved); delete subnets or add a prefix.`,
        {
          poolId: pool.id,
          prefixLength,
          ...usageOf(pool),
        },
      );
    }
    let result: ClaimResult<T> | undefined;
    try {
      result = await claim(pool, lowestPart(holder, prefixLength));
    } catch (error) {
      // insertSubnet lost every race on the space head: a lost race here too.
      if (!(error instanceof AllocationContentionError)) throw error;
    }
    if (result !== undefined && 'won' in result) return { pool, holder, won: result.won };
    if (result === undefined || !(await learn(ctx, pool, holder, result.conflict))) {
      losses++;
      if (losses >= CARVE_ATTEMPTS) break;
      await sleep(backoffMs(losses));
    }
  }
  throw new AllocationContentionError(
    `Pool ${first.id}: concurrent carves won every try; retry.`,
    1,
  );
}

/**
 * Acts on the subnet that refused a candidate taken from `holder`: records it when
 * it was carved from this pool (a racing or crashed carve), or takes its part out of
 * the free space. True when the free space learned something new.
 */
async function learn(
  ctx: IpamContext,
  pool: Pool,
  holder: Cidr,
  conflict: Conflict,
): Promise<boolean> {
  let subnet: Subnet;
  try {
    subnet = await loadSubnet(ctx, conflict.subnetId);
  } catch (error) {
    if (error instanceof SubnetNotFoundError) return false;
    throw error;
  }
  if (subnet.poolId === pool.id) {
    // A racing carve records its own subnet in a moment; one whose caller died, we record.
    if (ctx.now() - Date.parse(subnet.createdAt) < RECORD_GRACE_MS) return false;
    const outcome = await recordCarve(ctx, subnet, pool);
    if (outcome !== 'gave-up') return outcome === 'recorded';
    // It cannot be recorded: keep it out of the free space like a foreign subnet.
  }
  if (!blocksOverlap(subnet.cidr, holder)) return false;
  const region = containsBlock(subnet.cidr, holder) ? holder : subnet.cidr;
  const outcome = await writeTransaction(ctx, [
    bumpPool(ctx, pool, { foreign: 1 }),
    {
      Put: {
        TableName: ctx.tableName,
        Item: foreignItem(pool, region, subnet.id, subnet.cidr),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
    ...replaceFree(ctx, pool, [holder], subtract(holder, subnet.cidr)),
  ]);
  return outcome.canceled === undefined;
}

type RecordOutcome = 'recorded' | 'subnet-gone' | 'pool-gone' | 'gave-up';

/**
 * Records `subnet` (carved from the pool, already inserted) in the free structure:
 * the free block holding it gives way to what is left of it, and a carved record
 * appears. Idempotent. `holder` is the free block `known` (at its `ver`) held it in,
 * when the caller knows; otherwise it is looked up.
 */
async function recordCarve(
  ctx: IpamContext,
  subnet: Subnet,
  known: Pool,
  holder?: Cidr,
): Promise<RecordOutcome> {
  let pool: Pool | undefined = known;
  let found = holder;
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      await sleep(backoffMs(attempt));
      pool = await readPool(ctx, known.id);
      found = undefined;
    }
    if (pool === undefined) return 'pool-gone';
    if (found === undefined) {
      const located = await locate(ctx, pool, subnet.cidr);
      if (located.carvedBy === subnet.id) return 'recorded';
      found = located.holder;
      // Not free in the structure, yet the insert won: records of deleted subnets overlap it.
      if (found === undefined) {
        if ((await reclaimStale(ctx, pool, { region: subnet.cidr })) === 0) return 'gave-up';
        continue;
      }
    }
    const outcome = await writeTransaction(ctx, [
      bumpPool(ctx, pool, { carved: 1, addresses: cidrSize(subnet.cidr) }),
      {
        ConditionCheck: {
          TableName: ctx.tableName,
          Key: keys.subnet(subnet.id),
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
      {
        Put: {
          TableName: ctx.tableName,
          Item: carvedItem(pool, subnet),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...replaceFree(ctx, pool, [found], subtract(found, subnet.cidr)),
    ]);
    if (outcome.canceled === undefined) return 'recorded';
    // Deleted before we recorded it: its block simply stays free.
    if (failedAt(outcome.canceled, 1)) return 'subnet-gone';
  }
  // The insert stands; the next carve that meets this subnet records it.
  return 'gave-up';
}

function conflictOf(error: SubnetOverlapError): Conflict {
  return {
    subnetId: String(error.details.conflictingSubnetId),
    cidr: String(error.details.conflictingCidr),
  };
}
