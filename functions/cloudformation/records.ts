/**
 * What the provider writes down for itself (main table, partition `CFN#<resource key>`;
 * the audit ignores these items):
 *
 * | item   | sk                   | attributes                                                    |
 * | ------ | -------------------- | ------------------------------------------------------------- |
 * | result | `RES#<physical id>`  | requestKey, identity, resourceType, data, stackId, logical id |
 * | plan   | `PLAN#<request key>` | cidr, space, `ttl` (7 days): the block a carve is taking      |
 *
 * One result per live physical id (two while an update replaces it) lets a retry
 * answer directly; a plan lets a retried carve look at the block it was taking.
 */
import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../../shared/store/context.js';
import { TTL_ATTRIBUTE } from '../../shared/store/table.js';
import type { CustomResourceResult, RequestRef } from './request.js';

/** Plans outlive any retry of their request (CloudFormation waits at most an hour). */
const PLAN_TTL_SECONDS = 7 * 24 * 3600;

export interface ResultRecord {
  readonly kind: 'result';
  readonly physicalResourceId: string;
  readonly requestKey: string;
  readonly identity: string;
  readonly data: Record<string, string>;
}

export interface PlanRecord {
  readonly kind: 'plan';
  readonly requestKey: string;
  readonly cidr: string;
  readonly space: string;
}

export type ProviderRecord = ResultRecord | PlanRecord;

const recordKeys = {
  partition: (resourceKey: string) => `CFN#${resourceKey}`,
  result: (physicalId: string) => `RES#${physicalId}`,
  plan: (requestKey: string) => `PLAN#${requestKey}`,
};

/** The result and plan records of one table. */
export class ProviderRecords {
  constructor(private readonly ctx: IpamContext) {}

  /** Every record of a resource (consistent: a retry must see what its first attempt wrote). */
  async of(resourceKey: string): Promise<ProviderRecord[]> {
    const records: ProviderRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.ctx.doc.send(
        new QueryCommand({
          TableName: this.ctx.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': recordKeys.partition(resourceKey) },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        if (item.type === 'cfnResult') {
          records.push({
            kind: 'result',
            physicalResourceId: String(item.physicalResourceId),
            requestKey: String(item.requestKey),
            identity: String(item.identity),
            data: item.data as Record<string, string>,
          });
        } else if (item.type === 'cfnPlan') {
          records.push({
            kind: 'plan',
            requestKey: String(item.requestKey),
            cidr: String(item.cidr),
            space: String(item.space),
          });
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return records;
  }

  async putResult(
    ref: RequestRef,
    result: CustomResourceResult,
    identity: string,
    resourceType: string,
  ): Promise<void> {
    await this.ctx.doc.send(
      new PutCommand({
        TableName: this.ctx.tableName,
        Item: {
          pk: recordKeys.partition(ref.resourceKey),
          sk: recordKeys.result(result.physicalResourceId),
          type: 'cfnResult',
          physicalResourceId: result.physicalResourceId,
          requestKey: ref.requestKey,
          identity,
          resourceType,
          data: result.data,
          stackId: ref.stackId,
          logicalResourceId: ref.logicalResourceId,
          createdAt: new Date(this.ctx.now()).toISOString(),
        },
      }),
    );
  }

  async putPlan(ref: RequestRef, cidr: string, space: string): Promise<void> {
    await this.ctx.doc.send(
      new PutCommand({
        TableName: this.ctx.tableName,
        Item: {
          pk: recordKeys.partition(ref.resourceKey),
          sk: recordKeys.plan(ref.requestKey),
          type: 'cfnPlan',
          requestKey: ref.requestKey,
          cidr,
          space,
          [TTL_ATTRIBUTE]: Math.floor(this.ctx.now() / 1000) + PLAN_TTL_SECONDS,
        },
      }),
    );
  }

  async deleteResult(resourceKey: string, physicalId: string): Promise<void> {
    await this.delete(resourceKey, recordKeys.result(physicalId));
  }

  async deleteRecord(resourceKey: string, record: ProviderRecord): Promise<void> {
    await this.delete(
      resourceKey,
      record.kind === 'plan'
        ? recordKeys.plan(record.requestKey)
        : recordKeys.result(record.physicalResourceId),
    );
  }

  private async delete(resourceKey: string, sk: string): Promise<void> {
    await this.ctx.doc.send(
      new DeleteCommand({
        TableName: this.ctx.tableName,
        Key: { pk: recordKeys.partition(resourceKey), sk },
      }),
    );
  }
}
