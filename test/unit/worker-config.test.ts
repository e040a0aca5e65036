// The worker's settings as a user gives them: flags, environment, config file; and the schedule's interval.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.ts';
import { loadConfig } from '../../src/config.ts';
import { scheduleIntervalMs } from '../../src/worker/schedule.ts';

async function run(argv: string[], env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const code = await main(argv, { env, stdout, stderr });
  return { code, out, err };
}

describe('worker settings', () => {
  it('defaults to 02:00 UTC nightly, no metrics server, 36 h staleness and a 30 s shutdown', () => {
    const config = loadConfig({}, {});
    expect(config).toMatchObject({ schedule: '0 2 * * *', timezone: 'UTC', staleAfterHours: 36, shutdownTimeoutMs: 30_000 });
    expect(config.metricsPort).toBeUndefined();
    expect(config.metricsHost).toBe('127.0.0.1');
  });

  it('takes the environment over the defaults and flags over the environment', () => {
    const env = {
      CLASSIFY_SYNC_SCHEDULE: '0 3 * * *',
      CLASSIFY_SYNC_TIMEZONE: 'Europe/Berlin',
      CLASSIFY_SYNC_METRICS_PORT: '9464',
      CLASSIFY_SYNC_PROJECTS: 'p1, p2',
    };
    expect(loadConfig({}, env)).toMatchObject({ schedule: '0 3 * * *', timezone: 'Europe/Berlin', metricsPort: 9464 });
    expect(loadConfig({}, env).projects.map((p) => p.id)).toEqual(['p1', 'p2']);
    const flagged = loadConfig({ schedule: '*/5 * * * * *', timezone: 'UTC', metricsPort: 0, projects: ['p3'] }, env);
    expect(flagged).toMatchObject({ schedule: '*/5 * * * * *', timezone: 'UTC', metricsPort: 0 });
    expect(flagged.projects.map((p) => p.id)).toEqual(['p3']);
  });

  it('names the setting and the fix in one line when a value is wrong', async () => {
    const key = { LLAMA_CLOUD_API_KEY: 'k' };
    expect(await run(['worker', '--project', 'p', '--timezone', 'Mars/Olympus'], key)).toEqual({
      code: 1,
      out: '',
      err: 'classify-sync: --timezone: "Mars/Olympus" is not a time zone: use an IANA name, e.g. UTC or Europe/Berlin (see classify-sync --help)\n',
    });
    expect(await run(['worker', '--project', 'p'], { ...key, CLASSIFY_SYNC_SCHEDULE: 'nightly' })).toEqual({
      code: 1,
      out: '',
      err: 'classify-sync: environment CLASSIFY_SYNC_SCHEDULE: "nightly" is not a cron expression (expected 5 or 6 fields but got 1): use e.g. "0 2 * * *"\n',
    });
    expect(await run(['worker', '--project', 'p', '--metrics-port', 'http'], key)).toEqual({
      code: 1,
      out: '',
      err: 'classify-sync: --metrics-port takes a whole number, got "http" (see classify-sync --help)\n',
    });
    expect(await run(['worker', '--project', 'p', '--metrics-port', '70000'], key)).toEqual({
      code: 1,
      out: '',
      err: 'classify-sync: --metrics-port: Too big: expected number to be <=65535 (see classify-sync --help)\n',
    });
  });

  it('listens on 127.0.0.1 unless --metrics-host, CLASSIFY_SYNC_METRICS_HOST or metricsHost says otherwise', () => {
    expect(loadConfig({}, {}).metricsHost).toBe('127.0.0.1');
    expect(loadConfig({}, { CLASSIFY_SYNC_METRICS_HOST: '0.0.0.0' }).metricsHost).toBe('0.0.0.0');
    expect(loadConfig({ metricsHost: '::' }, { CLASSIFY_SYNC_METRICS_HOST: '0.0.0.0' }).metricsHost).toBe('::');
    for (const host of ['localhost', '10.1.2.3', '::1', 'worker.internal'])
      expect(loadConfig({ metricsHost: host }, {}).metricsHost).toBe(host);
  });

  it('refuses a metrics host that is neither an IP address nor a host name, in one line', async () => {
    const key = { LLAMA_CLOUD_API_KEY: 'k' };
    expect(await run(['worker', '--project', 'p', '--metrics-host', 'http://0.0.0.0'], key)).toEqual({
      code: 1,
      out: '',
      err: 'classify-sync: --metrics-host: "http://0.0.0.0" is not an IP address or host name: use e.g. 127.0.0.1, 0.0.0.0 or :: (see classify-sync --help)\n',
    });
    expect(await run(['worker', '--project', 'p'], { ...key, CLASSIFY_SYNC_METRICS_HOST: 'all interfaces' })).toEqual({
      code: 1,
      out: '',
      err: 'classify-sync: environment CLASSIFY_SYNC_METRICS_HOST: "all interfaces" is not an IP address or host name: use e.g. 127.0.0.1, 0.0.0.0 or ::\n',
    });
  });

  it('knows when a package manager started it (npx, npm run), from the npm_config_user_agent it sets', () => {
    expect(loadConfig({}, { npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false' }).launcher).toBe('npm/11.19.1');
    expect(loadConfig({}, {}).launcher).toBeUndefined();
  });

  it('lists the worker and its flags in --help', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    for (const text of [
      'worker ',
      '--schedule',
      '--timezone',
      '--run-now',
      '--metrics-port',
      '--metrics-host',
      'CLASSIFY_SYNC_METRICS_HOST',
      'docs/worker.md',
    ])
      expect(out).toContain(text);
  });

  it('measures one schedule interval as the gap between its next two slots', () => {
    expect(scheduleIntervalMs('0 2 * * *', 'UTC')).toBe(86_400_000);
    expect(scheduleIntervalMs('*/2 * * * * *', 'UTC')).toBe(2000);
    expect(scheduleIntervalMs('30 4 * * 1', 'America/New_York')).toBe(7 * 86_400_000);
  });
});
