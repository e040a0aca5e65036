// schema.ts and the committed migrations must agree: generating from the schema yields nothing new.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('the committed drizzle/ migrations match src/db/schema.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-drift-'));
  const out = join(dir, 'drizzle');
  cpSync(join(root, 'drizzle'), out, { recursive: true });
  const config = join(dir, 'drizzle.config.json');
  writeFileSync(config, JSON.stringify({ dialect: 'postgresql', schema: join(root, 'src/db/schema.ts'), out: './drizzle' }));
  const before = readdirSync(out).sort();
  const output = execFileSync(join(root, 'node_modules/.bin/drizzle-kit'), ['generate', '--config', config], {
    cwd: dir,
    encoding: 'utf8',
  });
  const added = readdirSync(out).filter((f) => !before.includes(f));
  expect(added, `schema.ts changed without a migration: run npm run db:generate\n${output}`).toEqual([]);
  expect(output).toMatch(/No schema changes/);
}, 60_000);
