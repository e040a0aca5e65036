// `classify-sync migrate`: applies pending migrations (every command does so too, before its work).
import { loadConfig, type ConfigOverrides } from '../config.ts';
import { openDatabase } from '../db/connect.ts';
import { createLogger } from '../log.ts';
import { EXIT, line, type Io } from './shared.ts';

export async function runMigrate(overrides: ConfigOverrides, io: Io): Promise<number> {
  const config = loadConfig(overrides, io.env);
  const log = createLogger({ level: config.logLevel, secrets: config.secrets });
  const database = await openDatabase(config, log);
  await database.close();
  line(io.stderr, `classify-sync: migrations applied to ${database.description}`);
  return EXIT.ok;
}
