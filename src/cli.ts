// The command line: argv → a command and its options, and the usage text. The commands themselves are
// in commands/, one file each; this file only parses and dispatches.
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ConfigOverrides } from './config.ts';
import { EXIT, line, printFailure, UsageError, type Io } from './commands/shared.ts';
import { errorCode, errorMessage } from './errors.ts';
import { closest } from './suggest.ts';
import {
  COMMAND_NAMES,
  COMMAND_SPECS,
  commandUsage,
  FLAG_SPECS,
  generalUsage,
  isCommand,
  optionsOf,
  type CommandName,
  type FlagName,
} from './usage.ts';

/** The values of every flag a command may take (each command parses only its own). */
type Flags = Partial<{
  [F in FlagName]: (typeof FLAG_SPECS)[F]['option'] extends { type: 'boolean' }
    ? boolean
    : (typeof FLAG_SPECS)[F]['option'] extends { multiple: true }
      ? string[]
      : string;
}>;

function integerFlag(flags: Flags, name: 'page-size' | 'concurrency' | 'slices' | 'metrics-port'): number | undefined {
  const value = flags[name];
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`--${name} takes a whole number${name === 'slices' ? ' or auto' : ''}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function overridesFrom(flags: Flags): ConfigOverrides {
  return {
    configFile: flags.config,
    projects: flags.project,
    organizationId: flags.organization,
    api: flags.api,
    pageSize: integerFlag(flags, 'page-size'),
    concurrency: integerFlag(flags, 'concurrency'),
    slices: flags.slices === 'auto' ? 'auto' : integerFlag(flags, 'slices'),
    allowMassDelete: flags['allow-mass-delete'],
    pgliteDir: flags['pglite-dir'],
    logLevel: flags['log-level'],
    logFormat: flags['log-format'],
    schedule: flags.schedule,
    timezone: flags.timezone,
    metricsPort: integerFlag(flags, 'metrics-port'),
    metricsHost: flags['metrics-host'],
  };
}

/** The package's version, from the package.json next to src/ (or dist/). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/**
 * An unknown flag's error, with the known flag it most likely meant (`--full-refresh` → `--full`), or
 * the commands that do take it (`migrate --full`).
 */
function withSuggestion(error: unknown, command: CommandName, flags: readonly string[]): unknown {
  if (errorCode(error) !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return error;
  const given = /'(-[^']*)'/.exec(errorMessage(error))?.[1];
  if (given === undefined) return error;
  const name = given.replace(/^-+/, '').split('=')[0] ?? '';
  const takers = COMMAND_NAMES.filter((c) => (COMMAND_SPECS[c].flags as readonly string[]).includes(name));
  if (takers.length > 0)
    return new UsageError(`${command} takes no --${name} (${takers.join(', ')} ${takers.length === 1 ? 'takes' : 'take'} it)`);
  const guess = closest(name, flags);
  return guess === undefined ? error : new UsageError(`Unknown option '${given}': did you mean --${guess}?`);
}

/** argv after the command, by `options`; an unknown flag's error names the flag it most likely meant. */
function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(command: CommandName, args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: false, strict: true });
  } catch (error) {
    throw withSuggestion(error, command, Object.keys(options));
  }
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-V') {
    line(io.stdout, packageVersion());
    return EXIT.ok;
  }
  if (command === undefined || command === '--help' || command === '-h') {
    line(command === undefined ? io.stderr : io.stdout, generalUsage(packageVersion()));
    return command === undefined ? EXIT.cannotRun : EXIT.ok;
  }
  try {
    if (command === 'help') return await printHelp(rest, io);
    if (!isCommand(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}${suggestCommand(command)}`);
    // Each command's module is loaded when it runs: `report` never loads the sync, `sync` never the simulator.
    if (command === 'simulator') {
      const { runSimulatorCli } = await import('./commands/simulator.ts');
      await runSimulatorCli([...rest]);
      return EXIT.ok;
    }
    const { values } = parseFlags(command, rest, optionsOf(command));
    const flags = values as Flags;
    if (flags.help) {
      line(io.stdout, commandUsage(command));
      return EXIT.ok;
    }
    switch (command) {
      case 'sync':
      case 'backfill': {
        const { runSyncCommand } = await import('./commands/sync.ts');
        return await runSyncCommand(
          command,
          overridesFrom(flags),
          { resume: flags.resume ?? false, full: flags.full ?? false, dryRun: flags['dry-run'] ?? false },
          io,
        );
      }
      case 'migrate': {
        const { runMigrate } = await import('./commands/migrate.ts');
        return await runMigrate(overridesFrom(flags), io);
      }
      case 'worker': {
        const { runWorkerCommand } = await import('./commands/worker.ts');
        return await runWorkerCommand(overridesFrom(flags), { runNow: flags['run-now'] ?? false }, io);
      }
      case 'report': {
        const { runReport } = await import('./commands/report.ts');
        return await runReport(flags, io);
      }
      case 'status': {
        const { runStatus } = await import('./commands/status.ts');
        return await runStatus(flags, io);
      }
      case 'reset': {
        const { runReset } = await import('./commands/reset.ts');
        return await runReset(flags, io);
      }
      case 'demo': {
        const { runDemo } = await import('./commands/demo.ts');
        return await runDemo(overridesFrom(flags), io);
      }
      case 'help':
        return await printHelp(rest, io);
    }
  } catch (error) {
    return await printFailure(error, io);
  }
}

/** `help` alone: the whole reference; `help <command>`: that command's usage. */
async function printHelp(args: readonly string[], io: Io): Promise<number> {
  const [topic, ...more] = args;
  if (more.length > 0) throw new UsageError(`help takes one command, got ${args.join(' ')}`);
  if (topic === undefined) {
    line(io.stdout, generalUsage(packageVersion()));
    return EXIT.ok;
  }
  if (topic === '--help' || topic === '-h') return printHelp(['help'], io);
  if (!isCommand(topic)) throw new UsageError(`unknown command ${JSON.stringify(topic)}${suggestCommand(topic)}`);
  if (topic === 'simulator') {
    const { runSimulatorCli } = await import('./commands/simulator.ts');
    await runSimulatorCli(['--help'], { write: (text) => line(io.stdout, text) });
    return EXIT.ok;
  }
  line(io.stdout, commandUsage(topic));
  return EXIT.ok;
}

function suggestCommand(command: string): string {
  const guess = closest(command, COMMAND_NAMES);
  return guess === undefined ? '' : `: did you mean ${guess}?`;
}
