/**
 * What a caller may ask of an audit, and its checked form: the settings a new
 * audit stores in its checkpoint, so that a resumed audit runs exactly as it began.
 */
import { ValidationError } from '../errors.js';

export interface AuditOptions {
  repair: boolean;
  /** Default 15 minutes. */
  gracePeriodMs?: number;
  /** Default 90. */
  highUtilizationPercent?: number;
  /** Parallel Scan segments, default 1 (more for large tables). */
  segments?: number;
  /** Items per Scan/Query page (bounded memory), default 500. */
  pageSize?: number;
  /** True when the caller must stop: the audit saves a checkpoint and returns a partial report. */
  deadline?: () => boolean;
  /** Continue this partial audit from its checkpoint (its own options apply, not these). */
  resumeFrom?: string;
  /** Findings kept in the stored report, default 500 (counts are always complete). */
  maxStoredFindings?: number;
}

export const AUDIT_DEFAULTS = {
  gracePeriodMs: 15 * 60 * 1000,
  highUtilizationPercent: 90,
  segments: 1,
  pageSize: 500,
  maxStoredFindings: 500,
} as const;

/** The options of one audit, checked and defaulted; stored in its checkpoint. */
export interface AuditSettings {
  repair: boolean;
  gracePeriodMs: number;
  highUtilizationPercent: number;
  segments: number;
  maxStoredFindings: number;
}

/** The page size of this run (not stored: a resume may choose its own). */
export function parsePageSize(options: AuditOptions): number {
  return integerOption(options.pageSize, AUDIT_DEFAULTS.pageSize, 1, 1000, 'pageSize');
}

/** Checks and defaults the options of a new audit; throws ValidationError naming the field. */
export function parseSettings(options: AuditOptions): AuditSettings {
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
    segments: integerOption(options.segments, AUDIT_DEFAULTS.segments, 1, 1000, 'segments'),
    maxStoredFindings: integerOption(
      options.maxStoredFindings,
      AUDIT_DEFAULTS.maxStoredFindings,
      0,
      10_000,
      'maxStoredFindings',
    ),
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
