import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.ts';
import { childPids } from './proc-meter.ts';

/**
 * nginx as the relay-cost yardstick of the `overhead` scenario: one worker, keep-alive to the
 * upstream, no access log, in the foreground with a generated config in a temp dir.
 */

/** nginx relaying to an upstream: the master's pid plus its worker. */
export interface NginxHandle {
  url: string;
  pids(): number[];
  stop(): Promise<void>;
}

/** The nginx binary if installed (Debian's `nginx` package puts it in /usr/sbin, often off PATH). */
export function findNginx(): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(':'),
    '/usr/sbin',
    '/usr/local/sbin',
    '/usr/local/nginx/sbin',
  ];
  for (const dir of dirs) {
    const candidate = join(dir, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** The generated nginx.conf: what "nginx, one worker, upstream keep-alive" means here. */
export function nginxConfig(dir: string, port: number, upstream: URL): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream gateway {
    server ${upstream.host};
    keepalive 256;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://gateway;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
}

/** Starts nginx in front of `upstreamUrl` and waits until its port accepts connections. */
export async function startNginx(binary: string, upstreamUrl: string): Promise<NginxHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'backstop-bench-nginx-'));
  // Workers run as `nobody` when the master is root; they only need to traverse the dir.
  chmodSync(dir, 0o755);
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, new URL(upstreamUrl)));
  const child = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const exited = once(child, 'exit');
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`nginx exited with ${child.exitCode}: ${stderr}${errorLog(dir)}`);
    if (await accepts(port)) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen within 10 s: ${stderr}${errorLog(dir)}`);
    await sleep(50);
  }
  const pid = child.pid as number;
  return {
    url: `http://127.0.0.1:${port}`,
    pids: () => [pid, ...childPids(pid)],
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function errorLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
