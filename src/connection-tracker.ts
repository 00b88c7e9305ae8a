import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Knows, for every client connection, how many requests are in flight on it, so a drain can
 * close keep-alive connections the moment they go idle. Node's own `closeIdleConnections()`
 * was seen to miss idle keep-alive sockets here (their parser still looked busy), which held a
 * drain for the whole grace period; this does not depend on parser state.
 */
export class ConnectionTracker {
  readonly #inFlight = new Map<Socket, number>();
  #draining = false;

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.#inFlight.set(socket, 0);
      socket.once('close', () => this.#inFlight.delete(socket));
    });
    server.on('request', (req, res) => {
      const socket = req.socket;
      this.#inFlight.set(socket, (this.#inFlight.get(socket) ?? 0) + 1);
      if (this.#draining && !res.headersSent) res.setHeader('connection', 'close');
      // `on`: a response closes once; `once` would cost a wrapper and a removal per request.
      res.on('close', () => {
        const count = this.#inFlight.get(socket);
        // Gone already: a client that leaves mid-response closes the socket before node:http
        // closes the response. Writing the count back would keep that socket, its request and
        // its response in the map for good (issue 10's soak: one per departed client).
        if (count === undefined) return;
        const left = count - 1;
        this.#inFlight.set(socket, left);
        // A response that started before the drain promised keep-alive: end the socket anyway.
        if (this.#draining && left === 0) socket.end();
      });
    });
  }

  /** Stops keep-alive: idle connections end now, busy ones after their last response. */
  drain(): void {
    this.#draining = true;
    for (const [socket, count] of this.#inFlight) if (count === 0) socket.end();
  }

  /** Client connections currently open. */
  get connections(): number {
    return this.#inFlight.size;
  }
}
