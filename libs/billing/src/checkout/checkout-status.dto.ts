import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { CHECKOUT_STATUSES, type CheckoutStatus } from '@credits/database';

@ApiSchema({
  name: 'CheckoutSessionStatusResponse',
  description: "One purchase's state, as the success page shows it.",
})
export class CheckoutSessionStatusResponse {
  @ApiProperty({ description: 'Stripe Checkout session ID', example: 'cs_test_a1b2c3' })
  session_id!: string;

  @ApiProperty({
    description: 'open: not paid yet; complete: paid or awaiting an async payment; expired; failed: the payment failed',
    enum: CHECKOUT_STATUSES,
    example: 'complete',
  })
  status!: CheckoutStatus;

  @ApiProperty({
    description: "Stripe's payment status: paid, unpaid or no_payment_required",
    type: 'string',
    example: 'paid',
  })
  payment_status!: string;

  @ApiProperty({ description: 'Credits this purchase grants once paid', type: 'integer', example: 1000 })
  credits!: number;

  @ApiProperty({ description: 'Whether the credits were granted', type: 'boolean', example: true })
  fulfilled!: boolean;

  @ApiProperty({
    description: 'When the Checkout session expires (ISO 8601)',
    type: 'string',
    format: 'date-time',
    nullable: true,
  })
  expires_at!: string | null;
}
