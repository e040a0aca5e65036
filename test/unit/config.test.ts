import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertRunnable, ConfigError, databaseSecrets, envSecrets, loadConfig, redactUrl } from '../../src/config.ts';

function file(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cs-config-')), 'c.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('loadConfig', () => {
  it('applies defaults and reads keys from the environment, per project', () => {
    const config = loadConfig(
      { configFile: file({ projects: [{ id: 'a' }, { id: 'b', apiKeyEnv: 'KEY_B', name: 'Bee' }] }) },
      { LLAMA_CLOUD_API_KEY: 'key-default', KEY_B: 'key-bbbb' },
    );
    expect(config.baseUrl).toBe('https://api.cloud.llamaindex.ai');
    expect(config.pageSize).toBe(100);
    expect(config.concurrency).toBe(4);
    expect(config.requestTimeoutMs).toBe(30_000);
    expect(config.projects.map((p) => [p.id, p.apiKey, p.apiKeyEnv])).toEqual([
      ['a', 'key-default', 'LLAMA_CLOUD_API_KEY'],
      ['b', 'key-bbbb', 'KEY_B'],
    ]);
    expect(config.secrets).toEqual(expect.arrayContaining(['key-default', 'key-bbbb']));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('lets env override the file and flags override both', () => {
    const path = file({ baseUrl: 'https://file.example', projects: [{ id: 'a' }], pageSize: 50 });
    const config = loadConfig(
      { configFile: path, projects: ['x', 'y'], pageSize: 10, organizationId: 'org' },
      { LLAMA_CLOUD_BASE_URL: 'https://env.example/', DATABASE_URL: 'postgres://u:pw-secret@h/db' },
    );
    expect(config.baseUrl).toBe('https://env.example');
    expect(config.projects.map((p) => [p.id, p.organizationId])).toEqual([
      ['x', 'org'],
      ['y', 'org'],
    ]);
    expect(config.pageSize).toBe(10);
    expect(config.secrets).toContain('pw-secret');
  });

  it('logFormat: auto by default; the file, then CLASSIFY_SYNC_LOG_FORMAT, then --log-format', () => {
    expect(loadConfig({}, {}).logFormat).toBe('auto');
    const path = file({ logFormat: 'pretty' });
    expect(loadConfig({ configFile: path }, {}).logFormat).toBe('pretty');
    expect(loadConfig({ configFile: path }, { CLASSIFY_SYNC_LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ configFile: path, logFormat: 'auto' }, { CLASSIFY_SYNC_LOG_FORMAT: 'json' }).logFormat).toBe('auto');
    expect(() => loadConfig({ configFile: file({ logFormat: 'text' }) }, {})).toThrow(/logFormat: .*"auto"\|"json"\|"pretty"/);
  });

  it('reads the file named by CLASSIFY_SYNC_CONFIG', () => {
    const config = loadConfig({}, { CLASSIFY_SYNC_CONFIG: file({ projects: [{ id: 'from-env-file' }] }) });
    expect(config.projects[0]?.id).toBe('from-env-file');
  });

  it.each([
    [{ pageSize: 500 }, /pageSize/],
    [{ projects: [{ name: 'no id' }] }, /projects\.0\.id/],
    [{ projects: [{ id: 'a', apiKey: 'llx-in-file' }] }, /projects\.0/],
    [{ concurrency: 'four' }, /concurrency/],
    [{ retry: { retries: -1 } }, /retry\.retries/],
    [{ unknownField: 1 }, /unknownField/],
    [{ projects: [{ id: 'a', apiKeyEnv: 'not a name' }] }, /apiKeyEnv/],
  ])('refuses an invalid file %j, naming the field', (content, field) => {
    expect(() => loadConfig({ configFile: file(content) }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ configFile: file(content) }, {})).toThrow(field);
  });

  it('says which file cannot be read or parsed', () => {
    expect(() => loadConfig({ configFile: '/nope/missing.json' }, {})).toThrow(/missing\.json cannot be read/);
    expect(() => loadConfig({ configFile: file('{ not json') }, {})).toThrow(/not valid JSON/);
  });

  it('refuses a bad flag value with the flag name', () => {
    expect(() => loadConfig({ pageSize: 101 }, {})).toThrow(/--page-size: /);
    expect(() => loadConfig({ api: 'v9' }, {})).toThrow(/api/);
  });

  it('refuses a project listed twice', () => {
    expect(() => loadConfig({ projects: ['a', 'a'] }, {})).toThrow(/twice/);
  });

  it("a list from --project or CLASSIFY_SYNC_PROJECTS replaces the file's, keeping the file's settings of the ids it lists", () => {
    const configFile = file({ projects: [{ id: 'a', name: 'Ay', apiKeyEnv: 'KEY_A' }, { id: 'c' }] });
    const fromEnv = loadConfig({ configFile }, { CLASSIFY_SYNC_PROJECTS: ' a, b ', KEY_A: 'ka', LLAMA_CLOUD_API_KEY: 'k' });
    expect(fromEnv.projects.map((p) => [p.id, p.name, p.apiKeyEnv])).toEqual([
      ['a', 'Ay', 'KEY_A'],
      ['b', undefined, 'LLAMA_CLOUD_API_KEY'],
    ]);
    const fromFlags = loadConfig({ configFile, projects: ['c'] }, { CLASSIFY_SYNC_PROJECTS: 'a,b' });
    expect(fromFlags.projects.map((p) => p.id)).toEqual(['c']);
  });

  it('cannot run without projects or without any key', () => {
    expect(() => assertRunnable(loadConfig({}, { LLAMA_CLOUD_API_KEY: 'k-1234' }))).toThrow(/no projects/);
    expect(() => assertRunnable(loadConfig({ projects: ['a'] }, {}))).toThrow(/set LLAMA_CLOUD_API_KEY/);
  });
});

it('redactUrl hides the password', () => {
  expect(redactUrl('postgres://user:hunter2@db:5432/x')).toBe('postgres://user:***@db:5432/x');
});

describe('API keys: the key sent is the key scrubbed', () => {
  it('trims a key once (a newline from $(cat key.txt), spaces); the secrets hold the trimmed key', () => {
    const config = loadConfig(
      { projects: ['a', 'b'], configFile: file({ projects: [{ id: 'a' }, { id: 'b', apiKeyEnv: 'KEY_B' }] }) },
      { LLAMA_CLOUD_API_KEY: 'llx-abc-123\n', KEY_B: ' \tllx-bbb-456  \r\n' },
    );
    expect(config.projects.map((p) => p.apiKey)).toEqual(['llx-abc-123', 'llx-bbb-456']);
    const both = loadConfig(
      { configFile: file({ projects: [{ id: 'a' }, { id: 'b', apiKeyEnv: 'KEY_B' }] }) },
      { LLAMA_CLOUD_API_KEY: 'llx-abc-123\n', KEY_B: ' \tllx-bbb-456  \r\n' },
    );
    expect(both.projects.map((p) => p.apiKey)).toEqual(['llx-abc-123', 'llx-bbb-456']);
    expect(both.secrets).toEqual(expect.arrayContaining(['llx-abc-123', 'llx-bbb-456']));
    expect(both.secrets.some((s) => s !== s.trim())).toBe(false);
    expect(both.apiKeys).toEqual(['llx-abc-123', 'llx-bbb-456']);
  });

  it('treats a key of whitespace only as unset', () => {
    const config = loadConfig({ projects: ['a'] }, { LLAMA_CLOUD_API_KEY: ' \n' });
    expect(config.projects[0]?.apiKey).toBeUndefined();
    expect(() => assertRunnable(config)).toThrow(/no API key: set LLAMA_CLOUD_API_KEY/);
  });

  it.each([
    ['a space inside', 'llx-abc 123'],
    ['a newline inside', 'llx-abc\n123'],
    ['a control character', 'llx-abc\u0007123'],
    ['a non-ASCII character', 'llx-abc\u00e9123'],
  ])('refuses a key with %s, naming the variable, never the key', (_, key) => {
    const load = () => loadConfig({ configFile: file({ projects: [{ id: 'a', apiKeyEnv: 'KEY_A' }] }) }, { KEY_A: key });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/^KEY_A has a space, control or non-ASCII character inside the key: set it to the key alone$/);
  });

  it('envSecrets trims too (the error path of the CLI scrubs with it)', () => {
    expect(envSecrets({ LLAMA_CLOUD_API_KEY: 'llx-abc-123\n  ', OTHER: 'not-secret' })).toEqual(['llx-abc-123']);
  });
});

describe('DATABASE_URL: every credential pg can read is redacted and scrubbed', () => {
  it.each([
    ['postgres://u:pw-secret@db:5432/x?sslmode=require', 'postgres://u:***@db:5432/x?sslmode=require', ['pw-secret']],
    ['postgres://u@db:5432/x?password=q-secret', 'postgres://u@db:5432/x?password=***', ['q-secret']],
    [
      'postgres://u:pw-one@db/x?sslmode=disable&password=pw-two&password=pw-three',
      'postgres://u:***@db/x?sslmode=disable&password=***',
      ['pw-one', 'pw-two', 'pw-three'],
    ],
    ['postgres://u@db/x?sslpassword=key-pass&sslkey=/etc/k.pem', 'postgres://u@db/x?sslpassword=***&sslkey=%2Fetc%2Fk.pem', ['key-pass']],
    ['postgres://u:p%40ss-word@db/x', 'postgres://u:***@db/x', ['p%40ss-word', 'p@ss-word']],
    ['postgres://u:sock-secret@/x?host=/var/run/postgresql', 'postgres://u:***@/x?host=/var/run/postgresql', ['sock-secret']],
    ['postgres://u@db/x?password=with%20space%2Bplus', 'postgres://u@db/x?password=***', ['with space+plus']],
  ])('%s', (url, redacted, secrets) => {
    expect(redactUrl(url)).toBe(redacted);
    expect(databaseSecrets(url)).toEqual(expect.arrayContaining(secrets));
    const config = loadConfig({}, { DATABASE_URL: url });
    expect(config.secrets).toEqual(expect.arrayContaining(secrets));
    // Scrubbed from output, never from job data: the API cannot know it, and "postgres" would rewrite ids.
    expect(config.apiKeys).toEqual([]);
  });

  it('never echoes an unparseable URL', () => {
    expect(redactUrl('postgres://u:pw-secret@db:99999999/x')).toBe('(unparseable DATABASE_URL)');
    expect(redactUrl('u:pw-secret@db/x')).toBe('(unparseable DATABASE_URL)');
    expect(redactUrl('pw-secret')).toBe('(unparseable DATABASE_URL)');
    expect(redactUrl('/var/run/postgresql mydb')).toBe('/var/run/postgresql mydb');
    expect(redactUrl('socket:/var/run/postgresql?db=x')).toBe('socket:/var/run/postgresql?db=x');
  });
});

describe('LLAMA_CLOUD_BASE_URL with credentials', () => {
  it.each([
    ['user:pass', 'http://user:pass@127.0.0.1:4010'],
    ['a user only', 'https://someone@api.example'],
    ['an unparseable one', 'http://user:pass@host:99999999'],
  ])('is refused at start (%s), in one line that does not repeat them', (_, url) => {
    const load = () => loadConfig({ projects: ['a'] }, { LLAMA_CLOUD_BASE_URL: url, LLAMA_CLOUD_API_KEY: 'k-1234' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/^LLAMA_CLOUD_BASE_URL must not carry credentials \(user:password@\): put the API key in LLAMA_CLOUD_API_KEY/);
    try {
      load();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).not.toMatch(/pass@|someone|host:/);
      expect(message).not.toContain('\n');
    }
  });

  it('names the config file when the file carries them', () => {
    const path = file({ baseUrl: 'https://user:pass@api.example' });
    expect(() => loadConfig({ configFile: path }, {})).toThrow(new RegExp(`^baseUrl in config file ${path} must not carry credentials`));
  });

  it('still takes a URL with an @ in its path or query', () => {
    expect(loadConfig({}, { LLAMA_CLOUD_BASE_URL: 'https://api.example/a@b?x=c@d' }).baseUrl).toBe('https://api.example/a@b?x=c@d');
  });
});
