/**
 * The OpenAPI 3.1 document, generated from the route table and its zod schemas:
 * every status an operation can answer (routes.ts answerableErrors) and every field
 * of its responses (the response schemas are strict: nothing undocumented is sent).
 */
import { z } from 'zod';
import { STATUS_BY_CODE } from './errors.js';
import { parameterNames } from './path.js';
import { answerableErrors, ROUTES } from './routes.js';
import { errorResponse } from './schemas.js';
import type { Route } from './types.js';

type JsonObject = Record<string, unknown>;

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonObject => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
  }) as JsonObject;
  return rest;
};

function parameters(route: Route): JsonObject[] {
  const path = parameterNames(route.path).map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description:
      name === 'ip'
        ? `${route.path.startsWith('/addresses/') ? 'The address to look up' : 'An address of the subnet'}; may be URL-encoded (2001%3Adb8%3A%3A5)`
        : undefined,
  }));
  const query = jsonSchema(route.query, 'input') as {
    properties?: Record<string, JsonObject>;
    required?: string[];
  };
  const queryParameters = Object.entries(query.properties ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: query.required?.includes(name) ?? false,
    schema,
  }));
  const headers = route.idempotent
    ? [
        {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          schema: { type: 'string', maxLength: 255 },
          description:
            'Same key and body within 24 h replays the first response; scoped to method and path',
        },
      ]
    : [];
  return [...path, ...queryParameters, ...headers];
}

function responses(route: Route): JsonObject {
  const result: JsonObject = {
    [route.status]: {
      description: route.status === 204 ? 'Done, no content' : 'Success',
      ...(route.response === undefined
        ? route.status === 204
          ? {}
          : { content: { 'application/json': { schema: { type: 'object' } } } }
        : { content: { 'application/json': { schema: jsonSchema(route.response, 'output') } } }),
    },
  };
  for (const other of route.alsoAnswers ?? []) {
    result[other.status] = {
      description: other.description,
      ...(route.response === undefined
        ? {}
        : { content: { 'application/json': { schema: jsonSchema(route.response, 'output') } } }),
    };
  }
  const byStatus = new Map<number, string[]>();
  for (const code of answerableErrors(route)) {
    const status = STATUS_BY_CODE[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of byStatus) {
    result[status] = {
      description: `Error: ${codes.join(', ')}`,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      'x-error-codes': codes,
    };
  }
  return result;
}

export function openApiDocument(): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of ROUTES) {
    const operation: JsonObject = {
      operationId: route.id,
      summary: route.summary,
      tags: [route.group],
      parameters: parameters(route),
      responses: responses(route),
      ...(route.public ? { security: [] } : {}),
    };
    if (route.body !== undefined) {
      operation.requestBody = {
        required: false,
        content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
      };
    }
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ipam',
      version: '0.1.0',
      description:
        'IP address management: subnets, allocations, subnet pools and audits. Every error is ' +
        '{"error": {"code", "message", "details"}}; every response carries X-Request-Id. ' +
        'Unknown routes answer 404 ROUTE_NOT_FOUND, other methods 405 METHOD_NOT_ALLOWED.',
    },
    paths,
    components: {
      schemas: { Error: jsonSchema(errorResponse, 'output') },
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
    },
    security: [{ sigv4: [] }],
    'x-error-codes': STATUS_BY_CODE,
  };
}
