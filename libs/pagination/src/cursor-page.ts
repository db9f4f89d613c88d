import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { ConvertedBy, ValidationError } from '@credits/errors';

/** Query strings are text: digits become a number, anything else stays text and fails as int_type. */
export const toInteger = (value: unknown) =>
  typeof value === 'string' && /^-?\d{1,15}$/.test(value) ? Number(value) : value;

/** The page size every cursor-paginated listing takes; each listing adds its own `cursor`. */
export class PageSizeQuery {
  @ApiPropertyOptional({ description: 'Page size', type: 'integer', minimum: 1, maximum: 100, default: 50 })
  @ConvertedBy(toInteger)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 50;
}

export interface CursorPage<I> {
  data: I[];
  has_more: boolean;
  next_cursor: string | null;
}

/**
 * A listing's cursor: the position after which its next page starts, opaque to callers
 * (base64url JSON) so the order behind it can change without breaking them. A cursor that
 * does not decode to a valid position is 422 at `["query","cursor"]`.
 */
export class CursorCodec<P> {
  constructor(
    private readonly field: string,
    private readonly isPosition: (value: unknown) => value is P,
  ) {}

  encode(position: P): string {
    return Buffer.from(JSON.stringify({ [this.field]: position })).toString('base64url');
  }

  decode(cursor: string): P {
    let position: unknown;
    try {
      position = (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>)[this.field];
    } catch {
      position = undefined;
    }
    if (this.isPosition(position)) return position;
    throw new ValidationError([{ loc: ['query', 'cursor'], msg: 'Invalid cursor', type: 'value_error' }]);
  }

  /**
   * The page of `rows`, read with one row more than `limit` (that extra row tells whether
   * another page follows), each turned into its answer by `item`.
   */
  page<R, I>(rows: R[], limit: number, item: (row: R) => I, position: (row: R) => P): CursorPage<I> {
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return {
      data: page.map(item),
      has_more: hasMore,
      next_cursor: hasMore ? this.encode(position(page[page.length - 1])) : null,
    };
  }
}

/** Where a listing ordered by creation time resumes: after the row created at `micros` (µs since the epoch) with this id. */
export interface CreatedPosition {
  micros: string;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor of a listing newest first by creation time, the id breaking ties (holds, grants). */
export function createdCursor(field: string): CursorCodec<CreatedPosition> {
  return new CursorCodec<CreatedPosition>(
    field,
    (value): value is CreatedPosition =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as CreatedPosition).micros === 'string' &&
      /^\d{1,18}$/.test((value as CreatedPosition).micros) &&
      typeof (value as CreatedPosition).id === 'string' &&
      UUID.test((value as CreatedPosition).id),
  );
}
