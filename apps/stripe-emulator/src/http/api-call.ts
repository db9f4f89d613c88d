import type { FormObject } from '../stripe-api/form-encoding';
import type { Exchange } from './exchange';

/** A `/v1` request once authenticated: its caller, its parameters, and the headers every answer to it carries. */
export interface ApiCall {
  exchange: Exchange;
  apiKey: string;
  params: FormObject;
  headers: Record<string, string>;
}
