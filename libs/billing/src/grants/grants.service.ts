import { Injectable } from '@nestjs/common';
import { createdCursor } from '@credits/pagination';
import { CreditGrant, CreditGrantPage, ListGrantsQuery } from './grants.dto';
import { GrantRow, GrantsRepository, GrantStatus } from './grants.repository';

/** The listing resumes after this grant (its creation time in µs, and its id for ties). */
const grantCursor = createdCursor('g');

export function toCreditGrant(row: GrantRow & { status: GrantStatus }): CreditGrant {
  return {
    id: row.id,
    amount: row.amount,
    remaining: row.remaining,
    category: row.category,
    source: row.source,
    priority: row.priority,
    status: row.status,
    effective_at: row.effectiveAt.toISOString(),
    expires_at: row.expiresAt?.toISOString() ?? null,
    voided_at: row.voidedAt?.toISOString() ?? null,
    description: row.description,
    metadata: row.metadata,
    transaction_id: row.ledgerEntryId,
    created_at: row.createdAt.toISOString(),
  };
}

/** An org's grants as its members read them. */
@Injectable()
export class GrantsService {
  constructor(private readonly grants: GrantsRepository) {}

  async list(orgId: string, query: ListGrantsQuery): Promise<CreditGrantPage> {
    const after = query.cursor === undefined ? undefined : grantCursor.decode(query.cursor);
    const found = await this.grants.list(orgId, { limit: query.limit + 1, after, statuses: query.status });
    return grantCursor.page(found, query.limit, toCreditGrant, (row) => row.position);
  }
}
