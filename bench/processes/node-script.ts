import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * A bench server in a Node process of its own (the floor, the fixed upstream): started with
 * `nodeFlags`, ready when it prints one JSON line `{"port": N}` on stdout, the way nginx is a
 * process of its own, so /proc measures it alone and its event loop shares no thread with the
 * clients that time it.
 */
export interface ScriptHandle {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `[env] node [nodeFlags] script [args]` and waits for its port line (at most `timeoutMs`). */
export async function startNodeScript(
  script: string,
  args: readonly string[],
  nodeFlags: readonly string[] = [],
  timeoutMs = 15_000,
  env: Readonly<Record<string, string>> = {},
): Promise<ScriptHandle> {
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr = (stderr + c).slice(-4000);
  });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await Promise.race([
      new Promise<number>((resolve) =>
        lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port)),
      ),
      exited.then(([code]) => {
        throw new Error(`${script} exited with ${code} before listening: ${stderr}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${script} did not listen within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    lines.close();
    // Nothing more is printed, but an unread pipe must never stall the child.
    child.stdout?.resume();
    let stopping = false;
    // A relay that dies mid-run would otherwise show only as failed requests: say why.
    child.once('exit', (code, signal) => {
      if (!stopping)
        process.stderr.write(`bench: ${script} exited (${signal ?? code}) during the run: ${stderr}\n`);
    });
    return {
      url: `http://127.0.0.1:${port}`,
      pid: child.pid as number,
      async stop() {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(kill);
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
