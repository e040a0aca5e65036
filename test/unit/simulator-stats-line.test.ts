// `classify-sync simulator` ends with what it served, so whoever started it (the bench) can count
// the requests it refused without a control route of its own.
import { describe, expect, it } from 'vitest';
import { runSimulatorCli, STATS_PREFIX } from '../../src/commands/simulator.ts';
import { simProjectId, V1_JOBS_PATH, type SimulatorStats } from '../../src/simulator/index.ts';

describe('runSimulatorCli stats line', () => {
  it('prints the stats as JSON on stopping, with the requests refused by the rate limit', async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const done = runSimulatorCli(['--port', '0', '--projects', '1', '--jobs', '3', '--rate-limit', '0.5'], {
      write: (line) => lines.push(line),
      signal: controller.signal,
    });
    await expect.poll(() => lines.some((line) => line.includes('LLAMA_CLOUD_BASE_URL='))).toBe(true);
    const url = /LLAMA_CLOUD_BASE_URL=(\S+)/.exec(lines.join('\n'))?.[1] ?? '';
    const send = () => fetch(`${url}${V1_JOBS_PATH}?project_id=${simProjectId(1, 0)}`, { headers: { authorization: 'Bearer sim-key' } });
    const first = await send();
    await first.body?.cancel();
    const refused = await send();
    await refused.body?.cancel();
    expect(refused.status).toBe(429);
    expect(lines.some((line) => line.startsWith(STATS_PREFIX))).toBe(false);

    controller.abort();
    await done;
    expect(lines.at(-1)).toBe('Simulator stopped.');
    const statsLine = lines.at(-2) ?? '';
    expect(statsLine.startsWith(STATS_PREFIX)).toBe(true);
    const stats = JSON.parse(statsLine.slice(STATS_PREFIX.length)) as SimulatorStats;
    expect(stats).toMatchObject({ requests: 2, pages: 1, rateLimited: 1, byStatus: { 200: 1, 429: 1 } });
  });
});
