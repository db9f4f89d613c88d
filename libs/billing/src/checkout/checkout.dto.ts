import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsBoolean, IsDefined, IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsRedirectUrl, MAX_REDIRECT_URL_LENGTH } from './redirect-url';

export const MIN_BUNDLES = 1;
export const MAX_BUNDLES = 10;
/** An absolute http(s) URL, as the document states it; the allow-list and https rule are the server's. */
const ABSOLUTE_HTTP_URL_PATTERN = '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+([/?#]\\S*)?$';

@ApiSchema({
  name: 'CreateCheckoutSessionRequest',
  description: 'Request schema for creating a Stripe Checkout session.',
})
export class CreateCheckoutSessionRequest {
  // Not `format: uri`: Stripe's `{CHECKOUT_SESSION_ID}` placeholder is not valid in a URI, so a
  // client that checks formats would refuse the very value this field exists for.
  @ApiProperty({
    description: 'Redirect URL after successful purchase',
    type: 'string',
    pattern: ABSOLUTE_HTTP_URL_PATTERN,
    maxLength: MAX_REDIRECT_URL_LENGTH,
    example: 'http://localhost:3000/billing/success?session_id={CHECKOUT_SESSION_ID}',
  })
  @IsDefined()
  @IsString()
  @MaxLength(MAX_REDIRECT_URL_LENGTH)
  @IsRedirectUrl({ allowSessionIdPlaceholder: true })
  success_url!: string;

  @ApiProperty({
    description: 'Redirect URL after canceling',
    type: 'string',
    format: 'uri',
    maxLength: MAX_REDIRECT_URL_LENGTH,
    example: 'http://localhost:3000/billing/cancel',
  })
  @IsDefined()
  @IsString()
  @MaxLength(MAX_REDIRECT_URL_LENGTH)
  @IsRedirectUrl({ allowSessionIdPlaceholder: false })
  cancel_url!: string;

  @ApiPropertyOptional({
    description: 'Quantity of credit bundles to purchase (1-10)',
    type: 'integer',
    minimum: MIN_BUNDLES,
    maximum: MAX_BUNDLES,
    default: 1,
    example: 1,
  })
  @IsInt()
  @Min(MIN_BUNDLES)
  @Max(MAX_BUNDLES)
  quantity: number = 1;

  @ApiPropertyOptional({
    description:
      "Keep the card for auto-refill: Stripe saves it for off-session charges, and once the payment succeeds it becomes the organization's default payment method",
    type: 'boolean',
    default: false,
    example: false,
  })
  @IsBoolean()
  save_payment_method: boolean = false;
}

@ApiSchema({ name: 'CheckoutSessionResponse', description: 'Response schema for a Stripe Checkout session.' })
export class CheckoutSessionResponse {
  @ApiProperty({
    description: 'Stripe Checkout URL',
    type: 'string',
    format: 'uri',
    example: 'https://checkout.stripe.com/c/pay/cs_test_a1b2c3',
  })
  checkout_url!: string;

  @ApiProperty({ description: 'Stripe Checkout session ID', example: 'cs_test_a1b2c3' })
  session_id!: string;

  @ApiPropertyOptional({
    description: 'When the Checkout session expires (ISO 8601)',
    type: 'string',
    format: 'date-time',
    nullable: true,
  })
  expires_at?: string | null;

  @ApiPropertyOptional({ description: 'Credits granted once the payment succeeds', type: 'integer', example: 1000 })
  credits?: number;

  @ApiPropertyOptional({
    description: 'Total to pay, in the smallest currency unit (e.g. cents)',
    type: 'integer',
    nullable: true,
    example: 1000,
  })
  amount_total?: number | null;

  @ApiPropertyOptional({
    description: 'Three-letter ISO currency code, lower case',
    type: 'string',
    nullable: true,
    example: 'usd',
  })
  currency?: string | null;
}
