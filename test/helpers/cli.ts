// Runs the real command line (`bin/classify-sync.js`) as a user would, in a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/classify-sync.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment without the caller's LlamaCloud / database settings, so tests never reach real services. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(LLAMA_CLOUD_|DATABASE_URL|CLASSIFY_SYNC_)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

export function runCli(args: string[], env: Record<string, string | undefined>, options: { timeoutMs?: number } = {}): Promise<CliResult> {
  return startCli(args, env, options).done;
}

/** Starts the CLI and hands back the child too (to signal it); `done` settles when it has exited. */
export function startCli(
  args: string[],
  env: Record<string, string | undefined>,
  options: { timeoutMs?: number } = {},
): {
  child: ChildProcess;
  done: Promise<CliResult>;
} {
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** Writes a config file with fast retries (tests should not wait for production backoff). */
export function writeConfig(content: Record<string, unknown>): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cs-cli-')), 'classify-sync.json');
  writeFileSync(
    path,
    JSON.stringify({
      retry: { retries: 4, minDelayMs: 5, maxDelayMs: 40, maxRetryAfterMs: 50, maxElapsedMs: 20_000 },
      requestTimeoutMs: 3000,
      ...content,
    }),
  );
  return path;
}
