/** Where a field error occurred: the request part, then the path inside it. */
export type ErrorLocation = ['body' | 'query' | 'path' | 'header', ...(string | number)[]];

/** One field error, pydantic-style, as rendered in the envelope's `errors`. */
export interface FieldError {
  loc: (string | number)[];
  msg: string;
  type: string;
}
