import type { Exchange } from './exchange.ts';
import type { Timing } from './timing.ts';

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

/** How the bytes of a stream are laid out on the wire. */
export interface SseStyle {
  /** Benign oddities: a `: ping` comment first, the first frame one byte per write, others in pieces. */
  quirks: boolean;
  /** "\n", or "\r\n" with quirks (both are valid SSE line ends). */
  eol: string;
}

/** The style for a faults setting. */
export function sseStyle(quirks: boolean): SseStyle {
  return { quirks, eol: quirks ? '\r\n' : '\n' };
}

/**
 * Sends the 200 headers at once, as vLLM (Starlette's StreamingResponse) does before the first
 * token exists: a client sees headers fast and then waits TTFT for the first event.
 */
export function startStream(ex: Exchange, style: SseStyle): void {
  ex.res.writeHead(200, SSE_HEADERS);
  ex.res.flushHeaders();
  if (style.quirks) ex.res.write(`: ping${style.eol}${style.eol}`);
}

function pieces(text: string, firstFrame: boolean): string[] {
  if (firstFrame) return Array.from(text);
  const size = Math.max(1, Math.ceil(text.length / 3));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/**
 * Writes `text`, then calls `then`. With quirks the text goes out in separate writes on separate
 * event-loop turns, so the client really receives fragments (one byte each for the first frame):
 * an SSE parser that assumes one event per chunk breaks here, as it would behind some proxies.
 */
export function writeFrame(
  ex: Exchange,
  text: string,
  style: SseStyle,
  firstFrame: boolean,
  then: () => void,
): void {
  if (!style.quirks) {
    ex.res.write(text);
    then();
    return;
  }
  const parts = pieces(text, firstFrame);
  let index = 0;
  const next = () => {
    const part = parts[index++];
    if (part === undefined) {
      then();
      return;
    }
    ex.res.write(part);
    ex.soon(next);
  };
  next();
}

/**
 * Streams `frames` on the timing: frame 0 at TTFT, then one per TPOT; ends the response after the
 * last and calls `done`. At zero latency without quirks the frames go out in one write.
 */
export function streamFrames(
  ex: Exchange,
  frames: readonly string[],
  t: Timing,
  style: SseStyle,
  done: () => void,
): void {
  const step = (index: number) => {
    if (t.tpotMs <= 0 && !style.quirks) {
      ex.res.end(index === 0 ? frames.join('') : frames.slice(index).join(''));
      done();
      return;
    }
    const frame = frames[index] ?? '';
    writeFrame(ex, frame, style, index === 0, () => {
      if (index + 1 >= frames.length) {
        ex.res.end();
        done();
      } else {
        ex.after(t.tpotMs, () => step(index + 1));
      }
    });
  };
  ex.after(t.ttftMs, () => step(0));
}
