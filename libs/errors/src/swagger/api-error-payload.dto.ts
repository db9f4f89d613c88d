import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { ERROR_CATALOG, ErrorType } from '../error-catalog';

@ApiSchema({ name: 'ValidationErrorItem', description: 'One field that failed validation.' })
export class ValidationErrorItem {
  @ApiProperty({
    description: 'Where the validation error occurred',
    type: 'array',
    items: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
    example: ['body', 'quantity'],
  })
  loc!: (string | number)[];

  @ApiProperty({
    description: 'Human-readable validation message',
    example: 'Input should be less than or equal to 10',
  })
  msg!: string;

  @ApiProperty({ description: 'Machine-readable validation error type', example: 'less_than_equal' })
  type!: string;
}

/** The envelope, declared once for the OpenAPI document. */
@ApiSchema({ name: 'APIErrorPayload', description: 'Canonical API error envelope returned by the API.' })
export class APIErrorPayload {
  @ApiProperty({
    description: 'HTTP status code, equal to the status of the response',
    type: 'integer',
    minimum: 400,
    maximum: 599,
    example: 422,
  })
  code!: number;

  @ApiProperty({ description: 'Human-readable error message', example: 'Request validation failed' })
  detail!: string;

  @ApiProperty({
    description: 'Field errors, or null',
    type: [ValidationErrorItem],
    nullable: true,
  })
  errors!: ValidationErrorItem[] | null;

  // An enum, so a client can switch over the catalog; the status of each type is fixed.
  @ApiProperty({
    description: 'Stable machine-readable error type',
    enum: Object.keys(ERROR_CATALOG),
    enumName: 'APIErrorType',
    example: 'validation_error',
  })
  type!: ErrorType;
}
