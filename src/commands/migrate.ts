// `classify-sync migrate`: applies pending migrations (every command does so too, before its work) and
// lists the ones it applied, or says the schema is current.
import { loadConfig, type ConfigOverrides } from '../config.ts';
import { openDatabase } from '../db/connect.ts';
import { createLogger } from '../log.ts';
import { EXIT, line, type Io } from './shared.ts';

export async function runMigrate(overrides: ConfigOverrides, io: Io): Promise<number> {
  const config = loadConfig(overrides, io.env);
  const log = createLogger({ level: config.logLevel, secrets: config.secrets, format: config.logFormat });
  const database = await openDatabase(config, log);
  await database.close();
  const { applied, latest } = database.migrations;
  line(
    io.stderr,
    applied.length > 0
      ? `classify-sync: applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to ${database.description}: ${applied.join(', ')}`
      : `classify-sync: ${database.description} is current (${latest ?? 'no migrations'}): no migration to apply`,
  );
  return EXIT.ok;
}
