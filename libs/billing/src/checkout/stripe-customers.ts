import { Injectable } from '@nestjs/common';
import type { OrgContext } from '@credits/auth';
import { StripeGateway } from '@credits/stripe';
import { OrganizationsRepository } from '@credits/auth/directory/organizations.repository';

/**
 * One Stripe customer per org, created on its first checkout and stored on the org.
 * Concurrent first purchases share one creation: in this process through one pending
 * promise per org, across instances through a Stripe idempotency key derived from the
 * org id (Stripe answers every identical request with the same customer), and the
 * stored id is written only where none is stored yet.
 */
@Injectable()
export class StripeCustomers {
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly organizations: OrganizationsRepository,
    private readonly stripe: StripeGateway,
  ) {}

  async customerFor(org: OrgContext): Promise<string> {
    if (org.stripeCustomerId) return org.stripeCustomerId;
    const shared = this.pending.get(org.id);
    if (shared) {
      // Another request's creation runs under that request's deadline: when it fails (for
      // its own lack of time, say), this request tries with its own. The idempotency key
      // keeps it to one customer at Stripe.
      return this.stripe.join(shared).catch(() => this.create(org));
    }
    const own = this.create(org).finally(() => this.pending.delete(org.id));
    this.pending.set(org.id, own);
    return own;
  }

  private async create(org: OrgContext): Promise<string> {
    const stored = await this.organizations.stripeCustomerId(org.id);
    if (stored) return stored;

    const customer = await this.stripe.createCustomer(
      { name: org.name, metadata: { org_id: org.id, org_slug: org.slug } },
      `credits-api:customer:${org.id}`,
    );
    if (await this.organizations.storeStripeCustomerId(org.id, customer.id)) return customer.id;
    // Another instance stored one first; theirs wins.
    return (await this.organizations.stripeCustomerId(org.id))!;
  }
}
