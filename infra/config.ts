/**
 * Deploy-time options, read once from CDK context (`-c key=value` or cdk.json
 * "context") and validated here, so a typo fails the synth instead of the deploy.
 * Values from the command line are always strings; cdk.json may hold typed values.
 * Every option is described in infra/README.md ("Deploy to AWS").
 */
import type { Node } from 'constructs';

export type TableEncryption = 'aws-managed' | 'customer-managed';
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface IpamConfig {
  readonly stackName: string;
  /** Test stacks: tables are destroyed with the stack and have no deletion protection. */
  readonly ephemeral: boolean;
  readonly tableEncryption: TableEncryption;
  /** An existing KMS key for the tables (implies customer-managed encryption). */
  readonly tableKeyArn?: string;
  readonly logLevel: LogLevel;
  readonly logRetentionDays: number;
  /** Reserved concurrency per function: one number for every function, or per group. */
  readonly reservedConcurrency: ReservedConcurrency;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly privateApi: boolean;
  readonly vpcEndpointId?: string;
  readonly webAclArn?: string;
  /** Create the account-wide role API Gateway needs to write execution logs. */
  readonly apiCloudWatchRole: boolean;
  readonly auditSchedule: string;
  readonly auditGraceMs?: number;
  /** How long history entries are kept (their TTL), in days. */
  readonly historyRetentionDays: number;
  /** The stream processor writes the blocks' hints, the audit expects them (issue 17 stage 2; IPAM_HINTS). */
  readonly deriveHints: boolean;
  readonly alarmEmail?: string;
}

/** `all` applies to every function; a group name (or `auditSchedule`) overrides it. */
export interface ReservedConcurrency {
  readonly all?: number;
  readonly byFunction: Readonly<Record<string, number>>;
}

export const DEFAULTS = {
  stackName: 'Ipam',
  logLevel: 'INFO',
  logRetentionDays: 30,
  throttleRateLimit: 100,
  throttleBurstLimit: 200,
  auditSchedule: 'rate(1 hour)',
  historyRetentionDays: 90,
} as const;

/** The context keys this app reads; anything else set on the command line is a typo. */
export const CONTEXT_KEYS = [
  'stackName',
  'ephemeral',
  'tableEncryption',
  'tableKeyArn',
  'logLevel',
  'logRetentionDays',
  'reservedConcurrency',
  'throttleRateLimit',
  'throttleBurstLimit',
  'privateApi',
  'vpcEndpointId',
  'webAclArn',
  'apiCloudWatchRole',
  'auditSchedule',
  'auditGraceMs',
  'alarmEmail',
  'historyRetentionDays',
  'deriveHints',
] as const;

export type ContextKey = (typeof CONTEXT_KEYS)[number];
export type ContextValues = Partial<Record<ContextKey, unknown>>;

/** CloudWatch Logs accepts only these retention periods. */
const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function readConfig(node: Node): IpamConfig {
  const values: ContextValues = {};
  for (const key of CONTEXT_KEYS) {
    const value: unknown = node.tryGetContext(key);
    if (value !== undefined) values[key] = value;
  }
  return parseConfig(values);
}

export function parseConfig(values: ContextValues): IpamConfig {
  const tableKeyArn = optionalString(
    values,
    'tableKeyArn',
    /^arn:aws[a-z-]*:kms:[^:]+:\d{12}:key\/.+$/,
  );
  const tableEncryption = oneOf(values, 'tableEncryption', ['aws-managed', 'customer-managed']);
  if (tableKeyArn !== undefined && tableEncryption === 'aws-managed') {
    throw new ConfigError(
      'tableKeyArn is a customer-managed key: drop tableEncryption=aws-managed.',
    );
  }
  const privateApi = bool(values, 'privateApi', false);
  const vpcEndpointId = optionalString(values, 'vpcEndpointId', /^vpce-[0-9a-f]{8,17}$/);
  if (privateApi && vpcEndpointId === undefined) {
    throw new ConfigError('privateApi=true needs vpcEndpointId=vpce-… (the execute-api endpoint).');
  }
  if (!privateApi && vpcEndpointId !== undefined) {
    throw new ConfigError('vpcEndpointId is only used with privateApi=true.');
  }
  const auditSchedule = optionalString(values, 'auditSchedule', /^(rate|cron)\(.+\)$/);
  const auditGraceMs = optionalInteger(values, 'auditGraceMs', 0, 7 * 24 * 3600 * 1000);
  const historyRetentionDays = integer(
    values,
    'historyRetentionDays',
    DEFAULTS.historyRetentionDays,
    1,
    3650,
  );
  const logRetentionDays = integer(values, 'logRetentionDays', DEFAULTS.logRetentionDays, 1, 3653);
  if (!RETENTION_DAYS.includes(logRetentionDays)) {
    throw new ConfigError(`logRetentionDays must be one of ${RETENTION_DAYS.join(', ')}.`);
  }
  const throttleRateLimit = integer(
    values,
    'throttleRateLimit',
    DEFAULTS.throttleRateLimit,
    1,
    10_000,
  );
  const throttleBurstLimit = integer(
    values,
    'throttleBurstLimit',
    DEFAULTS.throttleBurstLimit,
    1,
    5_000,
  );
  const webAclArn = optionalString(
    values,
    'webAclArn',
    /^arn:aws[a-z-]*:wafv2:[^:]+:\d{12}:regional\/webacl\/.+$/,
  );
  const alarmEmail = optionalString(values, 'alarmEmail', /^[^@\s]+@[^@\s]+\.[^@\s]+$/);
  return {
    stackName:
      optionalString(values, 'stackName', /^[A-Za-z][A-Za-z0-9-]{0,127}$/) ?? DEFAULTS.stackName,
    ephemeral: bool(values, 'ephemeral', false),
    tableEncryption:
      tableKeyArn === undefined ? (tableEncryption ?? 'aws-managed') : 'customer-managed',
    ...(tableKeyArn === undefined ? {} : { tableKeyArn }),
    logLevel: oneOf(values, 'logLevel', ['DEBUG', 'INFO', 'WARN', 'ERROR']) ?? DEFAULTS.logLevel,
    logRetentionDays,
    reservedConcurrency: reservedConcurrency(values.reservedConcurrency),
    throttleRateLimit,
    throttleBurstLimit,
    privateApi,
    ...(vpcEndpointId === undefined ? {} : { vpcEndpointId }),
    ...(webAclArn === undefined ? {} : { webAclArn }),
    apiCloudWatchRole: bool(values, 'apiCloudWatchRole', true),
    auditSchedule: auditSchedule ?? DEFAULTS.auditSchedule,
    ...(auditGraceMs === undefined ? {} : { auditGraceMs }),
    historyRetentionDays,
    deriveHints: bool(values, 'deriveHints', false),
    ...(alarmEmail === undefined ? {} : { alarmEmail }),
  };
}

/** The reserved concurrency of one function (by group name, or `auditSchedule`). */
export function reservedConcurrencyOf(config: IpamConfig, name: string): number | undefined {
  return config.reservedConcurrency.byFunction[name] ?? config.reservedConcurrency.all;
}

function bool(values: ContextValues, key: ContextKey, fallback: boolean): boolean {
  const value = values[key];
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError(`${key} must be true or false, not ${JSON.stringify(value)}.`);
}

function optionalString(
  values: ContextValues,
  key: ContextKey,
  pattern: RegExp,
): string | undefined {
  const value = values[key];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ConfigError(`${key} must match ${pattern}, not ${JSON.stringify(value)}.`);
  }
  return value;
}

function oneOf<T extends string>(
  values: ContextValues,
  key: ContextKey,
  allowed: readonly T[],
): T | undefined {
  const value = values[key];
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    throw new ConfigError(
      `${key} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}.`,
    );
  }
  return value as T;
}

function toInteger(key: string, value: unknown, min: number, max: number): number {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new ConfigError(
      `${key} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}.`,
    );
  }
  return number;
}

function integer(
  values: ContextValues,
  key: ContextKey,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = values[key];
  return value === undefined ? fallback : toInteger(key, value, min, max);
}

function optionalInteger(
  values: ContextValues,
  key: ContextKey,
  min: number,
  max: number,
): number | undefined {
  const value = values[key];
  return value === undefined ? undefined : toInteger(key, value, min, max);
}

/** `5`, `"5"`, `{"allocations": 50, "auditSchedule": 1}` or its JSON text. */
function reservedConcurrency(value: unknown): ReservedConcurrency {
  if (value === undefined) return { byFunction: {} };
  const parsed =
    typeof value === 'string' && value.trim().startsWith('{') ? parseJson(value) : value;
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const byFunction: Record<string, number> = {};
    for (const [name, limit] of Object.entries(parsed)) {
      byFunction[name] = toInteger(`reservedConcurrency.${name}`, limit, 0, 10_000);
    }
    return { byFunction };
  }
  return { all: toInteger('reservedConcurrency', parsed, 0, 10_000), byFunction: {} };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(`reservedConcurrency is not valid JSON: ${text}`);
  }
}
