import { Controller, Get, HttpCode, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from '@credits/auth';
import { DATABASE_HANDLE, DatabaseHandle } from '@credits/database';
import { ServiceUnavailableError, ApiErrorResponses } from '@credits/errors';
import { InjectConfig, type AppConfig } from '@credits/config';
import { ShutdownState } from './shutdown-state';

class HealthStatus {
  @ApiProperty({ example: 'ok' })
  status!: string;
}

class ReadinessStatus extends HealthStatus {
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { database: 'ok', stripe: 'ok' } })
  checks!: Record<string, string>;
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @Inject(DATABASE_HANDLE) private readonly database: DatabaseHandle,
    @InjectConfig() private readonly config: AppConfig,
    private readonly shutdown: ShutdownState,
  ) {}

  @Get('healthz')
  @Public('a liveness probe: orchestrators call it without credentials')
  @ApiOperation({ summary: 'Liveness', description: 'The process is up and serving HTTP.' })
  @ApiOkResponse({ type: HealthStatus })
  liveness(): HealthStatus {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Public('a readiness probe: load balancers call it without credentials')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Readiness',
    description: 'Ready for traffic: the database answers, Stripe is configured, and the process is not shutting down.',
  })
  @ApiOkResponse({ type: ReadinessStatus })
  @ApiErrorResponses('service_unavailable_error')
  async readiness(): Promise<ReadinessStatus> {
    if (this.shutdown.shuttingDown) throw new ServiceUnavailableError('Shutting down');
    try {
      await this.database.ping();
    } catch {
      throw new ServiceUnavailableError('Database unreachable');
    }
    if (!this.config.stripe.secretKey) throw new ServiceUnavailableError('Stripe is not configured');
    return { status: 'ok', checks: { database: 'ok', stripe: this.config.stripe.usesEmulator ? 'emulator' : 'ok' } };
  }
}
