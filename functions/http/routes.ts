/**
 * Every route of the API, once: method, path template, the Lambda group that
 * serves it, its schemas and the error codes it can answer. The local server and
 * API Gateway route with it, the group handlers dispatch with it, and the OpenAPI
 * document is generated from it.
 */
import type { z } from 'zod';
import type { ErrorCode } from './errors.js';
import type { PathSegments } from './path.js';
import * as s from './schemas.js';
import type { Group, Method, Operation, Route, RouteDefinition } from './types.js';

export type { Group, Method, Route } from './types.js';

/** Keeps a route's literal id, path and group and its schemas' types (see Operations). */
function defineRoute<
  const Id extends string,
  const Path extends string,
  const G extends Group,
  Query extends z.ZodType,
  Body extends z.ZodType | undefined = undefined,
>(route: RouteDefinition<Id, Path, G, Query, Body>): RouteDefinition<Id, Path, G, Query, Body> {
  return route;
}

const SUBNET_RULE_ERRORS: ErrorCode[] = [
  'INVALID_IP',
  'INVALID_GATEWAY',
  'INVALID_ALLOCATION_POOL',
  'GATEWAY_IN_POOL',
];

const health = defineRoute({
  id: 'health',
  method: 'GET',
  path: '/health',
  group: 'meta',
  summary: 'Liveness: 200 once the service can reach its table',
  query: s.noQuery,
  status: 200,
  response: s.healthResponse,
  errors: ['SERVICE_UNAVAILABLE'],
  public: true,
});

const openapi = defineRoute({
  id: 'openapi',
  method: 'GET',
  path: '/openapi.json',
  group: 'meta',
  summary: 'This OpenAPI 3.1 document',
  query: s.noQuery,
  status: 200,
  errors: [],
});

const createSubnet = defineRoute({
  id: 'createSubnet',
  method: 'POST',
  path: '/subnets',
  group: 'subnets',
  summary: 'Create a subnet',
  body: s.createSubnetBody,
  query: s.noQuery,
  status: 201,
  response: s.subnetResponse,
  errors: ['INVALID_CIDR', ...SUBNET_RULE_ERRORS, 'SUBNET_OVERLAP', 'ALLOCATION_CONTENTION'],
  idempotent: true,
});

const listSubnets = defineRoute({
  id: 'listSubnets',
  method: 'GET',
  path: '/subnets',
  group: 'subnets',
  summary: 'List subnets (paged, optionally of one space)',
  query: s.listSubnetsQuery,
  status: 200,
  response: s.page(s.subnetResponse),
  errors: ['VALIDATION_ERROR'],
});

const getSubnet = defineRoute({
  id: 'getSubnet',
  method: 'GET',
  path: '/subnets/{subnetId}',
  group: 'subnets',
  summary: 'Get a subnet with its usage',
  query: s.noQuery,
  status: 200,
  response: s.subnetResponse,
  errors: ['SUBNET_NOT_FOUND'],
});

const updateSubnet = defineRoute({
  id: 'updateSubnet',
  method: 'PATCH',
  path: '/subnets/{subnetId}',
  group: 'subnets',
  summary: 'Update name, tags, gateway or allocation pools (allocations stay where they are)',
  body: s.updateSubnetBody,
  query: s.noQuery,
  status: 200,
  response: s.subnetResponse,
  errors: [
    'SUBNET_NOT_FOUND',
    ...SUBNET_RULE_ERRORS,
    'IP_ALREADY_ALLOCATED',
    'ALLOCATION_CONTENTION',
  ],
});

const deleteSubnet = defineRoute({
  id: 'deleteSubnet',
  method: 'DELETE',
  path: '/subnets/{subnetId}',
  group: 'subnets',
  summary: 'Delete a subnet that holds no allocations',
  query: s.noQuery,
  status: 204,
  errors: ['SUBNET_NOT_FOUND', 'SUBNET_IN_USE'],
});

const subnetMap = defineRoute({
  id: 'subnetMap',
  method: 'GET',
  path: '/subnets/{subnetId}/map',
  group: 'subnets',
  summary:
    "The subnet's address map: up to 256 cells of equal size with their counts (?cell=K.L… zooms in); counts of cells of 256 addresses or more may trail the newest writes by the change stream's delay",
  query: s.subnetMapQuery,
  status: 200,
  response: s.subnetMapResponse,
  errors: ['VALIDATION_ERROR', 'SUBNET_NOT_FOUND'],
});

const allocate = defineRoute({
  id: 'allocate',
  method: 'POST',
  path: '/subnets/{subnetId}/allocations',
  group: 'allocations',
  summary: 'Allocate one or more addresses (specific, random, sequential, EUI-64)',
  body: s.allocateBody,
  query: s.noQuery,
  status: 201,
  response: s.allocationsResponse,
  errors: [
    'SUBNET_NOT_FOUND',
    'INVALID_IP',
    'IP_NOT_IN_SUBNET',
    'IP_RESERVED',
    'INVALID_MAC',
    'MAC_NOT_APPLICABLE',
    'IP_ALREADY_ALLOCATED',
    'IP_QUARANTINED',
    'SUBNET_EXHAUSTED',
    'ALLOCATION_CONTENTION',
  ],
  idempotent: true,
});

const listAllocations = defineRoute({
  id: 'listAllocations',
  method: 'GET',
  path: '/subnets/{subnetId}/allocations',
  group: 'allocations',
  summary: "List a subnet's allocations in address order (paged, optionally one owner's)",
  query: s.listAllocationsQuery,
  status: 200,
  response: s.page(s.allocationResponse),
  errors: ['VALIDATION_ERROR', 'SUBNET_NOT_FOUND'],
});

const getAllocation = defineRoute({
  id: 'getAllocation',
  method: 'GET',
  path: '/subnets/{subnetId}/allocations/{ip}',
  group: 'allocations',
  summary: 'Get one allocation (the address may be URL-encoded)',
  query: s.noQuery,
  status: 200,
  response: s.allocationResponse,
  errors: ['INVALID_IP', 'SUBNET_NOT_FOUND', 'ALLOCATION_NOT_FOUND'],
});

const updateAllocation = defineRoute({
  id: 'updateAllocation',
  method: 'PATCH',
  path: '/subnets/{subnetId}/allocations/{ip}',
  group: 'allocations',
  summary: 'Update owner, description, tags; ttlSeconds renews the lease',
  body: s.updateAllocationBody,
  query: s.noQuery,
  status: 200,
  response: s.allocationResponse,
  errors: ['INVALID_IP', 'SUBNET_NOT_FOUND', 'ALLOCATION_NOT_FOUND', 'ALLOCATION_CONTENTION'],
});

const release = defineRoute({
  id: 'release',
  method: 'DELETE',
  path: '/subnets/{subnetId}/allocations/{ip}',
  group: 'allocations',
  summary: 'Release an address (with ?owner=, only if that owner holds it)',
  query: s.releaseQuery,
  status: 204,
  errors: [
    'VALIDATION_ERROR',
    'INVALID_IP',
    'SUBNET_NOT_FOUND',
    'ALLOCATION_NOT_FOUND',
    'OWNER_MISMATCH',
    'ALLOCATION_CONTENTION',
  ],
});

const listByOwner = defineRoute({
  id: 'listByOwner',
  method: 'GET',
  path: '/allocations',
  group: 'allocations',
  summary:
    "List one owner's allocations across subnets, or those made for a MAC (?owner= or ?macAddress=, paged)",
  query: s.listByOwnerQuery,
  status: 200,
  response: s.page(s.allocationResponse),
  errors: ['VALIDATION_ERROR', 'INVALID_MAC'],
});

const lookupAddress = defineRoute({
  id: 'lookupAddress',
  method: 'GET',
  path: '/addresses/{ip}',
  group: 'allocations',
  summary:
    'Every subnet (in any space, or ?space=) whose CIDR contains the address, and its state there',
  query: s.addressLookupQuery,
  status: 200,
  response: s.addressLookupResponse,
  errors: ['VALIDATION_ERROR', 'INVALID_IP'],
});

const createPool = defineRoute({
  id: 'createPool',
  method: 'POST',
  path: '/subnet-pools',
  group: 'subnetPools',
  summary: 'Create a subnet pool: prefixes to carve subnets from',
  body: s.createPoolBody,
  query: s.noQuery,
  status: 201,
  response: s.poolResponse,
  errors: ['INVALID_CIDR', 'INVALID_IP'],
});

const listPools = defineRoute({
  id: 'listPools',
  method: 'GET',
  path: '/subnet-pools',
  group: 'subnetPools',
  summary: 'List subnet pools (paged)',
  query: s.pageQuery,
  status: 200,
  response: s.page(s.poolResponse),
  errors: ['VALIDATION_ERROR'],
});

const getPool = defineRoute({
  id: 'getPool',
  method: 'GET',
  path: '/subnet-pools/{poolId}',
  group: 'subnetPools',
  summary: 'Get a subnet pool with its usage',
  query: s.noQuery,
  status: 200,
  response: s.poolResponse,
  errors: ['POOL_NOT_FOUND'],
});

const deletePool = defineRoute({
  id: 'deletePool',
  method: 'DELETE',
  path: '/subnet-pools/{poolId}',
  group: 'subnetPools',
  summary: 'Delete a subnet pool none of whose carved subnets still exist',
  query: s.noQuery,
  status: 204,
  errors: ['POOL_NOT_FOUND', 'POOL_IN_USE'],
});

const carveSubnet = defineRoute({
  id: 'carveSubnet',
  method: 'POST',
  path: '/subnet-pools/{poolId}/subnets',
  group: 'subnetPools',
  summary: 'Carve a subnet: the smallest free aligned block that fits (best fit), lowest first',
  body: s.carveSubnetBody,
  query: s.noQuery,
  status: 201,
  response: s.subnetResponse,
  errors: [
    'POOL_NOT_FOUND',
    'POOL_EXHAUSTED',
    'PREFIX_LENGTH_OUT_OF_RANGE',
    'INVALID_CIDR',
    ...SUBNET_RULE_ERRORS,
    'SUBNET_OVERLAP',
    'ALLOCATION_CONTENTION',
  ],
});

const nextCidr = defineRoute({
  id: 'nextCidr',
  method: 'GET',
  path: '/subnet-pools/{poolId}/next-cidr',
  group: 'subnetPools',
  summary: 'Preview the block the next carve would take, without taking it',
  query: s.nextCidrQuery,
  status: 200,
  response: s.nextCidrResponse,
  errors: ['VALIDATION_ERROR', 'POOL_NOT_FOUND', 'POOL_EXHAUSTED', 'PREFIX_LENGTH_OUT_OF_RANGE'],
});

const runAudit = defineRoute({
  id: 'runAudit',
  method: 'POST',
  path: '/audits',
  group: 'audits',
  summary:
    'Start an audit (report only, or repair): 201 with the report if it finished within the ' +
    'request, else 202 with the report so far (status running, progress); one at a time',
  body: s.auditBody,
  query: s.noQuery,
  status: 201,
  alsoAnswers: [
    {
      status: 202,
      description:
        'Started and still running in the background: the report so far (status running, ' +
        'progress); follow it with GET /audits/{auditId}',
    },
  ],
  response: s.auditResponse,
  errors: ['AUDIT_NOT_FOUND', 'AUDIT_RUNNING'],
});

const latestAudit = defineRoute({
  id: 'latestAudit',
  method: 'GET',
  path: '/audits/latest',
  group: 'audits',
  summary: 'The audit started last (running, complete or failed)',
  query: s.noQuery,
  status: 200,
  response: s.auditResponse,
  errors: ['AUDIT_NOT_FOUND'],
});

const getAudit = defineRoute({
  id: 'getAudit',
  method: 'GET',
  path: '/audits/{auditId}',
  group: 'audits',
  summary: 'One audit: its progress while it runs, then the full report',
  query: s.noQuery,
  status: 200,
  response: s.auditResponse,
  errors: ['AUDIT_NOT_FOUND'],
});

const addressHistory = defineRoute({
  id: 'addressHistory',
  method: 'GET',
  path: '/subnets/{subnetId}/allocations/{ip}/history',
  group: 'history',
  summary:
    "An address's history in the subnet, newest first (paged; kept after release and subnet deletion; never 404: an unknown subnet id is an empty page, a malformed one 400)",
  query: s.pageQuery,
  status: 200,
  response: s.page(s.historyEntryResponse),
  errors: ['VALIDATION_ERROR', 'INVALID_IP'],
});

const subnetHistory = defineRoute({
  id: 'subnetHistory',
  method: 'GET',
  path: '/subnets/{subnetId}/history',
  group: 'history',
  summary:
    "A subnet's own history (created, updated, deleted), newest first (paged; never 404: an unknown subnet id is an empty page, a malformed one 400)",
  query: s.pageQuery,
  status: 200,
  response: s.page(s.historyEntryResponse),
  errors: ['VALIDATION_ERROR'],
});

export const ROUTES = [
  health,
  openapi,
  createSubnet,
  listSubnets,
  getSubnet,
  updateSubnet,
  deleteSubnet,
  subnetMap,
  allocate,
  listAllocations,
  getAllocation,
  updateAllocation,
  release,
  listByOwner,
  lookupAddress,
  createPool,
  listPools,
  getPool,
  deletePool,
  carveSubnet,
  nextCidr,
  runAudit,
  latestAudit,
  getAudit,
  addressHistory,
  subnetHistory,
] as const satisfies readonly Route[];

type RoutesOf<G extends Group> = Extract<(typeof ROUTES)[number], { readonly group: G }>;

/** One operation per route of the group, each typed by its own route's schemas. */
export type Operations<G extends Group> = {
  readonly [R in RoutesOf<G> as R['id']]: Operation<R>;
};

export interface RouteMatch {
  readonly route: Route;
  /** As sent, still percent-encoded (what API Gateway REST puts in pathParameters). */
  readonly pathParameters: Record<string, string>;
}

/**
 * Finds the route of a request path: static parts compare with the decoded segments,
 * parameters take the raw ones. Returns 'method' when the path exists with other
 * methods only, undefined when unknown.
 */
export function matchRoute(
  method: string,
  segments: PathSegments,
): RouteMatch | 'method' | undefined {
  let pathMatched = false;
  for (const route of ROUTES) {
    const template = route.path.split('/').slice(1);
    if (template.length !== segments.raw.length) continue;
    const pathParameters: Record<string, string> = {};
    const fits = template.every((part, i) => {
      const raw = segments.raw[i] ?? '';
      if (part.startsWith('{')) {
        pathParameters[part.slice(1, -1)] = raw;
        return raw.length > 0;
      }
      return part === segments.decoded[i];
    });
    if (!fits) continue;
    pathMatched = true;
    if (route.method === method) return { route, pathParameters };
  }
  return pathMatched ? 'method' : undefined;
}

export function allowedMethods(segments: PathSegments): Method[] {
  return (['GET', 'POST', 'PATCH', 'DELETE'] as const).filter((method) => {
    const match = matchRoute(method, segments);
    return match !== undefined && match !== 'method';
  });
}

/**
 * Every error code an operation can answer: its own, plus what the edge answers for
 * any request to it — a bad query or an unexpected body (400), body framing (413,
 * 415), Idempotency-Key handling, the table being unavailable (503) and 500.
 */
export function answerableErrors(route: Route): ErrorCode[] {
  const edge: ErrorCode[] = ['VALIDATION_ERROR'];
  if (route.body !== undefined) edge.push('PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  if (route.idempotent === true) edge.push('IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_IN_PROGRESS');
  // The meta routes say for themselves whether they reach the table.
  if (route.group !== 'meta') edge.push('SERVICE_UNAVAILABLE');
  return [...new Set([...edge, ...route.errors, 'INTERNAL_ERROR' as const])];
}
