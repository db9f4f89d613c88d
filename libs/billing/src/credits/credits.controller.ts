import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, OrgContext, OrgRole } from '@credits/auth';
import { ApiErrorResponses, COMMON_ERROR_TYPES } from '@credits/errors';
import { CreditBalanceResponse, CreditTransactionPage, ListTransactionsQuery } from './credits.dto';
import { CreditsService } from './credits.service';

@ApiTags('credits')
@Controller('api/v1/org/:org/credits')
export class CreditsController {
  constructor(private readonly credits: CreditsService) {}

  @Get()
  @OrgRole('member', 'credits:read')
  @ApiOperation({
    summary: 'Get credit balance',
    description: "The organization's credit balance and whether it is low.",
  })
  @ApiOkResponse({ description: 'Successful Response', type: CreditBalanceResponse })
  @ApiErrorResponses(...COMMON_ERROR_TYPES)
  getCreditBalance(@CurrentOrg() org: OrgContext): Promise<CreditBalanceResponse> {
    return this.credits.balance(org.id);
  }

  @Get('transactions')
  @OrgRole('member', 'credits:read')
  @ApiOperation({
    summary: 'List credit transactions',
    description: "The organization's credit ledger, newest first, cursor-paginated.",
  })
  @ApiOkResponse({ description: 'Successful Response', type: CreditTransactionPage })
  @ApiErrorResponses('validation_error', ...COMMON_ERROR_TYPES)
  listCreditTransactions(
    @CurrentOrg() org: OrgContext,
    @Query() query: ListTransactionsQuery,
  ): Promise<CreditTransactionPage> {
    return this.credits.transactions(org.id, query);
  }
}
