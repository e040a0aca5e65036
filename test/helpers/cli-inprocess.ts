// Runs the CLI in-process, the way bin/classify-sync.js does, and captures what it prints
// (cheaper than a child process where the test needs no process boundary).
import { Writable } from 'node:stream';
import { main } from '../../src/cli.ts';
import type { Io } from '../../src/commands/shared.ts';

export interface InProcessCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function captureIo(env: Record<string, string | undefined>): { io: Io; out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  return {
    io: {
      env,
      stdout: sink((t) => {
        stdout += t;
      }),
      stderr: sink((t) => {
        stderr += t;
      }),
    },
    out: () => stdout,
    err: () => stderr,
  };
}

/** main() with `argv` and `env` in this process (cli.ts' runCli spawns bin/classify-sync.js instead). */
export async function runCliInProcess(argv: readonly string[], env: Record<string, string | undefined> = {}): Promise<InProcessCliResult> {
  const { io, out, err } = captureIo(env);
  const code = await main(argv, io);
  return { code, stdout: out(), stderr: err() };
}

/** RFC 4180 CSV → rows of cells (quoted fields, doubled quotes, CRLF or LF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else {
      cell += c;
    }
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}
