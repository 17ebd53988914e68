/**
 * The REST API, generated from ROUTES (functions/http/routes.ts): one resource per
 * path, one method per route, each a Lambda proxy to its group's function, with
 * AWS_IAM authorization except on routes marked `public`. Every resource also gets
 * an `ANY` method and (unless it has a variable child) a `{proxy+}` child that
 * reach the meta function, so an unknown path or a wrong method is answered with
 * the API's own 404/405 JSON instead of API Gateway's 403 "Missing Authentication
 * Token".
 *
 * Request bodies are validated by the handlers (the zod schemas of ROUTES), not by
 * API Gateway models: one source of truth, and errors in the API's own shape.
 * API Gateway caps a payload at 10 MB; the handlers answer 413 above 64 KiB.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  type IResource,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { InterfaceVpcEndpoint } from 'aws-cdk-lib/aws-ec2';
import {
  AccountRootPrincipal,
  AnyPrincipal,
  Effect,
  PolicyDocument,
  PolicyStatement,
} from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { Route } from '../../functions/http/routes.js';

export interface IpamApiProps {
  readonly routes: readonly Route[];
  /** The function of each route group. */
  readonly functions: ReadonlyMap<string, IFunction>;
  /** Answers the catch-all `ANY` methods (404 / 405). */
  readonly fallback: IFunction;
  readonly stageName: string;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  /** Deploy as a PRIVATE API reachable only through this execute-api VPC endpoint. */
  readonly vpcEndpointId?: string;
  /** A regional WAFv2 web ACL to associate with the stage. */
  readonly webAclArn?: string;
  /** Create (and retain) the account-wide role API Gateway writes execution logs with. */
  readonly cloudWatchRole: boolean;
  readonly logRetention: RetentionDays;
  readonly ephemeral: boolean;
}

/** The API's error shape (API.md) for responses API Gateway makes itself (auth, throttling…). */
const GATEWAY_ERROR_TEMPLATE =
  '{"error":{"code":"$context.error.responseType","message":$context.error.messageString,"details":{"requestId":"$context.requestId"}}}';

export class IpamApi extends Construct {
  readonly api: RestApi;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: IpamApiProps) {
    super(scope, id);
    assertRoutable(props.routes);
    const isPrivate = props.vpcEndpointId !== undefined;

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    this.api = new RestApi(this, 'Api', {
      restApiName: `${scope.node.id}-api`,
      description: 'IPAM: subnets, allocations and audits (AWS_IAM authorized)',
      endpointConfiguration:
        props.vpcEndpointId === undefined
          ? { types: [EndpointType.REGIONAL] }
          : {
              types: [EndpointType.PRIVATE],
              vpcEndpoints: [
                InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(this, 'VpcEndpoint', {
                  vpcEndpointId: props.vpcEndpointId,
                  port: 443,
                }),
              ],
            },
      ...(props.vpcEndpointId === undefined
        ? {}
        : { policy: privateApiPolicy(props.vpcEndpointId, props.routes) }),
      cloudWatchRole: props.cloudWatchRole,
      // The role is account-wide (AWS::ApiGateway::Account): keep it for the account's other APIs.
      ...(props.cloudWatchRole ? { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : {}),
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: ACCESS_LOG_FORMAT,
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: false,
      },
    });

    // One integration (and one invoke permission, scoped to this API) per function:
    // per-method permissions would outgrow the meta function's 20 KB resource policy.
    const integrations = new Map<IFunction, LambdaIntegration>();
    const integrationOf = (fn: IFunction) => {
      let integration = integrations.get(fn);
      if (integration === undefined) {
        integration = new LambdaIntegration(fn, { proxy: true, scopePermissionToMethod: false });
        integrations.set(fn, integration);
      }
      return integration;
    };

    const resources = new Map<string, IResource>([['/', this.api.root]]);
    for (const route of props.routes) {
      const fn = props.functions.get(route.group);
      if (fn === undefined) throw new Error(`No function for route group '${route.group}'.`);
      const resource = this.api.root.resourceForPath(route.path);
      for (const prefix of pathPrefixes(route.path)) {
        resources.set(prefix, this.api.root.resourceForPath(prefix));
      }
      const method = resource.addMethod(route.method, integrationOf(fn), {
        authorizationType: route.public === true ? AuthorizationType.NONE : AuthorizationType.IAM,
      });
      // Only the reviewed liveness route is suppressed: another public route fails
      // cdk-nag until someone decides, with a reason, that it may be public.
      if (route.public === true && route.id === 'health') {
        NagSuppressions.addResourceSuppressions(method, [
          {
            id: 'AwsSolutions-APIG4',
            reason: `${route.method} ${route.path} is the liveness check (public in ROUTES): it reads no items (one DescribeTable) and returns only {"status":"ok"} or 503.`,
          },
        ]);
      }
    }

    // The catch-all: ANY on every resource (a known path with another method → 405),
    // and a greedy {proxy+} under every resource that has no variable child (an
    // unknown deeper path → 404). Where a variable child exists it matches the next
    // segment and its own {proxy+} takes over, so every path reaches a method
    // without relying on API Gateway falling back to the root's {proxy+}.
    const fallback = integrationOf(props.fallback);
    const iam = { authorizationType: AuthorizationType.IAM };
    const paths = [...resources.keys()];
    for (const [path, resource] of resources) {
      resource.addMethod('ANY', fallback, iam);
      const prefix = path === '/' ? '/' : `${path}/`;
      const hasVariableChild = paths.some(
        (other) => other.startsWith(`${prefix}{`) && !other.slice(prefix.length).includes('/'),
      );
      if (!hasVariableChild) {
        resource.addResource('{proxy+}').addMethod('ANY', fallback, iam);
      }
    }

    for (const [name, type] of [
      ['Default4xx', ResponseType.DEFAULT_4XX],
      ['Default5xx', ResponseType.DEFAULT_5XX],
    ] as const) {
      this.api.addGatewayResponse(name, {
        type,
        templates: { 'application/json': GATEWAY_ERROR_TEMPLATE },
      });
    }

    if (props.webAclArn !== undefined) {
      new CfnWebACLAssociation(this, 'WebAcl', {
        resourceArn: this.api.deploymentStage.stageArn,
        webAclArn: props.webAclArn,
      });
    } else {
      NagSuppressions.addResourceSuppressions(this.api.deploymentStage, [
        {
          id: 'AwsSolutions-APIG3',
          reason: isPrivate
            ? 'Private API: reachable only through one VPC endpoint, every data route needs a SigV4 signature, and the stage is throttled. A web ACL can be attached with -c webAclArn=….'
            : 'Every data route needs a SigV4 signature (AWS_IAM) and the stage is throttled; a WAF web ACL is a per-deployment choice with its own cost and is attached with -c webAclArn=….',
        },
      ]);
    }

    NagSuppressions.addResourceSuppressions(
      this.api,
      [
        {
          id: 'AwsSolutions-APIG2',
          reason:
            'Requests are validated by the Lambda handlers with the zod schemas of functions/http/routes.ts (the one source of truth, also of the OpenAPI document), so errors keep the API error shape; API Gateway caps payloads at 10 MB and the handlers answer 413 above 64 KiB.',
        },
        {
          id: 'AwsSolutions-COG4',
          reason:
            'Callers are AWS principals (pipelines, controllers, operators) authorised with AWS_IAM (SigV4), not users of a Cognito user pool; the one unauthenticated method is the liveness check (see APIG4).',
        },
      ],
      true,
    );
    if (props.cloudWatchRole) {
      NagSuppressions.addResourceSuppressions(
        this.api,
        [
          {
            id: 'AwsSolutions-IAM4',
            reason:
              "The account-wide role API Gateway writes execution logs with uses AWS's own AmazonAPIGatewayPushToCloudWatchLogs policy, the documented policy for exactly this role.",
            appliesTo: [
              'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs',
            ],
          },
        ],
        true,
      );
    }
  }

  get url(): string {
    return this.api.url;
  }
}

const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: AccessLogField.contextRequestId(),
    extendedRequestId: AccessLogField.contextExtendedRequestId(),
    requestTime: AccessLogField.contextRequestTimeEpoch(),
    sourceIp: AccessLogField.contextIdentitySourceIp(),
    userArn: AccessLogField.contextIdentityUserArn(),
    callerAccountId: AccessLogField.contextIdentityAccountId(),
    userAgent: AccessLogField.contextIdentityUserAgent(),
    httpMethod: AccessLogField.contextHttpMethod(),
    resourcePath: AccessLogField.contextResourcePath(),
    path: AccessLogField.contextPath(),
    protocol: AccessLogField.contextProtocol(),
    status: AccessLogField.contextStatus(),
    responseLength: AccessLogField.contextResponseLength(),
    responseLatency: AccessLogField.contextResponseLatency(),
    integrationStatus: AccessLogField.contextIntegrationStatus(),
    integrationLatency: AccessLogField.contextIntegrationLatency(),
    errorType: AccessLogField.contextErrorResponseType(),
    errorMessage: AccessLogField.contextErrorMessage(),
    integrationError: AccessLogField.contextIntegrationErrorMessage(),
    xrayTraceId: AccessLogField.contextXrayTraceId(),
  }),
);

/**
 * Only requests through the VPC endpoint, and then only principals of this
 * account whose own IAM policies allow execute-api:Invoke; the public routes
 * (GET /health) also anonymously, still only through the endpoint.
 */
function privateApiPolicy(vpcEndpointId: string, routes: readonly Route[]): PolicyDocument {
  const invoke = ['execute-api:Invoke'];
  const statements = [
    new PolicyStatement({
      sid: 'DenyOutsideVpcEndpoint',
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: invoke,
      resources: ['execute-api:/*'],
      conditions: { StringNotEquals: { 'aws:SourceVpce': vpcEndpointId } },
    }),
    new PolicyStatement({
      sid: 'AllowAccountPrincipals',
      effect: Effect.ALLOW,
      principals: [new AccountRootPrincipal()],
      actions: invoke,
      resources: ['execute-api:/*'],
      conditions: { StringEquals: { 'aws:SourceVpce': vpcEndpointId } },
    }),
  ];
  const publicRoutes = routes.filter((route) => route.public === true);
  if (publicRoutes.length > 0) {
    statements.push(
      new PolicyStatement({
        sid: 'AllowPublicRoutes',
        effect: Effect.ALLOW,
        principals: [new AnyPrincipal()],
        actions: invoke,
        resources: publicRoutes.map((route) => `execute-api:/*/${route.method}${route.path}`),
        conditions: { StringEquals: { 'aws:SourceVpce': vpcEndpointId } },
      }),
    );
  }
  return new PolicyDocument({ statements });
}

/** '/a/{b}/c' → ['/a', '/a/{b}', '/a/{b}/c']. */
function pathPrefixes(path: string): string[] {
  const parts = path.split('/').slice(1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

/**
 * API Gateway allows one variable child per resource, and the root's variable
 * child is the catch-all `{proxy+}`: fail the synth, not the deploy.
 */
function assertRoutable(routes: readonly Route[]): void {
  const variableChild = new Map<string, string>();
  for (const route of routes) {
    const parts = route.path.split('/').slice(1);
    parts.forEach((part, i) => {
      if (!part.startsWith('{')) return;
      const parent = `/${parts.slice(0, i).join('/')}`;
      if (parent === '/') {
        throw new Error(`${route.path}: a path may not start with a variable; {proxy+} is there.`);
      }
      const existing = variableChild.get(parent);
      if (existing !== undefined && existing !== part) {
        throw new Error(`${parent} has two variable children, ${existing} and ${part}.`);
      }
      variableChild.set(parent, part);
    });
  }
}
