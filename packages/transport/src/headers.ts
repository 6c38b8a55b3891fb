/**
 * Message headers, shared by core messages (bus.ts) and stream messages (stream-types.ts).
 * Its own file so that neither of those imports the other.
 */

/**
 * Message headers. Names are case-sensitive and kept exactly as sent (docs/spec.md §10 Security): write
 * `Backbeat-Term`, `Nats-Msg-Id`, `x-agent-id` exactly so. One value per name.
 */
export type Headers = Readonly<Record<string, string>>;
