import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { BEARER_AUTH } from '@credits/auth';
import { APP_CONFIG, type AppConfig } from '@credits/config';

/** What each tag groups, shown above its operations in Swagger UI. */
const TAGS: Record<string, string> = {
  organizations: 'The organization the caller acts on, and its members.',
  credits: "Buy credits through Stripe Checkout; read an organization's balance and ledger.",
  stripe: 'Events Stripe sends to this service.',
  health: 'Probes for load balancers and orchestrators.',
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const { publicUrl } = app.get<AppConfig>(APP_CONFIG).http;
  const builder = new DocumentBuilder()
    .setTitle('credits-api')
    .setDescription(
      "Buy prepaid credits through Stripe Checkout and read an organization's exact credit ledger.\n\n" +
        'Every error answers with the same envelope (`APIErrorPayload`): `{code, detail, errors, type}`. ' +
        'Each response carries an `X-Request-Id` header; quote it when reporting a problem.',
    )
    .setVersion('1.0.0')
    .addServer(publicUrl, 'This deployment (`PUBLIC_URL`)')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'API key or JWT',
        description:
          'An API key (`ck_…`, from the admin CLI) or a JWT whose `sub` is a user id or email.\n\n' +
          'Each operation lists the scope it needs in its security requirement (`org:read`, `credits:read`, ' +
          '`credits:purchase`, `credits:spend`); without it the answer is 403 `forbidden_error` naming the scope. ' +
          "A person's key or token holds what their role allows in the organization (member: `org:read " +
          "credits:read`; admin and owner: also `credits:purchase`), narrowed by the key's own scope list if it " +
          'has one; `credits:spend` is never implied. A service key belongs to no user and holds exactly its ' +
          'scopes, on every organization or only on those it is limited to.',
      },
      BEARER_AUTH,
    );
  for (const [name, description] of Object.entries(TAGS)) builder.addTag(name, description);
  const config = builder.build();
  // package.json says UNLICENSED (npm's word for "no licence granted"). OpenAPI 3.0 has no SPDX
  // `identifier` and no licence text exists to link, so the name says what it is, without a url.
  config.info.license = { name: 'Proprietary' };
  // DocumentBuilder starts with an empty contact; there is no public one to give.
  delete config.info.contact;

  const document = SwaggerModule.createDocument(app, config, {
    // `createCheckoutSession` -> `create_checkout_session`, the published operation ids.
    operationIdFactory: (_controller, method) => method.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
  });
  declarePublicOperations(document);
  return document;
}

/**
 * An operation that asks for no credentials says so (`security: []`) rather than leaving a
 * reader, or a generator, to guess. Routes whose access decorator already states it keep it.
 */
function declarePublicOperations(document: OpenAPIObject): void {
  for (const item of Object.values(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation) operation.security ??= [];
    }
  }
}

/**
 * Swagger UI at /docs, the document at /docs-json. The document is built at the first request
 * for either, once: not at every start (it walks every route's metadata, about 0.15 s).
 */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'credits-api — API reference',
    swaggerOptions: { persistAuthorization: true, displayOperationId: true },
  });
}
