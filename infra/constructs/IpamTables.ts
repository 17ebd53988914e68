/**
 * The service's table and Powertools Idempotency's table, declared with the same
 * key names, index and TTL attributes as shared/table.ts (which creates them for
 * DynamoDB Local), plus what only AWS has: on-demand billing, point-in-time
 * recovery, deletion protection and KMS encryption.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { IDEMPOTENCY_TABLE, KEY, LIST_INDEX, TTL_ATTRIBUTE } from '../../shared/store/table.js';

export interface IpamTablesProps {
  /** Destroy the tables with the stack and leave deletion protection off (test stacks). */
  readonly ephemeral: boolean;
  readonly encryption: 'aws-managed' | 'customer-managed';
  /** An existing key for customer-managed encryption; a new one is created when absent. */
  readonly keyArn?: string;
}

export class IpamTables extends Construct {
  readonly table: Table;
  readonly idempotencyTable: Table;
  /** The customer-managed key, when the tables use one. */
  readonly key?: IKey;
  /** The list index's name, for index ARNs in policies. */
  readonly indexName: string = LIST_INDEX.name;

  constructor(scope: Construct, id: string, props: IpamTablesProps) {
    super(scope, id);
    const removalPolicy = props.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    if (props.encryption === 'customer-managed') {
      this.key =
        props.keyArn === undefined
          ? new Key(this, 'Key', {
              description: 'Encrypts the IPAM tables',
              enableKeyRotation: true,
              removalPolicy,
              pendingWindow: Duration.days(props.ephemeral ? 7 : 30),
            })
          : Key.fromKeyArn(this, 'Key', props.keyArn);
    }
    const encryption =
      this.key === undefined
        ? { encryption: TableEncryption.AWS_MANAGED }
        : { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: this.key };
    const common = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: !props.ephemeral,
      removalPolicy,
      ...encryption,
    };

    this.table = new Table(this, 'Table', {
      ...common,
      partitionKey: { name: KEY.partition, type: AttributeType.STRING },
      sortKey: { name: KEY.sort, type: AttributeType.STRING },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // History's outbox (shared/history): every committed change, old and new image.
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: LIST_INDEX.name,
      partitionKey: { name: LIST_INDEX.partition, type: AttributeType.STRING },
      sortKey: { name: LIST_INDEX.sort, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });

    this.idempotencyTable = new Table(this, 'IdempotencyTable', {
      ...common,
      partitionKey: { name: IDEMPOTENCY_TABLE.key, type: AttributeType.STRING },
      timeToLiveAttribute: IDEMPOTENCY_TABLE.ttl,
    });
  }

  /** The ARN of the list index, for Query permissions. */
  get indexArn(): string {
    return `${this.table.tableArn}/index/${this.indexName}`;
  }
}
