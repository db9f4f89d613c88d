import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, OrgContext, OrgRole } from '@credits/auth';
import { ApiErrorResponses, COMMON_ERROR_TYPES } from '@credits/errors';
import { AutoRefillSettingsRequest, AutoRefillSettingsResponse } from './auto-refill.dto';
import { AutoRefillSettingsService } from './auto-refill-settings.service';

@ApiTags('credits')
@Controller('api/v1/org/:org/credits/auto-refill')
export class AutoRefillController {
  constructor(private readonly settings: AutoRefillSettingsService) {}

  @Get()
  @OrgRole('member', 'credits:read')
  @ApiOperation({
    summary: 'Get auto-refill settings',
    description: "The organization's auto-refill settings, its saved card, this month's refills and the last failure.",
  })
  @ApiOkResponse({ description: 'Successful Response', type: AutoRefillSettingsResponse })
  @ApiErrorResponses(...COMMON_ERROR_TYPES)
  getAutoRefill(@CurrentOrg() org: OrgContext): Promise<AutoRefillSettingsResponse> {
    return this.settings.get(org.id);
  }

  @Put()
  // Counted with purchases: enabling it can start a charge.
  @OrgRole('admin', 'credits:purchase', { budget: 'checkout' })
  @ApiOperation({
    summary: 'Update auto-refill settings',
    description:
      'Charge the saved card for `quantity` bundles whenever the available balance falls below `threshold`, at most `monthly_limit` times per calendar month (UTC). A declined card turns auto-refill off and records `last_failure`; enabling it again clears that.',
  })
  @ApiBody({ type: AutoRefillSettingsRequest, required: true })
  @ApiOkResponse({ description: 'Successful Response', type: AutoRefillSettingsResponse })
  @ApiErrorResponses(
    'validation_error',
    'payload_too_large_error',
    'unsupported_media_type_error',
    ...COMMON_ERROR_TYPES,
  )
  updateAutoRefill(
    @CurrentOrg() org: OrgContext,
    @Body() request: AutoRefillSettingsRequest,
  ): Promise<AutoRefillSettingsResponse> {
    return this.settings.choose(org.id, request);
  }
}
