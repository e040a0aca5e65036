import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
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

/** A destination that says it is a terminal, as a TTY stdout does. */
function captureTty() {
  const { lines, destination } = capture();
  return { lines, destination: Object.assign(destination, { isTTY: true }) };
}

describe('pretty lines (a terminal, or --log-format pretty)', () => {
  it('on a terminal, auto writes one readable line: UTC time, level, project, message, the other fields', () => {
    const { lines, destination } = captureTty();
    const log = createLogger({ format: 'auto', destination });
    log.child({ runId: 'r1', projectId: 'p1' }).warn({ attempt: 2, status: 429, err: 'too many requests' }, 'request failed, retrying');
    log.info('run started');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN {2}\[p1\] request failed, retrying {2}attempt=2 status=429 err="too many requests"\n$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d INFO {2}run started\n$/);
  });

  it('off a terminal, auto keeps JSON lines; json keeps them on a terminal too', () => {
    const plain = capture();
    createLogger({ format: 'auto', destination: plain.destination }).info({ pages: 3 }, 'walk planned');
    const tty = captureTty();
    createLogger({ format: 'json', destination: tty.destination }).info({ pages: 3 }, 'walk planned');
    for (const out of [plain.lines.join(''), tty.lines.join('')]) {
      expect(JSON.parse(out)).toMatchObject({ level: 30, msg: 'walk planned', pages: 3 });
    }
  });

  it('pretty forces readable lines off a terminal', () => {
    const { lines, destination } = capture();
    createLogger({ format: 'pretty', destination }).error({ projectId: 'p9' }, 'project failed: HTTP 403');
    expect(lines.join('')).toMatch(/^\d\d:\d\d:\d\d ERROR \[p9\] project failed: HTTP 403\n$/);
  });

  it('scrubs secrets and redacts keys exactly as the JSON lines do', () => {
    const { lines, destination } = captureTty();
    const log = createLogger({ format: 'auto', secrets: ['llx-secret-key-123', 'pa"ss\\word'], destination });
    log.child({ projectId: 'p1' }).error(
      {
        err: 'request with llx-secret-key-123 failed',
        apiKey: 'whatever-key',
        headers: { authorization: 'Bearer abc' },
        password: 'pa"ss\\word',
      },
      'db pa"ss\\word refused, key llx-secret-key-123',
    );
    const out = lines.join('');
    for (const secret of ['llx-secret-key-123', 'pa"ss\\word', 'pa\\"ss\\\\word', 'whatever-key', 'Bearer abc'])
      expect(out).not.toContain(secret);
    expect(out).toContain('[p1] db *** refused, key ***');
    expect(out).toContain('err="request with *** failed" apiKey=*** headers={"authorization":"***"} password=***');
  });

  it('never passes a control character through to the terminal (upstream text may carry escape sequences)', () => {
    const { lines, destination } = captureTty();
    createLogger({ format: 'auto', destination }).warn({ detail: 'bad\u001b[2Jthing\r\n' }, 'odd \u001b[31mred\u0007');
    const out = lines.join('');
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(out.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(out).toContain('odd \\u001b[31mred\\u0007  detail="bad\\u001b[2Jthing\\r\\n"');
  });
});
