import type { Dispatcher } from 'undici';
import { oneRequestClient } from './direct.ts';
import type { PathClient, PathName, Workload } from './types.ts';

/**
 * One request to backstop, which retries upstream on our behalf. The attempt count is backstop's
 * own `x-backstop-attempts` header; success is still checked here, independently of backstop's
 * verdict, with the same test as the other paths.
 */
export function backstopClient(
  dispatcher: Dispatcher,
  baseUrl: string,
  w: Workload,
  clock: () => number,
  name: PathName = 'backstop',
): PathClient {
  return oneRequestClient(dispatcher, baseUrl, w, clock, name, (attempt) => attempt.attemptsHeader ?? 1);
}
