import type { Context } from './context';
import { Faults } from './controls/fault-rules';
import { IdempotencyStore } from './http/idempotency-keys';
import { RequestLog } from './http/request-log';
import { Store } from './store';
import { WebhookDispatcher } from './webhooks/webhook-dispatcher';

export interface StateOptions {
  webhookUrl: string | undefined;
  webhookSecret: string;
  webhookRetryDelaysMs: number[];
  webhookTimeoutMs: number;
  maxObjects: number;
  maxIdempotencyKeys: number;
  maxRequests: number;
  maxEvents: number;
}

/** Everything one emulator keeps between requests; nothing is process-global. */
export class EmulatorState {
  readonly store: Store;
  readonly idempotency: IdempotencyStore;
  readonly faults = new Faults();
  readonly requests: RequestLog;
  readonly webhooks: WebhookDispatcher;
  /** What handlers, pages and controls see; `publicUrl` is set once the server listens. */
  readonly ctx: Context;
  /** Fault delays under way, woken early by `close`. */
  private readonly sleeping = new Map<NodeJS.Timeout, () => void>();
  private closedFlag = false;

  constructor(options: StateOptions) {
    this.store = new Store(options.maxObjects);
    this.idempotency = new IdempotencyStore(options.maxIdempotencyKeys);
    this.requests = new RequestLog(options.maxRequests);
    this.webhooks = new WebhookDispatcher({
      url: options.webhookUrl,
      secret: options.webhookSecret,
      retryDelaysMs: options.webhookRetryDelaysMs,
      timeoutMs: options.webhookTimeoutMs,
      maxEvents: options.maxEvents,
    });
    this.ctx = { store: this.store, webhooks: this.webhooks, publicUrl: '' };
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Clears objects, idempotency keys, faults, the request log and events. */
  reset(): void {
    for (const part of [this.store, this.idempotency, this.faults, this.requests, this.webhooks]) part.clear();
  }

  /** Resolves false when the emulator closed meanwhile. */
  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeping.delete(timer);
        resolve(!this.closedFlag);
      }, ms);
      this.sleeping.set(timer, () => resolve(false));
    });
  }

  /** Stops webhook deliveries and wakes every delayed request, which then answers nothing. */
  close(): void {
    this.closedFlag = true;
    this.webhooks.close();
    for (const [timer, wake] of this.sleeping) {
      clearTimeout(timer);
      wake();
    }
    this.sleeping.clear();
  }
}
