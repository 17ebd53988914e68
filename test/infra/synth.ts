/**
 * Synthesizes the stack the way infra/app.ts does (same feature flags, cdk-nag's
 * AwsSolutions checks as an aspect), offline, into a temporary directory.
 * `bundle: false` skips esbuild (the assets are placeholders) for tests that only
 * look at the template; `validate` runs CDK's built-in CloudFormation validation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Aspects, type CfnResource, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Route } from '../../functions/http/routes.js';
import { type ContextValues, parseConfig } from '../../infra/config.js';
import { FEATURE_FLAGS } from '../../infra/featureFlags.js';
import { IpamStack } from '../../infra/IpamStack.js';

export interface Synthesized {
  readonly app: App;
  readonly stack: IpamStack;
  readonly template: Template;
  /** Unsuppressed cdk-nag findings (errors and warnings), as "rule: construct path". */
  readonly nagFindings: string[];
  /** Removes the temporary cloud assembly. */
  cleanUp(): void;
}

export interface SynthOptions {
  readonly bundle?: boolean;
  readonly validate?: boolean;
  /** Instead of ROUTES. */
  readonly routes?: readonly Route[];
}

export function synthesize(context: ContextValues = {}, options: SynthOptions = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'ipam-cdk-'));
  const app = new App({
    outdir,
    context: {
      ...FEATURE_FLAGS,
      ...(options.bundle === true ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
    builtinCloudFormationValidation: options.validate === true,
  });
  const config = parseConfig(context);
  const stack = new IpamStack(app, config.stackName, {
    config,
    ...(options.routes === undefined ? {} : { routes: options.routes }),
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ reports: false }));
  const template = Template.fromStack(stack);
  const annotations = Annotations.fromStack(stack);
  const nagFindings = [
    ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-')),
    ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-')),
  ].map((finding) => `${String(finding.entry.data).split(':')[0]}: ${finding.id}`);
  return {
    app,
    stack,
    template,
    nagFindings,
    cleanUp: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** The template's logical id of a construct's CloudFormation resource. */
export function logicalIdOf(resource: { node: { defaultChild?: unknown } }): string {
  const cfn = resource.node.defaultChild as CfnResource;
  return Stack.of(cfn).getLogicalId(cfn);
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

export function resourcesOfType(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/**
 * The full path of every API Gateway resource, by logical id ('/' for the root),
 * rebuilt from the template's ParentId/PathPart chain.
 */
export function apiResourcePaths(template: Template): Map<string, string> {
  const resources = resourcesOfType(template, 'AWS::ApiGateway::Resource');
  const paths = new Map<string, string>();
  const pathOf = (id: string): string => {
    const known = paths.get(id);
    if (known !== undefined) return known;
    const props = resources[id]?.Properties as { ParentId: unknown; PathPart: string };
    const parent = props.ParentId as { Ref?: string };
    const parentPath = parent.Ref === undefined ? '' : pathOf(parent.Ref);
    const path = `${parentPath}/${props.PathPart}`;
    paths.set(id, path);
    return path;
  };
  for (const id of Object.keys(resources)) pathOf(id);
  return paths;
}

export interface ApiMethod {
  readonly path: string;
  readonly httpMethod: string;
  readonly authorizationType: string;
  /** Logical id of the Lambda function the integration invokes. */
  readonly functionId: string;
}

/** Every API method with its full path and the function behind it. */
export function apiMethods(template: Template): ApiMethod[] {
  const paths = apiResourcePaths(template);
  const methods = resourcesOfType(template, 'AWS::ApiGateway::Method');
  return Object.values(methods).map(({ Properties }) => {
    const props = Properties as {
      ResourceId: { Ref?: string };
      HttpMethod: string;
      AuthorizationType: string;
      Integration: { Type: string; Uri: unknown };
    };
    const resourceId = props.ResourceId.Ref;
    const uri = JSON.stringify(props.Integration.Uri);
    const functionId = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(uri)?.[1] ?? '';
    return {
      path: resourceId === undefined ? '/' : (paths.get(resourceId) ?? '?'),
      httpMethod: props.HttpMethod,
      authorizationType: props.AuthorizationType,
      functionId,
    };
  });
}

export interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Sid?: string;
  readonly Condition?: unknown;
}

/** The statements of every IAM policy attached to a role, by role logical id. */
export function roleStatements(template: Template): Map<string, PolicyStatementJson[]> {
  const byRole = new Map<string, PolicyStatementJson[]>();
  for (const { Properties } of Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))) {
    const props = Properties as {
      Roles: { Ref: string }[];
      PolicyDocument: { Statement: PolicyStatementJson[] };
    };
    for (const role of props.Roles) {
      byRole.set(role.Ref, [...(byRole.get(role.Ref) ?? []), ...props.PolicyDocument.Statement]);
    }
  }
  return byRole;
}

export const actionsOf = (statement: PolicyStatementJson): string[] =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

export const resourcesOf = (statement: PolicyStatementJson): unknown[] =>
  Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
