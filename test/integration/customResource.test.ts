/**
 * The custom-resource provider (functions/customResource.ts) driven with
 * CloudFormation's events, as CloudFormation sends them (property values are
 * strings), against DynamoDB Local. The answer CloudFormation would receive at the
 * ResponseURL is captured; one test receives it over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type {
  CloudFormationCustomResourceEvent,
  CloudFormationCustomResourceResponse,
} from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CFN_TAGS,
  CustomResourceProvider,
  RESOURCE_TYPES,
  requestRefOf,
} from '../../functions/cloudformation/provider.js';
import {
  type CustomResourceHandler,
  createCustomResourceHandler,
  putResponse,
} from '../../functions/customResource.js';
import { IpamAllocation, IpamSubnet } from '../../infra/constructs/index.js';
import { createPool, getPool, type PoolView } from '../../shared/pools/index.js';
import type { IpamContext } from '../../shared/store/context.js';
import { createSubnet, getSubnet, loadSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

const STACK_ID =
  'arn:aws:cloudformation:eu-west-1:123456789012:stack/consumer-app/4c1b9f80-8c2d-11ef-b1b2-0a9f3e7c2d11';
const SERVICE_TOKEN =
  'arn:aws:lambda:eu-west-1:123456789012:function:Ipam-CustomResourceProviderFunct-Xq3vTb8kLm2p';
const RESPONSE_URL =
  'https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/arn%3Aaws%3Acloudformation%3Aeu-west-1%3A123456789012%3Astack/consumer-app/4c1b9f80/LbAddress/a1b2?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=7200&X-Amz-Signature=0123abcd';

type Kind = keyof typeof RESOURCE_TYPES;
type Props = Record<string, unknown>;

let db: TestDb;
let sent: { url: string; body: CloudFormationCustomResourceResponse }[];
let handler: CustomResourceHandler;
let nextSpace = 0;

beforeAll(async () => {
  db = await createTestDb();
  sent = [];
  handler = createCustomResourceHandler({
    ctx: db.ctx,
    send: async (url, body) => {
      sent.push({ url, body: JSON.parse(body) as CloudFormationCustomResourceResponse });
    },
  });
});

/** CloudFormation passes every scalar property value to the provider as a string. */
function asCloudFormationSends(value: unknown): unknown {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(asCloudFormationSends);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [key, asCloudFormationSends(v)]),
    );
  }
  return value;
}

function properties(props: Props): { ServiceToken: string } & Props {
  return asCloudFormationSends({
    ServiceToken: SERVICE_TOKEN,
    ServiceTimeout: 900,
    ...props,
  }) as { ServiceToken: string } & Props;
}

const common = (kind: Kind, logicalId: string) => ({
  ServiceToken: SERVICE_TOKEN,
  ResponseURL: RESPONSE_URL,
  StackId: STACK_ID,
  RequestId: randomUUID(),
  LogicalResourceId: logicalId,
  ResourceType: RESOURCE_TYPES[kind],
});

function createEvent(
  kind: Kind,
  logicalId: string,
  props: Props,
): CloudFormationCustomResourceEvent {
  return {
    ...common(kind, logicalId),
    RequestType: 'Create',
    ResourceProperties: properties(props),
  };
}

function updateEvent(
  kind: Kind,
  logicalId: string,
  physicalId: string,
  props: Props,
  oldProps: Props,
): CloudFormationCustomResourceEvent {
  return {
    ...common(kind, logicalId),
    RequestType: 'Update',
    PhysicalResourceId: physicalId,
    ResourceProperties: properties(props),
    OldResourceProperties: properties(oldProps),
  };
}

function deleteEvent(
  kind: Kind,
  logicalId: string,
  physicalId: string,
  props: Props,
): CloudFormationCustomResourceEvent {
  return {
    ...common(kind, logicalId),
    RequestType: 'Delete',
    PhysicalResourceId: physicalId,
    ResourceProperties: properties(props),
  };
}

/** Runs the handler; the answer it sent must be the one it returned. */
async function send(event: CloudFormationCustomResourceEvent) {
  const before = sent.length;
  const response = await handler(event);
  expect(sent.slice(before)).toEqual([{ url: RESPONSE_URL, body: response }]);
  expect(response).toMatchObject({
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  return response;
}

async function succeed(event: CloudFormationCustomResourceEvent) {
  const response = await send(event);
  expect(response.Status, response.Reason).toBe('SUCCESS');
  return response as CloudFormationCustomResourceResponse & { Data: Record<string, string> };
}

async function fail(event: CloudFormationCustomResourceEvent) {
  const response = await send(event);
  expect(response.Status).toBe('FAILED');
  return response as CloudFormationCustomResourceResponse & { Reason: string };
}

async function subnet(cidr: string): Promise<string> {
  nextSpace++;
  return (await createSubnet(db.ctx, { cidr, space: `cfn-${nextSpace}` })).id;
}

async function pool(prefix: string): Promise<PoolView> {
  nextSpace++;
  return createPool(db.ctx, { prefixes: [prefix], space: `cfn-pools-${nextSpace}` });
}

async function allocated(subnetId: string): Promise<number> {
  return Number((await getSubnet(db.ctx, subnetId)).usage.allocated);
}

async function carvedAddresses(poolId: string): Promise<string> {
  return (await getPool(db.ctx, poolId)).usage.allocatedAddresses;
}

const allocator = () => new TextAllocator(db.ctx);

/** A context whose writes of completed-request records fail: the commit stands, the answer is lost. */
function failingRecordWrites(ctx: IpamContext): IpamContext {
  const doc = new Proxy(ctx.doc, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: unknown) => {
        if (
          command instanceof PutCommand &&
          String(command.input.Item?.sk ?? '').startsWith('RES#')
        ) {
          throw Object.assign(new Error('injected InternalServerError'), {
            name: 'InternalServerError',
          });
        }
        return target.send(command as never);
      };
    },
  }) as DynamoDBDocumentClient;
  return { ...ctx, doc };
}

describe('Custom::IpamAllocation', () => {
  it('Create allocates and answers Ip with a <subnetId>/<ip> physical id', async () => {
    const subnetId = await subnet('10.210.0.0/24');
    const event = createEvent('allocation', 'LbAddress', {
      SubnetId: subnetId,
      Description: 'the load balancer',
      Tags: { team: 'web' },
    });
    const response = await succeed(event);
    const ip = response.Data.Ip!;
    expect(ip).toMatch(/^10\.210\.0\.\d+$/);
    expect(response).toMatchObject({
      PhysicalResourceId: `${subnetId}/${ip}`,
      Data: { Ip: ip, SubnetId: subnetId },
    });
    const allocation = await allocator().get(subnetId, ip);
    const ref = requestRefOf(event);
    expect(allocation).toMatchObject({
      owner: 'cfn:consumer-app/LbAddress',
      description: 'the load balancer',
      tags: {
        team: 'web',
        [CFN_TAGS.request]: ref.requestKey,
        [CFN_TAGS.resource]: ref.resourceKey,
        [CFN_TAGS.stack]: 'consumer-app',
        [CFN_TAGS.logicalId]: 'LbAddress',
      },
    });
  });

  it('a retried Create answers the same address and allocates nothing more', async () => {
    const subnetId = await subnet('10.210.1.0/24');
    const event = createEvent('allocation', 'LbAddress', { SubnetId: subnetId });
    const first = await succeed(event);
    const again = await succeed(event);
    expect(again.PhysicalResourceId).toBe(first.PhysicalResourceId);
    expect(again.Data).toEqual(first.Data);
    expect(await allocated(subnetId)).toBe(1);
  });

  it('a Create retried after a crash that followed the allocation finds that allocation', async () => {
    const subnetId = await subnet('10.210.2.0/24');
    const event = createEvent('allocation', 'Worker', {
      SubnetId: subnetId,
      Strategy: 'sequential',
      Owner: 'team-a',
    });
    // The first attempt allocates, then dies before it records or answers.
    const crashed = new CustomResourceProvider(failingRecordWrites(db.ctx), allocator().typed);
    await expect(crashed.handle(event)).rejects.toThrow(/injected/);
    expect(await allocated(subnetId)).toBe(1);
    // Lambda retries the same event.
    const response = await succeed(event);
    expect(response.Data.Ip).toBe('10.210.2.2');
    expect(await allocated(subnetId)).toBe(1);
  });

  it('a retried Create with an explicit Ip answers that address again', async () => {
    const subnetId = await subnet('10.210.3.0/24');
    const event = createEvent('allocation', 'Vip', { SubnetId: subnetId, Ip: '10.210.3.10' });
    const first = await succeed(event);
    expect(first.PhysicalResourceId).toBe(`${subnetId}/10.210.3.10`);
    // Without the record of the first attempt: the "already allocated" holder is ours.
    const ref = requestRefOf(event);
    await db.ctx.doc.send(
      new DeleteCommand({
        TableName: db.ctx.tableName,
        Key: { pk: `CFN#${ref.resourceKey}`, sk: `RES#${first.PhysicalResourceId}` },
      }),
    );
    const again = await succeed(event);
    expect(again.PhysicalResourceId).toBe(first.PhysicalResourceId);
    expect(await allocated(subnetId)).toBe(1);
  });

  it('Update with unchanged inputs is a no-op: same physical id, same data', async () => {
    const subnetId = await subnet('10.210.4.0/24');
    const props = { SubnetId: subnetId, Owner: 'web', Tags: { a: '1' } };
    const created = await succeed(createEvent('allocation', 'LbAddress', props));
    const allocation = await allocator().get(subnetId, created.Data.Ip!);
    const updated = await succeed(
      updateEvent('allocation', 'LbAddress', created.PhysicalResourceId, props, props),
    );
    expect(updated.PhysicalResourceId).toBe(created.PhysicalResourceId);
    expect(updated.Data).toEqual(created.Data);
    expect(await allocator().get(subnetId, created.Data.Ip!)).toEqual(allocation);
    expect(await allocated(subnetId)).toBe(1);
  });

  it('Update of owner, description or tags changes the allocation in place', async () => {
    const subnetId = await subnet('10.210.5.0/24');
    const props = { SubnetId: subnetId, Owner: 'web', Tags: { a: '1' } };
    const created = await succeed(createEvent('allocation', 'LbAddress', props));
    const next = { ...props, Owner: 'web-2', Description: 'moved', Tags: { b: '2' } };
    const updated = await succeed(
      updateEvent('allocation', 'LbAddress', created.PhysicalResourceId, next, props),
    );
    expect(updated.PhysicalResourceId).toBe(created.PhysicalResourceId);
    const allocation = await allocator().get(subnetId, created.Data.Ip!);
    expect(allocation).toMatchObject({ owner: 'web-2', description: 'moved' });
    expect(allocation.tags).toMatchObject({ b: '2', [CFN_TAGS.logicalId]: 'LbAddress' });
    expect(allocation.tags).not.toHaveProperty('a');
    expect(await allocated(subnetId)).toBe(1);
  });

  it('records the stack as the actor of what its allocation writes', async () => {
    const subnetId = await subnet('10.210.6.0/24');
    const props = { SubnetId: subnetId, Owner: 'web' };
    const created = await succeed(createEvent('allocation', 'LbAddress', props));
    const ip = created.Data.Ip ?? '';
    expect(await allocator().get(subnetId, ip)).toMatchObject({
      createdBy: STACK_ID,
      updatedBy: STACK_ID,
    });
    const next = { ...props, Owner: 'web-2' };
    await succeed(updateEvent('allocation', 'LbAddress', created.PhysicalResourceId, next, props));
    expect(await allocator().get(subnetId, ip)).toMatchObject({
      owner: 'web-2',
      createdBy: STACK_ID,
      updatedBy: STACK_ID,
    });
  });

  it('Update to another subnet allocates anew; the Delete of the old id then releases the old', async () => {
    const [a, b] = [await subnet('10.210.6.0/24'), await subnet('10.210.7.0/24')];
    const created = await succeed(createEvent('allocation', 'LbAddress', { SubnetId: a }));
    const update = updateEvent(
      'allocation',
      'LbAddress',
      created.PhysicalResourceId,
      { SubnetId: b },
      { SubnetId: a },
    );
    const updated = await succeed(update);
    expect(updated.Data.Ip).toMatch(/^10\.210\.7\./);
    expect(updated.PhysicalResourceId).toBe(`${b}/${updated.Data.Ip}`);
    expect([await allocated(a), await allocated(b)]).toEqual([1, 1]);
    // A retried Update answers the same new address.
    expect((await succeed(update)).PhysicalResourceId).toBe(updated.PhysicalResourceId);
    expect(await allocated(b)).toBe(1);
    // UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: Delete for the old physical id.
    await succeed(
      deleteEvent('allocation', 'LbAddress', created.PhysicalResourceId, { SubnetId: a }),
    );
    expect([await allocated(a), await allocated(b)]).toEqual([0, 1]);
    await expect(allocator().get(b, updated.Data.Ip!)).resolves.toBeDefined();
  });

  it('the rollback of a replacing Update gets the original address back', async () => {
    const [a, b] = [await subnet('10.210.8.0/24'), await subnet('10.210.9.0/24')];
    const created = await succeed(createEvent('allocation', 'LbAddress', { SubnetId: a }));
    const updated = await succeed(
      updateEvent(
        'allocation',
        'LbAddress',
        created.PhysicalResourceId,
        { SubnetId: b },
        {
          SubnetId: a,
        },
      ),
    );
    // Another resource failed: CloudFormation rolls this one back to the old properties.
    const rolledBack = await succeed(
      updateEvent(
        'allocation',
        'LbAddress',
        updated.PhysicalResourceId,
        { SubnetId: a },
        {
          SubnetId: b,
        },
      ),
    );
    expect(rolledBack.PhysicalResourceId).toBe(created.PhysicalResourceId);
    expect(rolledBack.Data).toEqual(created.Data);
    // UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: Delete for the new one.
    await succeed(
      deleteEvent('allocation', 'LbAddress', updated.PhysicalResourceId, { SubnetId: b }),
    );
    expect([await allocated(a), await allocated(b)]).toEqual([1, 0]);
  });

  it('Delete releases; a Delete of what is already gone succeeds', async () => {
    const subnetId = await subnet('10.210.10.0/24');
    const props = { SubnetId: subnetId };
    const created = await succeed(createEvent('allocation', 'LbAddress', props));
    const remove = deleteEvent('allocation', 'LbAddress', created.PhysicalResourceId, props);
    expect(await succeed(remove)).toMatchObject({ PhysicalResourceId: created.PhysicalResourceId });
    expect(await allocated(subnetId)).toBe(0);
    await succeed(remove);
    await succeed(deleteEvent('allocation', 'LbAddress', `${subnetId}/10.210.10.77`, props));
    await succeed(
      deleteEvent('allocation', 'LbAddress', 'sub_AAAAAAAAAAAAAAAAAAAAAA/10.0.0.1', props),
    );
    await succeed(deleteEvent('allocation', 'LbAddress', 'not-an-allocation', props));
  });

  it('Delete leaves an address that someone else holds now', async () => {
    const subnetId = await subnet('10.210.11.0/24');
    const props = { SubnetId: subnetId, Ip: '10.210.11.9' };
    const created = await succeed(createEvent('allocation', 'LbAddress', props));
    // Released outside CloudFormation, then allocated to someone else.
    await allocator().release(subnetId, '10.210.11.9');
    await allocator().allocate(subnetId, { ip: '10.210.11.9', owner: 'someone-else' });
    await succeed(deleteEvent('allocation', 'LbAddress', created.PhysicalResourceId, props));
    expect(await allocator().get(subnetId, '10.210.11.9')).toMatchObject({ owner: 'someone-else' });
  });

  it('failures reach CloudFormation with the API error code; a failed Create leaves nothing', async () => {
    const subnetId = await subnet('10.210.12.0/30');
    const taken = await fail(
      createEvent('allocation', 'Vip', { SubnetId: subnetId, Ip: '10.210.12.1' }),
    );
    expect(taken.Reason).toMatch(/^IP_RESERVED: /);
    expect(taken.PhysicalResourceId).toMatch(/^ipam:create-failed:/);
    await succeed(createEvent('allocation', 'First', { SubnetId: subnetId }));
    const full = await fail(createEvent('allocation', 'Second', { SubnetId: subnetId }));
    expect(full.Reason).toMatch(/^SUBNET_EXHAUSTED: /);
    // CloudFormation deletes a resource whose Create failed.
    await succeed(
      deleteEvent('allocation', 'Second', full.PhysicalResourceId, { SubnetId: subnetId }),
    );
    expect(await allocated(subnetId)).toBe(1);

    const missing = await fail(
      createEvent('allocation', 'Lost', { SubnetId: 'sub_AAAAAAAAAAAAAAAAAAAAAA' }),
    );
    expect(missing.Reason).toMatch(/^SUBNET_NOT_FOUND: No subnet has the id/);
    const typo = await fail(createEvent('allocation', 'Typo', { SubnetID: subnetId }));
    expect(typo.Reason).toMatch(
      /^VALIDATION_ERROR: Custom::IpamAllocation has no property SubnetID/,
    );
    const both = await fail(
      createEvent('allocation', 'Both', {
        SubnetId: subnetId,
        Ip: '10.210.12.2',
        Strategy: 'random',
      }),
    );
    expect(both.Reason).toMatch(/^VALIDATION_ERROR: Give at most one of/);
    const badIp = await fail(
      createEvent('allocation', 'Bad', { SubnetId: subnetId, Ip: '010.1.1.1' }),
    );
    expect(badIp.Reason).toMatch(/^INVALID_IP: /);
  });

  it('a Create whose answer could not be recorded is undone and fails', async () => {
    const subnetId = await subnet('10.210.13.0/24');
    const answers: string[] = [];
    const failing = createCustomResourceHandler({
      ctx: failingRecordWrites(db.ctx),
      send: async (_url, body) => {
        answers.push(body);
      },
    });
    const event = createEvent('allocation', 'LbAddress', { SubnetId: subnetId });
    const response = await failing(event);
    expect(response).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringMatching(/^INTERNAL_ERROR: .*request /),
      PhysicalResourceId: expect.stringMatching(/^ipam:create-failed:/),
    });
    expect(answers).toHaveLength(1);
    expect(await allocated(subnetId)).toBe(0);
    await succeed(
      deleteEvent('allocation', 'LbAddress', response.PhysicalResourceId, {
        SubnetId: subnetId,
      }),
    );
  });
});

describe('Custom::IpamSubnet', () => {
  it('Create carves from the pool and answers Cidr, SubnetId and GatewayIp; a retry carves nothing more', async () => {
    const view = await pool('10.220.0.0/16');
    const event = createEvent('subnet', 'VpcBlock', {
      PoolId: view.id,
      PrefixLength: 24,
      Tags: { app: 'consumer' },
    });
    const created = await succeed(event);
    expect(created.Data).toEqual({
      Cidr: '10.220.0.0/24',
      SubnetId: created.PhysicalResourceId,
      GatewayIp: '10.220.0.1',
    });
    const stored = await loadSubnet(db.ctx, created.PhysicalResourceId);
    expect(stored).toMatchObject({ name: 'cfn:consumer-app/VpcBlock', poolId: view.id });
    expect(stored.tags).toMatchObject({
      app: 'consumer',
      [CFN_TAGS.request]: requestRefOf(event).requestKey,
    });
    const again = await succeed(event);
    expect(again.PhysicalResourceId).toBe(created.PhysicalResourceId);
    expect(again.Data).toEqual(created.Data);
    expect(await carvedAddresses(view.id)).toBe('256');
  });

  it('a Create retried after a crash that followed the carve finds that subnet', async () => {
    const view = await pool('10.221.0.0/16');
    const event = createEvent('subnet', 'VpcBlock', { PoolId: view.id, PrefixLength: 20 });
    const crashed = new CustomResourceProvider(failingRecordWrites(db.ctx), allocator().typed);
    await expect(crashed.handle(event)).rejects.toThrow(/injected/);
    expect(await carvedAddresses(view.id)).toBe('4096');
    const response = await succeed(event);
    expect(response.Data.Cidr).toBe('10.221.0.0/20');
    expect(await carvedAddresses(view.id)).toBe('4096');
  });

  it('an explicit Cidr is carved, and a retry answers the same subnet', async () => {
    const view = await pool('10.222.0.0/16');
    const event = createEvent('subnet', 'Pinned', { PoolId: view.id, Cidr: '10.222.7.0/24' });
    const created = await succeed(event);
    expect(created.Data.Cidr).toBe('10.222.7.0/24');
    const ref = requestRefOf(event);
    await db.ctx.doc.send(
      new DeleteCommand({
        TableName: db.ctx.tableName,
        Key: { pk: `CFN#${ref.resourceKey}`, sk: `RES#${created.PhysicalResourceId}` },
      }),
    );
    expect((await succeed(event)).PhysicalResourceId).toBe(created.PhysicalResourceId);
    expect(await carvedAddresses(view.id)).toBe('256');
  });

  it('Update: unchanged is a no-op, Name and Tags change in place, PrefixLength carves anew', async () => {
    const view = await pool('10.223.0.0/16');
    const props = { PoolId: view.id, PrefixLength: 24, Name: 'vpc-a' };
    const created = await succeed(createEvent('subnet', 'VpcBlock', props));
    const id = created.PhysicalResourceId;

    const same = await succeed(updateEvent('subnet', 'VpcBlock', id, props, props));
    expect(same).toMatchObject({ PhysicalResourceId: id, Data: created.Data });

    const renamed = { ...props, Name: 'vpc-b', Tags: { env: 'prod' } };
    const inPlace = await succeed(updateEvent('subnet', 'VpcBlock', id, renamed, props));
    expect(inPlace).toMatchObject({ PhysicalResourceId: id, Data: created.Data });
    const stored = await loadSubnet(db.ctx, id);
    expect(stored.name).toBe('vpc-b');
    expect(stored.tags).toMatchObject({ env: 'prod', [CFN_TAGS.logicalId]: 'VpcBlock' });

    const bigger = { ...renamed, PrefixLength: 22 };
    const replaced = await succeed(updateEvent('subnet', 'VpcBlock', id, bigger, renamed));
    expect(replaced.PhysicalResourceId).not.toBe(id);
    expect(replaced.Data.Cidr).toBe('10.223.4.0/22');
    expect(await carvedAddresses(view.id)).toBe(String(256 + 1024));
    await succeed(deleteEvent('subnet', 'VpcBlock', id, renamed));
    expect(await carvedAddresses(view.id)).toBe('1024');
    await expect(loadSubnet(db.ctx, id)).rejects.toThrow(/No subnet has the id/);
  });

  it('the rollback of a replacing Update gets the original subnet back', async () => {
    const view = await pool('10.224.0.0/16');
    const props = { PoolId: view.id, PrefixLength: 24 };
    const created = await succeed(createEvent('subnet', 'VpcBlock', props));
    const wider = { ...props, PrefixLength: 23 };
    const updated = await succeed(
      updateEvent('subnet', 'VpcBlock', created.PhysicalResourceId, wider, props),
    );
    const rolledBack = await succeed(
      updateEvent('subnet', 'VpcBlock', updated.PhysicalResourceId, props, wider),
    );
    expect(rolledBack).toMatchObject({
      PhysicalResourceId: created.PhysicalResourceId,
      Data: created.Data,
    });
    await succeed(deleteEvent('subnet', 'VpcBlock', updated.PhysicalResourceId, wider));
    expect(await carvedAddresses(view.id)).toBe('256');
  });

  it('Delete fails with SUBNET_IN_USE while it holds allocations, then deletes; a repeat succeeds', async () => {
    const view = await pool('10.225.0.0/16');
    const props = { PoolId: view.id, PrefixLength: 24 };
    const created = await succeed(createEvent('subnet', 'VpcBlock', props));
    const address = await succeed(
      createEvent('allocation', 'LbAddress', { SubnetId: created.PhysicalResourceId }),
    );
    const remove = deleteEvent('subnet', 'VpcBlock', created.PhysicalResourceId, props);
    const inUse = await fail(remove);
    expect(inUse.Reason).toMatch(/^SUBNET_IN_USE: Subnet .* still holds 1 allocation/);
    expect(inUse.PhysicalResourceId).toBe(created.PhysicalResourceId);
    await succeed(
      deleteEvent('allocation', 'LbAddress', address.PhysicalResourceId, {
        SubnetId: created.PhysicalResourceId,
      }),
    );
    await succeed(remove);
    expect(await carvedAddresses(view.id)).toBe('0');
    await succeed(remove);
  });

  it('ReuseDelaySeconds: set on Create, changed in place, 0 once removed, checked for its range', async () => {
    const view = await pool('10.228.0.0/16');
    const props = { PoolId: view.id, PrefixLength: 24, ReuseDelaySeconds: '300' };
    const created = await succeed(createEvent('subnet', 'Cool', props));
    const id = created.PhysicalResourceId;
    expect((await loadSubnet(db.ctx, id)).reuseDelaySeconds).toBe(300);
    const longer = { ...props, ReuseDelaySeconds: 3600 };
    const changed = await succeed(updateEvent('subnet', 'Cool', id, longer, props));
    expect(changed.PhysicalResourceId).toBe(id);
    expect((await loadSubnet(db.ctx, id)).reuseDelaySeconds).toBe(3600);
    const { ReuseDelaySeconds: _removed, ...without } = longer;
    await succeed(updateEvent('subnet', 'Cool', id, without, longer));
    expect((await loadSubnet(db.ctx, id)).reuseDelaySeconds).toBe(0);
    const tooLong = { ...props, ReuseDelaySeconds: '86401' };
    const refused = await fail(updateEvent('subnet', 'Cool', id, tooLong, without));
    expect(refused.Reason).toMatch(
      /^VALIDATION_ERROR: .*ReuseDelaySeconds.*whole number of seconds from 0 to 86400/,
    );
    expect((await loadSubnet(db.ctx, id)).reuseDelaySeconds).toBe(0);
  });

  it('POOL_EXHAUSTED and POOL_NOT_FOUND reach CloudFormation', async () => {
    const view = await pool('10.226.0.0/24');
    await succeed(createEvent('subnet', 'First', { PoolId: view.id, PrefixLength: 24 }));
    const full = await fail(createEvent('subnet', 'Second', { PoolId: view.id, PrefixLength: 24 }));
    expect(full.Reason).toMatch(/^POOL_EXHAUSTED: Pool .* has no free \/24 left/);
    await succeed(deleteEvent('subnet', 'Second', full.PhysicalResourceId, { PoolId: view.id }));
    const missing = await fail(
      createEvent('subnet', 'Third', { PoolId: 'pool_AAAAAAAAAAAAAAAAAAAAAA', PrefixLength: 24 }),
    );
    expect(missing.Reason).toMatch(/^POOL_NOT_FOUND: /);
    const range = await fail(
      createEvent('subnet', 'Fourth', { PoolId: view.id, PrefixLength: 16 }),
    );
    expect(range.Reason).toMatch(/^PREFIX_LENGTH_OUT_OF_RANGE: /);
    const both = await fail(
      createEvent('subnet', 'Fifth', { PoolId: view.id, PrefixLength: 24, Cidr: '10.226.0.0/24' }),
    );
    expect(both.Reason).toMatch(/^VALIDATION_ERROR: Give PrefixLength or Cidr/);
    const props = { PoolId: view.id, Cidr: '10.226.0.1/24' };
    const hostBits = await fail(createEvent('subnet', 'Sixth', props));
    expect(hostBits.Reason).toMatch(/^INVALID_CIDR: .*host bits are set/);
    await succeed(deleteEvent('subnet', 'Sixth', hostBits.PhysicalResourceId, props));
  });

  it('another resource type fails its Create, and its Delete succeeds', async () => {
    const other = { ...createEvent('subnet', 'Other', {}), ResourceType: 'Custom::Other' };
    const created = await fail(other);
    expect(created.Reason).toMatch(/^VALIDATION_ERROR: This provider handles Custom::IpamSubnet/);
    await succeed({
      ...deleteEvent('subnet', 'Other', created.PhysicalResourceId, {}),
      ResourceType: 'Custom::Other',
    });
  });
});

describe('the constructs and the provider agree', () => {
  it('properties synthesized by IpamSubnet and IpamAllocation are accepted as CloudFormation passes them', async () => {
    const view = await pool('10.227.0.0/16');
    const stack = new Stack(new App(), 'Contract');
    new IpamSubnet(stack, 'Net', {
      serviceToken: SERVICE_TOKEN,
      poolId: view.id,
      prefixLength: 26,
      name: 'contract',
      tags: { team: 'net' },
      reuseDelay: Duration.minutes(5),
    });
    new IpamAllocation(stack, 'Addr', {
      serviceToken: SERVICE_TOKEN,
      subnetId: 'SUBNET_ID',
      strategy: 'sequential',
      owner: 'contract',
      description: 'first address',
      tags: { team: 'net' },
    });
    const template = Template.fromStack(stack);
    const propsOf = (type: string) => {
      const [resource] = Object.values(template.findResources(type));
      const { ServiceToken: _token, ...rest } = (resource?.Properties ?? {}) as Props;
      return rest;
    };
    const carved = await succeed(createEvent('subnet', 'Net', propsOf(IpamSubnet.RESOURCE_TYPE)));
    expect(carved.Data.Cidr).toBe('10.227.0.0/26');
    expect((await loadSubnet(db.ctx, carved.PhysicalResourceId)).reuseDelaySeconds).toBe(300);
    const allocationProps = {
      ...propsOf(IpamAllocation.RESOURCE_TYPE),
      SubnetId: carved.Data.SubnetId,
    };
    const address = await succeed(createEvent('allocation', 'Addr', allocationProps));
    expect(address.Data).toEqual({ Ip: '10.227.0.2', SubnetId: carved.Data.SubnetId });
  });
});

describe('the answer to CloudFormation', () => {
  it('is PUT to the ResponseURL as JSON without a content type', async () => {
    const received: { method?: string; headers: IncomingHttpHeaders; body: string }[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        received.push({ method: request.method, headers: request.headers, body });
        response.writeHead(received.length === 1 ? 503 : 200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}/response?X-Amz-Signature=abc`;
      const body = JSON.stringify({ Status: 'SUCCESS', PhysicalResourceId: 'x' });
      // The first PUT answers 503 and is retried.
      await putResponse(url, body);
      expect(received).toHaveLength(2);
      expect(received[1]).toMatchObject({ method: 'PUT', body });
      expect(received[1]?.headers['content-type'] ?? '').toBe('');
      expect(received[1]?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('an answer that cannot be delivered fails the invocation, so that Lambda retries it', async () => {
    await expect(putResponse('http://127.0.0.1:9/unreachable', '{}')).rejects.toThrow(
      /Could not deliver/,
    );
  });
});
