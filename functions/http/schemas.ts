/**
 * One zod schema per body and query: it is the TypeScript type, the runtime check
 * (unknown fields rejected, no coercion) and, through z.toJSONSchema, the OpenAPI
 * document. Address strings are checked by shared/net/address.ts, their only judge;
 * the allocation body hands them on parsed (IpAddress, MAC value).
 */
import { z } from 'zod';
import { LIMITS } from '../../shared/limits.js';
import { parseIp, parseMac } from '../../shared/net/address.js';

const address = z
  .string()
  .max(100)
  .describe('An IP address; IPv4 dotted decimal or IPv6 (RFC 4291)');
const cidr = z.string().max(100).describe('A CIDR in prefix-length notation, e.g. 10.0.0.0/24');

// Keys like __proto__ are refused while the body is parsed (dispatch.ts).
/** A tag key and a tag value (also the CloudFormation provider's rules). */
export const tagKey = z.string().min(1).max(LIMITS.tagKeyLength);
export const tagValue = z.string().max(LIMITS.tagValueLength);
export const tags = z
  .record(tagKey, tagValue)
  .refine(
    (value) => Object.keys(value).length <= LIMITS.tagCount,
    `at most ${LIMITS.tagCount} tags`,
  )
  .describe('String map of tags');

const space = z
  .string()
  .regex(LIMITS.spacePattern)
  .describe("Address space; subnets of one space never overlap (default 'default')");
/** A subnet's or pool's name (also the CloudFormation provider's `Name`). */
export const resourceName = z.string().max(LIMITS.nameLength);
const name = resourceName.nullable();
const pool = z.strictObject({ start: address, end: address });
const pools = z.array(pool).max(100);
const limit = z
  .string()
  .regex(/^[1-9][0-9]{0,3}$/, 'limit must be a whole number from 1 to 1000')
  .transform(Number)
  .pipe(z.number().max(LIMITS.pageSize.max, 'limit must be a whole number from 1 to 1000'))
  .describe('Page size, 1-1000 (default 100)');
const cursor = z
  .string()
  .min(1)
  .max(2000)
  .describe('nextCursor of the previous page of this same list (same path and filters)');

const reuseDelaySeconds = z
  .number('reuseDelaySeconds must be a whole number of seconds from 0 to 86400')
  .int('reuseDelaySeconds must be a whole number of seconds from 0 to 86400')
  .min(
    LIMITS.reuseDelaySeconds.min,
    'reuseDelaySeconds must be a whole number of seconds from 0 to 86400',
  )
  .max(
    LIMITS.reuseDelaySeconds.max,
    'reuseDelaySeconds must be a whole number of seconds from 0 to 86400',
  )
  .describe(
    'Release cool-down in seconds, 0-86400 (default 0): a released address or an expired lease stays QUARANTINED this long',
  );

export const createSubnetBody = z.strictObject({
  cidr,
  name: name.optional(),
  space: space.optional(),
  gatewayIp: address.nullable().optional(),
  allocationPools: pools.optional(),
  tags: tags.optional(),
  reuseDelaySeconds: reuseDelaySeconds.optional(),
});

export const updateSubnetBody = z.strictObject({
  name: name.optional(),
  tags: tags.optional(),
  gatewayIp: address.nullable().optional(),
  allocationPools: pools.optional(),
  reuseDelaySeconds: reuseDelaySeconds.optional(),
});

export const allocateBody = z
  .strictObject({
    ip: address.optional(),
    strategy: z.enum(['random', 'sequential']).optional(),
    count: z.number().int().min(1).max(LIMITS.bulkCount).optional(),
    macAddress: z.string().max(100).optional(),
    owner: z.string().max(LIMITS.ownerLength).nullable().optional(),
    description: z.string().max(LIMITS.descriptionLength).nullable().optional(),
    tags: tags.optional(),
    ttlSeconds: z.number().int().min(LIMITS.ttlSeconds.min).max(LIMITS.ttlSeconds.max).optional(),
  })
  .refine(
    (body) => body.count === undefined || (body.ip === undefined && body.macAddress === undefined),
    {
      message: 'count cannot be combined with ip or macAddress',
      path: ['count'],
    },
  )
  .refine((body) => body.ip === undefined || body.macAddress === undefined, {
    message: 'give ip or macAddress, not both',
    path: ['macAddress'],
  })
  // Parsed once, here, and only once the shape is valid (a malformed body still
  // answers VALIDATION_ERROR first). shared/net/address.ts stays the judge: its
  // InvalidIpError / InvalidMacError are thrown, not turned into zod issues, so they
  // reach the error table as INVALID_IP / INVALID_MAC with their own messages.
  .transform(({ ip, macAddress, ...rest }) => ({
    ...rest,
    ...(ip === undefined ? {} : { ip: parseIp(ip) }),
    ...(macAddress === undefined ? {} : { macAddress: parseMac(macAddress) }),
  }));

export const updateAllocationBody = z.strictObject({
  owner: z.string().max(LIMITS.ownerLength).nullable().optional(),
  description: z.string().max(LIMITS.descriptionLength).nullable().optional(),
  tags: tags.optional(),
  ttlSeconds: z.number().int().min(LIMITS.ttlSeconds.min).max(LIMITS.ttlSeconds.max).optional(),
});

const prefixLength = z.number().int().min(0).max(128);

export const createPoolBody = z.strictObject({
  name: name.optional(),
  prefixes: z.array(cidr).min(1).max(50),
  space: space.optional(),
  defaultPrefixLength: prefixLength.optional(),
  minPrefixLength: prefixLength.optional(),
  maxPrefixLength: prefixLength.optional(),
  tags: tags.optional(),
});

export const carveSubnetBody = z
  .strictObject({
    cidr: cidr.optional(),
    prefixLength: prefixLength.optional(),
    name: name.optional(),
    gatewayIp: address.nullable().optional(),
    allocationPools: pools.optional(),
    tags: tags.optional(),
    reuseDelaySeconds: reuseDelaySeconds.optional(),
  })
  .refine((body) => body.cidr === undefined || body.prefixLength === undefined, {
    message: 'give cidr or prefixLength, not both',
    path: ['prefixLength'],
  });

export const nextCidrQuery = z.strictObject({
  prefixLength: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,2})$/, 'prefixLength must be a whole number')
    .transform(Number)
    .optional(),
});

export const auditBody = z.strictObject({
  repair: z
    .boolean()
    .optional()
    .describe('Repair what is provably dead (default false: report only)'),
  gracePeriodMs: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600 * 1000)
    .optional(),
  highUtilizationPercent: z.number().min(1).max(100).optional(),
  resumeFrom: z
    .string()
    .max(100)
    .optional()
    .describe(
      'Continue this running audit from its checkpoints when its runner stopped (a local server restart)',
    ),
});

export const listSubnetsQuery = z.strictObject({
  space: space.optional(),
  limit: limit.optional(),
  cursor: cursor.optional(),
});
export const listAllocationsQuery = z.strictObject({
  owner: z.string().min(1).max(LIMITS.ownerLength).optional(),
  limit: limit.optional(),
  cursor: cursor.optional(),
});
export const listByOwnerQuery = z
  .strictObject({
    owner: z.string().min(1).max(LIMITS.ownerLength).optional(),
    macAddress: z
      .string()
      .max(100)
      .optional()
      .describe('00:11:22:33:44:55, 00-11-22-33-44-55 or 0011.2233.4455, any case'),
    limit: limit.optional(),
    cursor: cursor.optional(),
  })
  .refine((query) => (query.owner === undefined) !== (query.macAddress === undefined), {
    message: 'give exactly one of owner and macAddress',
    path: ['owner'],
  });
export const addressLookupQuery = z.strictObject({
  space: space
    .optional()
    .describe(
      'Only this address space (omitted: every space that has a subnet holding the address)',
    ),
});
export const releaseQuery = z.strictObject({
  owner: z.string().min(1).max(LIMITS.ownerLength).optional(),
});
export const noQuery = z.strictObject({});
export const subnetMapQuery = z.strictObject({
  cell: z
    .string()
    .max(100)
    .optional()
    .describe(
      'The cell to zoom into: its index at the top level, then dot-separated indexes one level down each (3, 3.17); omitted: the top level',
    ),
});

// Responses (documentation; the domain builds them).
const count = z
  .union([z.number(), z.string()])
  .describe('A number, or a decimal string beyond 2^53');
export const subnetResponse = z.object({
  id: z.string(),
  cidr: z.string(),
  ipVersion: z.union([z.literal(4), z.literal(6)]),
  name: z.string().nullable(),
  space: z.string(),
  gatewayIp: z.string().nullable(),
  allocationPools: z.array(z.object({ start: z.string(), end: z.string() })),
  tags: z.record(z.string(), z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
  usage: z.object({
    total: count,
    allocated: count,
    available: count,
    outsidePools: count,
    quarantined: count
      .optional()
      .describe(
        'Pool addresses in their release cool-down (in neither allocated nor available); shown where a cool-down applies',
      ),
  }),
  reuseDelaySeconds: z
    .number()
    .int()
    .describe('Release cool-down in seconds (0: a released address is free at once)'),
  poolId: z
    .string()
    .optional()
    .describe('The subnet pool it was carved from (carved subnets only)'),
});
export const allocationResponse = z.object({
  subnetId: z.string(),
  ip: z.string(),
  owner: z.string().nullable(),
  description: z.string().nullable(),
  tags: z.record(z.string(), z.string()),
  macAddress: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  createdBy: z
    .string()
    .nullable()
    .describe('Who allocated it: an IAM ARN, "local", "audit", a stack id (null if not recorded)'),
  updatedBy: z.string().nullable().describe('Who changed it last (as createdBy)'),
});
export const addressLookupResponse = z.object({
  items: z.array(
    z.object({
      space: z.string(),
      subnetId: z.string(),
      cidr: z.string(),
      state: z.enum([
        'ALLOCATED',
        'LEASE_EXPIRED',
        'QUARANTINED',
        'GATEWAY',
        'RESERVED',
        'FREE',
        'OUTSIDE_POOLS',
      ]),
      availableAt: z
        .string()
        .optional()
        .describe('QUARANTINED only: when its release cool-down ends (ISO-8601)'),
      inPools: z.boolean(),
      allocation: allocationResponse.nullable(),
    }),
  ),
});
export const subnetMapResponse = z.object({
  subnetId: z.string(),
  cidr: z.string(),
  cell: z.string().nullable().describe('The path zoomed into (as asked), null at the top level'),
  cellSize: count.describe('Addresses per cell'),
  cells: z.array(
    z.object({
      index: z.number().int(),
      first: z.string(),
      last: z.string(),
      allocated: count.describe('Held without a lease'),
      leased: count.describe('Held with a live lease'),
      quarantined: count.describe('In their release cool-down'),
      free: count.describe('In the pools and none of the above (expired leases included)'),
      state: addressLookupResponse.shape.items.element.shape.state
        .optional()
        .describe('Cells of one address only: its state, as GET /addresses/{ip} gives it'),
    }),
  ),
});
export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
export const allocationsResponse = z.object({ allocations: z.array(allocationResponse) });
export const poolResponse = z.object({
  id: z.string(),
  name: z.string().nullable(),
  ipVersion: z.union([z.literal(4), z.literal(6)]),
  prefixes: z.array(z.string()),
  space: z.string(),
  defaultPrefixLength: z.number(),
  minPrefixLength: z.number(),
  maxPrefixLength: z.number(),
  tags: z.record(z.string(), z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
  usage: z.object({ totalAddresses: z.string(), allocatedAddresses: z.string() }),
});
export const nextCidrResponse = z.object({ cidr: z.string() });
export const pageQuery = z.strictObject({ limit: limit.optional(), cursor: cursor.optional() });
const finding = z.object({
  type: z.string(),
  subnetId: z.string().nullable(),
  ip: z.string().optional(),
  detail: z.string(),
  repaired: z.boolean(),
  notRepaired: z.string().optional(),
});
export const auditResponse = z.object({
  id: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  repair: z.boolean(),
  status: z.enum(['running', 'complete', 'failed']),
  progress: z
    .object({
      scannedItems: z.number(),
      estimatedItems: z.number(),
      estimateNote: z.string().optional(),
    })
    .optional()
    .describe('While running: items scanned so far, and the table size DescribeTable estimates'),
  reason: z.string().optional().describe('Why a failed audit could not finish'),
  segments: z.number().optional().describe('Parallel Scan segments of the job'),
  scanned: z.object({ subnets: z.number(), allocations: z.number(), items: z.number() }),
  findings: z.array(finding),
  findingCounts: z.record(z.string(), z.object({ found: z.number(), repaired: z.number() })),
  findingsTruncated: z.boolean(),
  utilization: z.array(
    z.object({
      subnetId: z.string(),
      cidr: z.string(),
      total: z.unknown(),
      allocated: z.unknown(),
      percent: z.number(),
    }),
  ),
  utilizationTruncated: z.boolean(),
  unstableShards: z.number(),
  gracePeriodMs: z.number(),
  highUtilizationPercent: z.number(),
  consumedReadCapacity: z.number(),
  consumedWriteCapacity: z.number(),
  invocations: z.number(),
});
const historyView = z
  .record(z.string(), z.unknown())
  .nullable()
  .describe('The allocation (or subnet) view before/after the change; null where there is none');
export const historyEntryResponse = z.object({
  at: z.string(),
  action: z.enum([
    'ALLOCATED',
    'UPDATED',
    'RENEWED',
    'RELEASED',
    'EXPIRED',
    'REPAIRED',
    'SUBNET_CREATED',
    'SUBNET_UPDATED',
    'SUBNET_DELETED',
  ]),
  actor: z.string(),
  requestId: z.string().nullable(),
  owner: z
    .string()
    .nullable()
    .describe('The holder after the change (RELEASED/EXPIRED: the one that lost it)'),
  before: historyView,
  after: historyView,
});
export const errorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  }),
});
export const healthResponse = z.object({ status: z.literal('ok') });
