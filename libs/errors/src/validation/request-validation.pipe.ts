import { ArgumentMetadata, Inject, Injectable, Optional, PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate, ValidatorOptions } from 'class-validator';
import { ValidationError } from '../api-exception';
import { toFieldErrors } from './field-error-rules';
import { attachValidationContext, ValidationContext, VALIDATION_CONTEXT } from './validation-context';

const PRIMITIVES = new Set<unknown>([String, Boolean, Number, Array, Object]);

const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: true, value: false },
};

const LOCATION = { body: 'body', query: 'query', param: 'path' } as const;

/**
 * Validates DTO-typed handler arguments and answers 422 listing every failing field.
 * Unlike Nest's ValidationPipe it knows where the value came from (`loc`), never coerces
 * a JSON string into a number, and rejects unknown fields as `extra_forbidden`.
 */
@Injectable()
export class RequestValidationPipe implements PipeTransform {
  constructor(@Optional() @Inject(VALIDATION_CONTEXT) private readonly context: ValidationContext = {}) {}

  /** What is not a DTO (the org a guard resolved, a path string) passes at once, with no promise. */
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const { metatype, type } = metadata;
    if (type === 'custom' || !metatype || PRIMITIVES.has(metatype)) return value;
    return this.validated(value, metatype, LOCATION[type], type === 'body');
  }

  private async validated(
    value: unknown,
    metatype: NonNullable<ArgumentMetadata['metatype']>,
    where: string,
    body: boolean,
  ): Promise<object> {
    if (value === undefined || value === null) {
      if (body) throw new ValidationError([{ loc: [where], msg: 'Field required', type: 'missing' }]);
      value = {};
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ValidationError([
        {
          loc: [where],
          msg: 'Input should be a valid dictionary or object to extract fields from',
          type: 'model_attributes_type',
        },
      ]);
    }

    const instance = plainToInstance<object, unknown>(metatype as new () => object, value);
    attachValidationContext(instance, this.context);
    const errors = await validate(instance, VALIDATOR_OPTIONS);
    if (errors.length > 0) throw new ValidationError(toFieldErrors(errors, [where]));
    return instance;
  }
}
