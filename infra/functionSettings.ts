/**
 * The settings every Lambda of the service shares: runtime, architecture, bundling,
 * tracing and the Powertools environment. One object, so the API functions and the
 * audit cannot drift apart.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import {
  LogLevel as EsbuildLogLevel,
  type NodejsFunctionProps,
  OutputFormat,
  SourceMapMode,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { AUDIT_METRICS } from '../shared/audit/metrics.js';
import type { IpamConfig } from './config.js';

/** The repository root: bundling resolves entries, tsconfig and the lock file from here. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export const SERVICE_NAME = 'ipam';
/** CloudWatch namespace of the audit's metrics (read by the audit as IPAM_METRICS_NAMESPACE). */
export const METRICS_NAMESPACE = AUDIT_METRICS.namespace;

export const RUNTIME = Runtime.NODEJS_24_X;
export const ARCHITECTURE = Architecture.ARM_64;

/**
 * An ES module bundle may still contain CommonJS dependencies that call
 * `require`; give them one. The alias avoids clashing with names in the bundle.
 */
const REQUIRE_SHIM =
  "import { createRequire as __ipamCreateRequire } from 'node:module'; const require = __ipamCreateRequire(import.meta.url);";

export type SharedFunctionProps = Pick<
  NodejsFunctionProps,
  | 'runtime'
  | 'architecture'
  | 'memorySize'
  | 'tracing'
  | 'environment'
  | 'bundling'
  | 'projectRoot'
  | 'depsLockFilePath'
  | 'handler'
>;

/**
 * The AWS SDK is bundled (not taken from the runtime): in a fresh Node process the
 * bundled meta function imports in about half the time of one that loads the SDK
 * from node_modules, and the SDK version is the one the lock file pins and the
 * tests ran against (infra/README.md has the numbers).
 */
export function sharedFunctionProps(config: IpamConfig): SharedFunctionProps {
  return {
    runtime: RUNTIME,
    architecture: ARCHITECTURE,
    memorySize: 1024,
    tracing: Tracing.ACTIVE,
    handler: 'handler',
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
    environment: {
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_LOG_LEVEL: config.logLevel,
      // Stack traces of the minified bundle point at the TypeScript sources.
      NODE_OPTIONS: '--enable-source-maps',
    },
    bundling: {
      forceDockerBundling: false,
      format: OutputFormat.ESM,
      target: 'node24',
      mainFields: ['module', 'main'],
      banner: REQUIRE_SHIM,
      minify: true,
      sourceMap: true,
      sourceMapMode: SourceMapMode.DEFAULT,
      sourcesContent: false,
      bundleAwsSDK: true,
      externalModules: [],
      tsconfig: join(PROJECT_ROOT, 'tsconfig.json'),
      logLevel: EsbuildLogLevel.WARNING,
    },
  };
}

/** API functions answer within API Gateway's 29 s integration timeout. */
export const API_FUNCTION_TIMEOUT = Duration.seconds(20);
/** The audit checkpoints 30 s before its deadline and resumes on the next run. */
export const AUDIT_FUNCTION_TIMEOUT = Duration.minutes(15);
