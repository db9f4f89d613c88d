import { Injectable } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '@credits/config';
import { NOTIFICATION_EVENT_TYPES, NotificationEventType } from '@credits/database';
import { InvalidRequestError, NotFoundError, ServiceUnavailableError } from '@credits/errors';
import { NotificationDelivery } from './notification-delivery.service';
import {
  NotificationDeliveryRow,
  NotificationEndpointRow,
  NotificationRepository,
  REGISTRATION_WAIT_SECONDS,
} from './notification.repository';
import { SecretBox } from './secret-box';
import { newSigningSecret } from './signature';
import { TargetPolicy, TargetRefused } from './target-url';

/** The operator's side of notifications (the admin CLI's `notify` commands). */
@Injectable()
export class NotificationEndpoints {
  private readonly policy: TargetPolicy;
  private readonly secrets: SecretBox;

  constructor(
    private readonly notifications: NotificationRepository,
    private readonly delivery: NotificationDelivery,
    @InjectConfig() config: AppConfig,
  ) {
    this.policy = new TargetPolicy(config.notifications.publicTargetsOnly);
    this.secrets = new SecretBox(config.notifications.encryptionKey);
  }

  /** Registers an endpoint; its signing secret is answered here, once, and never shown again. */
  async add(url: string, events?: string[]): Promise<{ endpoint: NotificationEndpointRow; secret: string }> {
    try {
      this.policy.check(url);
    } catch (error) {
      if (!(error instanceof TargetRefused)) throw error;
      throw new InvalidRequestError(`notification URL refused: ${error.message}`);
    }
    const unknown = events?.filter((type) => !(NOTIFICATION_EVENT_TYPES as readonly string[]).includes(type)) ?? [];
    if (unknown.length > 0 || events?.length === 0) {
      throw new InvalidRequestError(
        `unknown event type(s) ${unknown.join(', ')}; known: ${NOTIFICATION_EVENT_TYPES.join(', ')}`,
      );
    }
    const secret = newSigningSecret();
    const endpoint = await this.notifications.addEndpoint(
      url,
      (events as NotificationEventType[] | undefined) ?? null,
      this.secrets.seal(secret),
    );
    if (!endpoint) {
      throw new ServiceUnavailableError(
        `the endpoint was not added: a transaction writing Stripe events stayed open for more than ${REGISTRATION_WAIT_SECONDS} s; try again`,
      );
    }
    return { endpoint, secret };
  }

  list(): Promise<NotificationEndpointRow[]> {
    return this.notifications.endpoints();
  }

  async remove(id: string): Promise<void> {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
    if (!uuid || !(await this.notifications.removeEndpoint(id))) throw new NotFoundError(`no endpoint ${id}`);
  }

  deliveries(options: { failedOnly: boolean; limit?: number }): Promise<NotificationDeliveryRow[]> {
    return this.notifications.deliveries({ failedOnly: options.failedOnly, limit: options.limit ?? 50 });
  }

  /** Sends an event again to every endpoint that takes it: a new attempt each. */
  async resend(eventId: string): Promise<number> {
    const scheduled = await this.delivery.resend(eventId);
    if (scheduled === undefined) throw new NotFoundError(`no event ${eventId}`);
    return scheduled;
  }
}
