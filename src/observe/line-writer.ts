import { write, writeSync } from 'node:fs';

/** Lines are copied into a buffer of this size; one that fills is written out. */
const BUFFER_BYTES = 64 * 1024;
/**
 * A buffer holding this much is written without waiting for the timer. Each write is a round trip
 * through libuv's thread pool, about 32 us of CPU whatever its size on these VMs: at 48 KiB, about
 * 140 request lines share one (0.2 us each), where at 16 KiB 47 did (0.7 us each).
 */
const FLUSH_BYTES = 48 * 1024;
/** Low traffic must not leave lines sitting in the buffer: it is written this often. */
const FLUSH_INTERVAL_MS = 200;
/** How long to wait before writing again to a non-blocking stdout that is full (EAGAIN). */
const RETRY_MS = 20;
/** How long the exit's last flush keeps trying a full non-blocking stdout before it gives up. */
const EXIT_FLUSH_MS = 1000;
/** A line's end: the byte writeLine appends, and the one a dropped line is counted by. */
const NEWLINE = 0x0a;

export interface LineWriterOptions {
  fd: number;
  /** Bytes held while the fd cannot take them (a slow or stalled reader); more lines are dropped. */
  maxPendingBytes: number;
  /** Called once, when a write fails for good (EPIPE: the log collector went away). */
  onError: (error: NodeJS.ErrnoException) => void;
}

/**
 * The log's way to stdout: whole lines are copied into a 64 KiB buffer and written in batches,
 * one asynchronous write per 48 KiB or per 200 ms. pino writes every line here (it takes any
 * object with `write(string)`).
 *
 * Why not sonic-boom, pino's own: its buffer is a string that every line is appended to, and at
 * most 16 KiB of it goes out per write (4 KiB as backstop had it). Each asynchronous write is a
 * round trip through libuv's thread pool, which on these 2-vCPU VMs costs tens of microseconds of
 * CPU; at saturation sonic-boom's log path was about 10% of backstop's CPU per request, this one
 * about 2% (issue 13). Bounded like before: while a write is out, lines go to the other buffer,
 * then to a queue of at most `maxPendingBytes`; past that they are dropped. A write that fails
 * for good (EPIPE) is reported once and every line after it is dropped, so a dead log collector
 * can neither hang the exit nor crash the proxy.
 */
export class LineWriter {
  readonly #fd: number;
  readonly #maxPendingBytes: number;
  readonly #onError: (error: NodeJS.ErrnoException) => void;
  #buffer: Buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  #used = 0;
  /** Written buffers, for reuse: at most two or three are ever in use. */
  #spare: Buffer[] = [];
  /** Bytes waiting their turn (a retired buffer's lines, or one long line), oldest first. */
  #queue: Buffer[] = [];
  /** For each queued entry, the buffer it lives in, to reuse once it is written. */
  #owners: (Buffer | undefined)[] = [];
  #queued = 0;
  /** A write is out: its bytes must not be touched, and nothing else may be written meanwhile. */
  #writing = false;
  /** A full non-blocking fd (EAGAIN): the next write waits for the retry timer. */
  #retrying = false;
  #failed = false;
  /** The shutdown's drain timed out: stdout is stuck, so the exit must not write to it again. */
  #gaveUp = false;
  /** Lines dropped since the last report, while the fd could not keep up. */
  #dropped = 0;
  /** Waiting for everything queued to be written (drain). */
  #idle: (() => void)[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(options: LineWriterOptions) {
    this.#fd = options.fd;
    this.#maxPendingBytes = options.maxPendingBytes;
    this.#onError = options.onError;
    this.#timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Lines dropped because the fd could not keep up (reported on stderr once per burst). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Takes one whole line, its newline included (pino's lines). */
  write(line: string): boolean {
    this.#append(line, false);
    return true;
  }

  /** Takes one line without its newline, which is added here: no string is built to add it. */
  writeLine(text: string): void {
    this.#append(text, true);
  }

  #append(text: string, newline: boolean): void {
    if (this.#failed) return;
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    const most = text.length * 3 + 1;
    if (this.#used + most > BUFFER_BYTES) {
      this.#retire();
      if (most > BUFFER_BYTES) {
        this.#enqueue(Buffer.from(newline ? `${text}\n` : text, 'utf8'), undefined);
        this.flush();
        return;
      }
    }
    this.#used += this.#buffer.write(text, this.#used, 'utf8');
    if (newline) this.#buffer[this.#used++] = NEWLINE;
    if (this.#used >= FLUSH_BYTES) this.flush();
  }

  /** Starts writing what is buffered, unless a write is already out (it continues when done). */
  flush(): void {
    if (this.#writing || this.#retrying || this.#failed) return;
    if (this.#queue.length === 0) this.#retire();
    const next = this.#queue[0];
    if (next === undefined) return;
    this.#writing = true;
    write(this.#fd, next, 0, next.length, null, (error, written) => {
      this.#writing = false;
      if (this.#failed) return;
      if (error) {
        if (error.code === 'EAGAIN') {
          this.#retrying = true;
          setTimeout(() => {
            this.#retrying = false;
            this.flush();
          }, RETRY_MS).unref();
        } else {
          this.#fail(error);
        }
        return;
      }
      this.#written(written);
      if (this.#queue.length > 0 || this.#used >= FLUSH_BYTES || (this.#idle.length > 0 && this.#used > 0)) {
        this.flush();
      } else if (this.#used === 0) {
        this.#wake();
      }
    });
  }

  /**
   * Resolves once every line so far is written (or writing failed, or `timeoutMs` passed): the
   * shutdown's last step, so the exit never cuts a batch in flight or reorders lines.
   */
  drain(timeoutMs: number): Promise<void> {
    if (this.#failed || (!this.#writing && this.#queue.length === 0 && this.#used === 0)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#gaveUp = true;
        resolve();
      }, timeoutMs);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.flush();
    });
  }

  #wake(): void {
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }

  /**
   * Writes out everything at once, from an 'exit' handler (a crash, a second signal; a normal
   * shutdown drains first); gives up on an error, or after EXIT_FLUSH_MS of a full non-blocking
   * stdout. It writes nothing while an asynchronous write is out (two writes at once could tear
   * lines on a pipe, and the later bytes would land first) or after a drain timed out (a blocking
   * stdout that is stuck would hang the exit): those lines are lost, the exit is not.
   */
  flushSync(): void {
    if (this.#failed || this.#writing || this.#gaveUp) return;
    this.#retire();
    const giveUpAt = Date.now() + EXIT_FLUSH_MS;
    let next = 0;
    try {
      while (next < this.#queue.length) {
        const bytes = this.#queue[next] as Buffer;
        let written: number;
        try {
          written = writeSync(this.#fd, bytes, 0, bytes.length);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN' && Date.now() < giveUpAt) continue;
          throw error;
        }
        if (written < bytes.length) {
          this.#queue[next] = bytes.subarray(written);
        } else {
          next++;
        }
        this.#queued -= written;
      }
    } catch (error) {
      this.#fail(error as NodeJS.ErrnoException);
      return;
    }
    this.#queue.length = 0;
    this.#owners.length = 0;
  }

  /** Moves the buffer's lines to the queue and starts a fresh buffer (unless they do not fit). */
  #retire(): void {
    if (this.#used === 0) return;
    if (this.#enqueue(this.#buffer.subarray(0, this.#used), this.#buffer)) {
      this.#buffer = this.#spare.pop() ?? Buffer.allocUnsafe(BUFFER_BYTES);
    }
    this.#used = 0;
  }

  /** Queues bytes to write, or drops their lines when the queue is full; true when queued. */
  #enqueue(bytes: Buffer, owner: Buffer | undefined): boolean {
    if (this.#queued + bytes.length > this.#maxPendingBytes) {
      this.#dropLines(bytes);
      return false;
    }
    this.#queue.push(bytes);
    this.#owners.push(owner);
    this.#queued += bytes.length;
    return true;
  }

  /** The head of the queue went out, all of it or its first `written` bytes. */
  #written(written: number): void {
    const head = this.#queue[0] as Buffer;
    this.#queued -= written;
    if (written < head.length) {
      this.#queue[0] = head.subarray(written);
    } else {
      this.#queue.shift();
      const owner = this.#owners.shift();
      if (owner !== undefined) this.#spare.push(owner);
    }
    if (this.#dropped > 0 && this.#queue.length === 0) {
      process.stderr.write(`backstop: stdout could not keep up; ${this.#dropped} log lines were dropped\n`);
      this.#dropped = 0;
    }
  }

  #dropLines(bytes: Buffer): void {
    let lines = 0;
    for (let i = bytes.indexOf(NEWLINE); i >= 0; i = bytes.indexOf(NEWLINE, i + 1)) lines++;
    this.#dropped += lines;
  }

  #fail(error: NodeJS.ErrnoException): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#queue = [];
    this.#owners = [];
    this.#spare = [];
    this.#queued = 0;
    this.#used = 0;
    clearInterval(this.#timer);
    this.#wake();
    this.#onError(error);
  }
}
