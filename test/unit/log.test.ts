import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, destination };
}

it('never writes a known secret, wherever it appears in a line', () => {
  const { lines, destination } = capture();
  const log = createLogger({ secrets: ['llx-secret-key-123', 'pa"ss\\word'], destination });
  log
    .child({ runId: 'r1', projectId: 'p1' })
    .error(
      { err: 'request with llx-secret-key-123 failed', apiKey: 'llx-secret-key-123', password: 'pa"ss\\word' },
      'db pa"ss\\word refused',
    );
  const out = lines.join('');
  expect(out).not.toContain('llx-secret-key-123');
  expect(out).not.toContain('pa\\"ss\\\\word');
  const line = JSON.parse(out) as Record<string, unknown>;
  expect(line).toMatchObject({
    runId: 'r1',
    projectId: 'p1',
    apiKey: '***',
    password: '***',
    err: 'request with *** failed',
    msg: 'db *** refused',
  });
});

it('redacts authorization headers by key even when the value is unknown', () => {
  const { lines, destination } = capture();
  createLogger({ destination }).info({ headers: { authorization: 'Bearer whatever' } }, 'x');
  expect(lines.join('')).not.toContain('whatever');
});
