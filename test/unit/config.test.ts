import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertRunnable, ConfigError, loadConfig, redactUrl } from '../../src/config.ts';

function file(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cs-config-')), 'c.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('loadConfig', () => {
  it('applies defaults and reads keys from the environment, per project', () => {
    const config = loadConfig({ configFile: file({ projects: [{ id: 'a' }, { id: 'b', apiKeyEnv: 'KEY_B', name: 'Bee' }] }) },
      { LLAMA_CLOUD_API_KEY: 'key-default', KEY_B: 'key-bbbb' });
    expect(config.baseUrl).toBe('https://api.cloud.llamaindex.ai');
    expect(config.pageSize).toBe(100);
    expect(config.concurrency).toBe(4);
    expect(config.requestTimeoutMs).toBe(30_000);
    expect(config.projects.map((p) => [p.id, p.apiKey, p.apiKeyEnv])).toEqual([['a', 'key-default', 'LLAMA_CLOUD_API_KEY'], ['b', 'key-bbbb', 'KEY_B']]);
    expect(config.secrets).toEqual(expect.arrayContaining(['key-default', 'key-bbbb']));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('lets env override the file and flags override both', () => {
    const path = file({ baseUrl: 'https://file.example', projects: [{ id: 'a' }], pageSize: 50 });
    const config = loadConfig({ configFile: path, projects: ['x', 'y'], pageSize: 10, organizationId: 'org' },
      { LLAMA_CLOUD_BASE_URL: 'https://env.example/', DATABASE_URL: 'postgres://u:pw-secret@h/db' });
    expect(config.baseUrl).toBe('https://env.example');
    expect(config.projects.map((p) => [p.id, p.organizationId])).toEqual([['x', 'org'], ['y', 'org']]);
    expect(config.pageSize).toBe(10);
    expect(config.secrets).toContain('pw-secret');
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

  it('cannot run without projects or without any key', () => {
    expect(() => assertRunnable(loadConfig({}, { LLAMA_CLOUD_API_KEY: 'k-1234' }))).toThrow(/no projects/);
    expect(() => assertRunnable(loadConfig({ projects: ['a'] }, {}))).toThrow(/set LLAMA_CLOUD_API_KEY/);
  });
});

it('redactUrl hides the password', () => {
  expect(redactUrl('postgres://user:hunter2@db:5432/x')).toBe('postgres://user:***@db:5432/x');
});
