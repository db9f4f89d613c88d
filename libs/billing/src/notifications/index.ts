export * from './notification-events';
export * from './notification-jobs';
export * from './notification-outbox';
export * from './notification-delivery.service';
export * from './notification-endpoints.service';
export * from './notification.repository';
export * from './signature';
export * from './target-url';
