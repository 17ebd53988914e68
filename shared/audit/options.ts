/**
 * What a caller may ask of an audit, and its checked form: the settings a new
 * audit stores with its report, so that every segment and the merge run exactly
 * as the job began.
 */
import { ValidationError } from '../errors.js';
import { hintsWanted } from '../hints/index.js';

export interface AuditOptions {
  repair: boolean;
  /** Default 15 minutes. */
  gracePeriodMs?: number;
  /** Default 90. */
  highUtilizationPercent?: number;
  /** Parallel Scan segments; default one per {@link ITEMS_PER_SEGMENT} items of the table's estimate. */
  segments?: number;
  /** Items per Scan/Query page (bounded memory), default 500. */
  pageSize?: number;
  /** True when the caller must stop: each segment saves its checkpoint and the report stays `running`. */
  deadline?: () => boolean;
  /** Continue this running audit from its segments' checkpoints (its own options apply, not these). */
  resumeFrom?: string;
  /** How often a segment saves its checkpoint while it runs, default 10 s (also at the deadline and the end). */
  checkpointEveryMs?: number;
  /** Findings kept in the stored report, default 500 (counts are always complete). */
  maxStoredFindings?: number;
  /**
   * The stream processor writes the blocks' hints, so a block with items and no hint
   * lost one (HINT_STALE); default `IPAM_HINTS` (hints/settings.ts), as the processor's.
   */
  expectHints?: boolean;
}

export const AUDIT_DEFAULTS = {
  gracePeriodMs: 15 * 60 * 1000,
  highUtilizationPercent: 90,
  pageSize: 500,
  maxStoredFindings: 500,
  checkpointEveryMs: 10_000,
} as const;

/**
 * A segment's share of the table when the caller names no segment count: small
 * enough that one Lambda reads it in well under a minute, large enough that a
 * 10 M-item table needs a few hundred invocations, not thousands.
 */
export const ITEMS_PER_SEGMENT = 25_000;
const MAX_SEGMENTS = 1000;

/** The segment count for a table of about `estimatedItems` items. */
export function segmentsFor(estimatedItems: number): number {
  return Math.min(MAX_SEGMENTS, Math.max(1, Math.ceil(estimatedItems / ITEMS_PER_SEGMENT)));
}

/** The options of one audit, checked and defaulted; stored in its checkpoint. */
export interface AuditSettings {
  repair: boolean;
  gracePeriodMs: number;
  highUtilizationPercent: number;
  segments: number;
  maxStoredFindings: number;
  /** Absent in a job stored before it: false. */
  expectHints?: boolean;
}

/** The page size of this run (not stored: a resume may choose its own). */
export function parsePageSize(options: Pick<AuditOptions, 'pageSize'>): number {
  return integerOption(options.pageSize, AUDIT_DEFAULTS.pageSize, 1, 1000, 'pageSize');
}

/** How often this run's segments checkpoint (not stored). */
export function parseCheckpointInterval(options: Pick<AuditOptions, 'checkpointEveryMs'>): number {
  return integerOption(
    options.checkpointEveryMs,
    AUDIT_DEFAULTS.checkpointEveryMs,
    0,
    3_600_000,
    'checkpointEveryMs',
  );
}

/**
 * Checks and defaults the options of a new audit (the segment count from the
 * table's estimated size); throws ValidationError naming the field.
 */
export function parseSettings(options: AuditOptions, estimatedItems = 0): AuditSettings {
  return {
    repair: options.repair,
    gracePeriodMs: integerOption(
      options.gracePeriodMs,
      AUDIT_DEFAULTS.gracePeriodMs,
      0,
      Number.MAX_SAFE_INTEGER,
      'gracePeriodMs',
    ),
    highUtilizationPercent: numberOption(
      options.highUtilizationPercent,
      AUDIT_DEFAULTS.highUtilizationPercent,
      0,
      100,
      'highUtilizationPercent',
    ),
    segments: integerOption(
      options.segments,
      segmentsFor(estimatedItems),
      1,
      MAX_SEGMENTS,
      'segments',
    ),
    maxStoredFindings: integerOption(
      options.maxStoredFindings,
      AUDIT_DEFAULTS.maxStoredFindings,
      0,
      10_000,
      'maxStoredFindings',
    ),
    expectHints: options.expectHints ?? hintsWanted(),
  };
}

function integerOption(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  field: string,
): number {
  return numberOption(value, fallback, min, max, field, true);
}

function numberOption(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  field: string,
  integer = false,
): number {
  if (value === undefined) return fallback;
  const valid = integer ? Number.isInteger(value) : Number.isFinite(value);
  if (!valid || value < min || value > max) {
    throw new ValidationError(
      `${field} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}.`,
      { field },
    );
  }
  return value;
}
