import { ArgumentMetadata, Inject, Injectable, Optional, PipeTransform } from '@nestjs/common';
import { validateSync, ValidatorOptions } from 'class-validator';
import { ValidationError } from '../api-exception';
import { toFieldErrors } from './field-error-rules';
import { toInstance } from './input-conversion';
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

  /**
   * Synchronous, so that Nest waits on no promise of ours for it: every constraint here is
   * (`validateSync` would pass over one that had to wait; `test/unit/validation.spec.ts` fails
   * if one is ever registered).
   */
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const { metatype, type } = metadata;
    if (type === 'custom' || !metatype || PRIMITIVES.has(metatype)) return value;
    const where = LOCATION[type];

    if (value === undefined || value === null) {
      if (type === 'body') throw new ValidationError([{ loc: [where], msg: 'Field required', type: 'missing' }]);
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

    const instance = toInstance(metatype as new () => object, value as object);
    attachValidationContext(instance, this.context);
    const errors = validateSync(instance, VALIDATOR_OPTIONS);
    if (errors.length > 0) throw new ValidationError(toFieldErrors(errors, [where]));
    return instance;
  }
}
