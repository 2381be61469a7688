/**
 * ioredis 6.1 registers for Redis's maintenance notifications by default (RESP3 `CLIENT
 * MAINT_NOTIFICATIONS`), and a `MOVING` notification makes it dial an endpoint the server names.
 * The gateway dials only the Redis its config names (TLS server name, Sentinels, Cluster
 * nodes), so every connection it opens turns them off; ioredis's Cluster already does for its nodes.
 */
export const NO_SERVER_HANDOFF = { maintNotifications: 'disabled' } as const
