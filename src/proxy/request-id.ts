import { randomUUID } from 'node:crypto';

const SANE_ID = /^[\x21-\x7e]{1,128}$/;

/** The client's `x-request-id` when it is a short printable token, else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_ID.test(header) ? header : randomUUID();
}
