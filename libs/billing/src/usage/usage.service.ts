import { Injectable } from '@nestjs/common';
import { ConflictError, InsufficientCreditsError, ServiceUnavailableError } from '@credits/errors';
import { requestHash, type IdempotentResult } from '../idempotency/idempotency.service';
import { type DebitOutcome, DebitGroupCommit, type DebitRequest } from './debit-group-commit';
import type {
  RecordUsageBatchRequest,
  RecordUsageBatchResponse,
  RecordUsageRequest,
  RecordUsageResponse,
  UsageBatchItem,
  UsageBatchResult,
} from './usage.dto';

/**
 * A debit as the key's first use recorded it. A batch item hashes as a single debit without
 * `allow_partial`, so the same usage sent either way is the same request.
 */
function debitOf(key: string, fields: UsageBatchItem | RecordUsageRequest, allowPartial: boolean): DebitRequest {
  const { amount, description, metadata } = fields;
  return {
    key,
    requestHash: requestHash({
      amount,
      description: description ?? null,
      metadata: metadata ?? null,
      allow_partial: allowPartial,
    }),
    amount,
    description,
    metadata,
    allowPartial,
  };
}

const CONFLICT_DETAIL = 'This idempotency key was already used with a different request body';
const insufficientDetail = (available: number, amount: number) =>
  `Available balance ${available} cannot cover ${amount} credits`;

/** Usage debits (§1.1): exactly once per org and key for 30 days, never below the available balance. */
@Injectable()
export class UsageService {
  constructor(private readonly debits: DebitGroupCommit) {}

  async record(
    orgId: string,
    request: RecordUsageRequest,
    idempotencyKey: string,
  ): Promise<IdempotentResult<RecordUsageResponse>> {
    const [outcome] = await this.debits.submit(orgId, [
      debitOf(idempotencyKey, request, request.allow_partial ?? false),
    ]);
    switch (outcome.kind) {
      case 'applied':
        return { body: outcome.response, replayed: false };
      case 'duplicate':
        return { body: outcome.response as RecordUsageResponse, replayed: true };
      case 'conflict':
        throw new ConflictError(CONFLICT_DETAIL);
      case 'insufficient':
        throw new InsufficientCreditsError(insufficientDetail(outcome.available, request.amount));
      case 'expired':
        throw deadlinePassed();
      case 'failed':
        throw outcome.error;
    }
  }

  /**
   * One result per item. The batch fails as a whole only when nothing in it was decided (its
   * deadline passed, or every item failed, say with the database down): then its error is the
   * answer, and nothing was written.
   */
  async recordBatch(orgId: string, request: RecordUsageBatchRequest): Promise<RecordUsageBatchResponse> {
    const outcomes = await this.debits.submit(
      orgId,
      request.items.map((item) => debitOf(item.idempotency_key, item, false)),
    );
    // A batch split over two groups may see its deadline pass between them: the items decided
    // before it stand, and those after are answered `failed` like any other undecided item.
    if (outcomes.every((outcome) => outcome.kind === 'expired' || outcome.kind === 'failed')) {
      const failed = outcomes.find((outcome) => outcome.kind === 'failed');
      throw failed ? failed.error : deadlinePassed();
    }
    return { results: outcomes.map((outcome, i) => resultOf(request.items[i], outcome)) };
  }
}

/** What the caller was already told by the HTTP layer's deadline; never seen by it. */
const deadlinePassed = () => new ServiceUnavailableError('The request did not complete within its deadline');

const FAILED_DETAIL = 'This item could not be recorded; nothing was debited for it. Send it again with the same key';

function resultOf(item: UsageBatchItem, outcome: DebitOutcome): UsageBatchResult {
  const key = item.idempotency_key;
  switch (outcome.kind) {
    case 'applied':
    case 'duplicate':
      return {
        idempotency_key: key,
        status: outcome.kind,
        transaction_id: outcome.ledgerEntryId,
        balance_after: outcome.balanceAfter,
        error: null,
      };
    case 'conflict':
      return {
        idempotency_key: key,
        status: 'conflict',
        transaction_id: null,
        balance_after: null,
        error: { type: 'conflict_error', detail: CONFLICT_DETAIL },
      };
    case 'insufficient':
      return {
        idempotency_key: key,
        status: 'insufficient_credits',
        transaction_id: null,
        balance_after: null,
        error: { type: 'insufficient_credits_error', detail: insufficientDetail(outcome.available, item.amount) },
      };
    case 'failed':
    case 'expired':
      return {
        idempotency_key: key,
        status: 'failed',
        transaction_id: null,
        balance_after: null,
        error: { type: 'api_error', detail: FAILED_DETAIL },
      };
  }
}
