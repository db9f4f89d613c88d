import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { BEARER_AUTH } from '@credits/auth';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('credits-api')
    .setDescription(
      "Buy prepaid credits through Stripe Checkout and read an organization's exact credit ledger.\n\n" +
        'Every error answers with the same envelope (`APIErrorPayload`): `{code, detail, errors, type}`. ' +
        'Each response carries an `X-Request-Id` header; quote it when reporting a problem.',
    )
    .setVersion('1.0.0')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: 'An API key (`ck_…`, from the admin CLI) or a JWT whose `sub` is a user id or email.',
      },
      BEARER_AUTH,
    )
    .build();
  return SwaggerModule.createDocument(app, config, {
    // `createCheckoutSession` -> `create_checkout_session`, the published operation ids.
    operationIdFactory: (_controller, method) => method.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
  });
}

/** Swagger UI at /docs, the document at /docs-json. */
export function setupOpenApi(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'credits-api — API reference',
    swaggerOptions: { persistAuthorization: true, displayOperationId: true },
  });
  return document;
}
