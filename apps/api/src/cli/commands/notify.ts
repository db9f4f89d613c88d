import { type Command, cell } from '../command';

/** `notify …` */
export const notifyCommands: Record<string, Command> = {
  'notify add': {
    args: '<url> [--events a,b]',
    help: [
      'register an endpoint for notifications (all events, or those',
      'listed); prints its signing secret (only) on stdout, once',
    ],
    positional: 1,
    flags: ['events'],
    billing: true,
    async run({ billing }, { positional: [url], flags }) {
      const { notifications } = billing();
      const events = flags.events?.split(',').map((type) => type.trim());
      const { endpoint, secret } = await notifications.add(url, events);
      return {
        lines: [secret],
        note: `added endpoint ${endpoint.id} for ${endpoint.events?.join(',') ?? 'every event'}; its signing secret is shown once:`,
        json: { id: endpoint.id, url: endpoint.url, events: endpoint.events, secret, created_at: endpoint.createdAt },
      };
    },
  },
  'notify list': {
    args: '',
    help: ['the endpoints: id, url, events, created'],
    positional: 0,
    billing: true,
    async run({ billing }) {
      const { notifications } = billing();
      const endpoints = await notifications.list();
      return {
        lines: endpoints.map((e) => [e.id, e.url, e.events?.join(',') ?? '*', e.createdAt].map(cell).join('\t')),
        note: endpoints.length === 0 ? 'no endpoints' : undefined,
        json: endpoints.map((e) => ({ id: e.id, url: e.url, events: e.events, created_at: e.createdAt })),
      };
    },
  },
  'notify remove': {
    args: '<id>',
    help: ['stop notifying an endpoint'],
    positional: 1,
    billing: true,
    async run({ billing }, { positional: [id] }) {
      const { notifications } = billing();
      await notifications.remove(id);
      return { note: `removed endpoint ${id}`, json: { id, removed: true } };
    },
  },
  'notify deliveries': {
    args: '[--failed]',
    help: ['the latest delivery attempts (--failed: failed or given up)'],
    positional: 0,
    switches: ['failed'],
    billing: true,
    async run({ billing }, { switches }) {
      const { notifications } = billing();
      const failedOnly = switches.has('failed');
      const rows = await notifications.deliveries({ failedOnly });
      return {
        lines: rows.map((d) =>
          [d.createdAt, d.eventId, d.endpointId, d.attempt, d.status, d.responseCode, d.error].map(cell).join('\t'),
        ),
        note: rows.length === 0 ? (failedOnly ? 'no failed deliveries' : 'no deliveries') : undefined,
        json: rows.map((d) => ({
          created_at: d.createdAt,
          event_id: d.eventId,
          endpoint_id: d.endpointId,
          attempt: d.attempt,
          status: d.status,
          response_code: d.responseCode,
          error: d.error,
        })),
      };
    },
  },
  'notify resend': {
    args: '<event id>',
    help: ['send an event (evt_…) again to every endpoint that takes it'],
    positional: 1,
    billing: true,
    async run({ billing }, { positional: [eventId] }) {
      const { notifications } = billing();
      const scheduled = await notifications.resend(eventId);
      return {
        lines: [String(scheduled)],
        note: `${eventId}: ${scheduled} delivery attempt(s) scheduled`,
        json: { event_id: eventId, scheduled },
      };
    },
  },
};
