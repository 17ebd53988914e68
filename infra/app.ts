/**
 * The CDK app: reads the context options (infra/config.ts), creates the stack and
 * checks it with cdk-nag's AwsSolutions rules on every synth. `cdk.json` runs it
 * with `npx tsx infra/app.ts`.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig } from './config.js';
import { FEATURE_FLAGS } from './featureFlags.js';
import { IpamStack } from './IpamStack.js';

const app = new App({ context: FEATURE_FLAGS });
const config = readConfig(app.node);
new IpamStack(app, config.stackName, {
  config,
  description: 'IPAM: serverless IP address management (API Gateway, Lambda, DynamoDB)',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
