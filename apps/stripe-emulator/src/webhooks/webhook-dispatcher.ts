import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { newId, nowSeconds } from '../stripe-api/ids';

/** `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<payload>", secret)>`, Stripe's scheme. */
export function signPayload(payload: string, secret: string, timestamp = nowSeconds()): string {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${signature}`;
}

/** Stripe's Event object, as sent to the webhook endpoint. */
export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  type: string;
  data: { object: unknown; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
}

export type DeliveryAttempt =
  | { at: string; status: number; duration_ms: number; kind: DeliveryKind }
  | { at: string; error: string; duration_ms: number; kind: DeliveryKind };

/** `automatic`: the delivery and its retries; `manual`: one attempt asked for through `/_emulator/events/deliver`. */
export type DeliveryKind = 'automatic' | 'manual';

export interface EventRecord {
  event: StripeEvent;
  /** The exact JSON sent: a snapshot taken when the event was created. */
  payload: string;
  attempts: DeliveryAttempt[];
  delivered: boolean;
  /** The automatic schedule: scheduled, retrying, done (delivered or gave up), or not scheduled. */
  state: 'pending' | 'retrying' | 'succeeded' | 'failed' | 'not_scheduled';
  next_attempt_at: string | null;
}

export interface WebhookOptions {
  url: string | undefined;
  secret: string;
  retryDelaysMs: number[];
  timeoutMs: number;
  maxEvents: number;
}

/**
 * Creates events and POSTs them, signed, to the webhook URL. Deliveries run in
 * the background; a non-2xx answer or a connection error is retried after each
 * of `retryDelaysMs`. Nothing here throws into the server: a dead target only
 * shows up in the attempts.
 */
export class WebhookDispatcher {
  private readonly records = new Map<string, EventRecord>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<http.ClientRequest>();
  private closed = false;

  constructor(private readonly options: WebhookOptions) {}

  get url(): string | undefined {
    return this.options.url;
  }

  set url(value: string | undefined) {
    this.options.url = value || undefined;
  }

  get secret(): string {
    return this.options.secret;
  }

  /** Creates an event from a snapshot of `object`; delivers it unless `deliver` is false. */
  emit(type: string, object: unknown, apiVersion: string, deliver = true): EventRecord {
    const event: StripeEvent = {
      id: newId('evt'),
      object: 'event',
      api_version: apiVersion,
      created: nowSeconds(),
      type,
      data: { object },
      livemode: false,
      pending_webhooks: this.options.url ? 1 : 0,
      request: { id: null, idempotency_key: null },
    };
    const payload = JSON.stringify(event, null, 2);
    const record: EventRecord = {
      event: JSON.parse(payload) as StripeEvent,
      payload,
      attempts: [],
      delivered: false,
      state: 'not_scheduled',
      next_attempt_at: null,
    };
    if (this.records.size >= this.options.maxEvents) {
      const oldest = this.records.keys().next();
      if (!oldest.done) this.records.delete(oldest.value);
    }
    this.records.set(event.id, record);
    if (deliver && this.options.url) {
      record.state = 'pending';
      this.schedule(record, 0, 0);
    }
    return record;
  }

  get(id: string): EventRecord | undefined {
    return this.records.get(id);
  }

  get size(): number {
    return this.records.size;
  }

  list(): EventRecord[] {
    return [...this.records.values()];
  }

  /** One extra attempt now (a manual delivery, maybe a duplicate); resolves with the attempt. */
  async deliverOnce(record: EventRecord): Promise<DeliveryAttempt> {
    return this.attempt(record, 'manual');
  }

  clear(): void {
    this.records.clear();
    this.cancelPending();
  }

  close(): void {
    this.closed = true;
    this.cancelPending();
  }

  private cancelPending(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const req of this.inflight) req.destroy();
    this.inflight.clear();
  }

  private schedule(record: EventRecord, retryIndex: number, delayMs: number): void {
    if (this.closed) return;
    record.next_attempt_at = new Date(Date.now() + delayMs).toISOString();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      record.next_attempt_at = null;
      void this.attempt(record, 'automatic').then((attempt) => {
        if ('status' in attempt && attempt.status >= 200 && attempt.status < 300) {
          record.state = 'succeeded';
          return;
        }
        const delay = this.options.retryDelaysMs[retryIndex];
        if (delay === undefined || this.closed || !this.records.has(record.event.id)) {
          record.state = 'failed';
          return;
        }
        record.state = 'retrying';
        this.schedule(record, retryIndex + 1, delay);
      });
    }, delayMs);
    timer.unref?.();
    this.timers.add(timer);
  }

  private attempt(record: EventRecord, kind: DeliveryKind): Promise<DeliveryAttempt> {
    const started = Date.now();
    const at = new Date(started).toISOString();
    const finish = (attempt: DeliveryAttempt): DeliveryAttempt => {
      record.attempts.push(attempt);
      if ('status' in attempt && attempt.status >= 200 && attempt.status < 300) record.delivered = true;
      return attempt;
    };
    const url = this.options.url;
    if (!url) {
      return Promise.resolve(finish({ at, error: 'no webhook URL configured', duration_ms: 0, kind }));
    }
    return new Promise<DeliveryAttempt>((resolve) => {
      let settled = false;
      const done = (attempt: DeliveryAttempt): void => {
        if (settled) return;
        settled = true;
        resolve(finish(attempt));
      };
      try {
        const target = new URL(url);
        const client = target.protocol === 'https:' ? https : http;
        const body = Buffer.from(record.payload, 'utf8');
        const req = client.request(
          target,
          {
            method: 'POST',
            agent: false,
            headers: {
              'content-type': 'application/json; charset=utf-8',
              'content-length': String(body.length),
              'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
              'stripe-signature': signPayload(record.payload, this.options.secret),
              'cache-control': 'no-cache',
              accept: '*/*; q=0.5, application/xml',
            },
            timeout: this.options.timeoutMs,
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              this.inflight.delete(req);
              done({ at, status: res.statusCode ?? 0, duration_ms: Date.now() - started, kind });
            });
            res.on('error', (err) => {
              this.inflight.delete(req);
              done({ at, error: err.message, duration_ms: Date.now() - started, kind });
            });
          },
        );
        this.inflight.add(req);
        req.on('timeout', () => req.destroy(new Error(`timed out after ${this.options.timeoutMs} ms`)));
        req.on('error', (err: NodeJS.ErrnoException) => {
          this.inflight.delete(req);
          done({
            at,
            error: err.code ? `${err.code}: ${err.message}` : err.message,
            duration_ms: Date.now() - started,
            kind,
          });
        });
        req.end(body);
      } catch (err) {
        done({ at, error: (err as Error).message, duration_ms: Date.now() - started, kind });
      }
    });
  }
}
