import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ERROR_CATALOG, ErrorType } from '../error-catalog';
import { APIErrorPayload, ValidationErrorItem } from './api-error-payload.dto';

/** Response descriptions of the published contract, per status. */
const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request',
  401: 'Authentication failed',
  402: 'Insufficient credits',
  403: 'Access forbidden',
  404: 'Not found',
  409: 'Already exists',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Validation error',
  426: 'Upgrade required',
  429: 'Rate limited',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

interface DeclaredResponse {
  description?: string;
  content?: Record<string, { examples?: object }>;
}

/** Where `@ApiResponse` keeps a route's responses (`DECORATORS.API_RESPONSE`, not exported by the package). */
const API_RESPONSE_METADATA = 'swagger/apiResponse';

const EXAMPLE_ERRORS: Partial<Record<ErrorType, ValidationErrorItem[]>> = {
  validation_error: [
    { loc: ['body', 'quantity'], msg: 'Input should be less than or equal to 10', type: 'less_than_equal' },
  ],
  invalid_request_error: [{ loc: ['body'], msg: 'Invalid JSON', type: 'json_invalid' }],
};

/**
 * Declares the envelope for each listed error type, grouped by status, with one example
 * per type. Routes list what they can answer; the default set covers every route.
 */
export function ApiErrorResponses(...types: ErrorType[]): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, ErrorType[]>();
  for (const type of types) {
    const status = ERROR_CATALOG[type].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), type]);
  }
  const decorators = [...byStatus.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, statusTypes]) => {
      const description = DESCRIPTIONS[status] ?? ERROR_CATALOG[statusTypes[0]].detail;
      const response = (descriptionOnce: string, earlierExamples: object | undefined) =>
        ApiResponse({
          status,
          description: descriptionOnce,
          content: {
            'application/json': {
              schema: { $ref: getSchemaPath(APIErrorPayload) },
              examples: {
                ...earlierExamples,
                ...Object.fromEntries(
                  statusTypes.map((type) => [
                    type,
                    {
                      summary: ERROR_CATALOG[type].detail,
                      value: {
                        code: status,
                        detail: ERROR_CATALOG[type].detail,
                        errors: EXAMPLE_ERRORS[type] ?? null,
                        type,
                      },
                    },
                  ]),
                ),
              },
            },
          },
        });
      // A route may be declared by several of these (its own list, its access rule's): Swagger
      // would repeat the description and replace the content, dropping the examples declared
      // first, so the description is given once and the earlier examples are kept.
      return (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
        const declared = (
          Reflect.getMetadata(API_RESPONSE_METADATA, descriptor ? (descriptor.value as object) : target) as
            Record<string, DeclaredResponse> | undefined
        )?.[status];
        const decorate = response(
          declared?.description === description ? '' : description,
          declared?.content?.['application/json']?.examples,
        ) as (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => unknown;
        decorate(target, key, descriptor);
      };
    });
  return applyDecorators(ApiExtraModels(APIErrorPayload, ValidationErrorItem), ...decorators);
}

/**
 * What any route can answer whatever it does: rate limits, old clients, bugs, and 503 when
 * the database cannot be reached or the request passes its deadline without waiting on Stripe.
 */
export const COMMON_ERROR_TYPES: ErrorType[] = [
  // Answered before routing (Node's parser, the request-target check), so any operation can meet them.
  'request_timeout_error',
  'uri_too_long_error',
  'headers_too_large_error',
  'upgrade_required_error',
  'rate_limit_error',
  'internal_error',
  'service_unavailable_error',
];
