// Items that test a sync's defences against data Postgres refuses (`hostile: true` on a project,
// `--hostile` on the command line). Each is served in both API shapes, as a raw item (not part of
// jobs()/jobsV2(): what a sync must end with is the regular data set plus the items marked `stored`).

import { seedProjectJobs, type V1Job } from './data.ts';
import { toV2Job, type V2Job } from './data-v2.ts';
import { randomHex, seededRandom } from './prng.ts';

export interface HostileItem {
  /** What the item tests, e.g. "created_at in year 0000". */
  readonly name: string;
  /** What a sync must do with it: store it whole, or quarantine it in sync_rejects. */
  readonly expect: 'stored' | 'quarantined';
  readonly v1: V1Job;
  readonly v2: V2Job;
}

/** Characters of the long error message: enough to have made a quadratic pattern take seconds. */
export const HOSTILE_ERROR_CHARS = 200_000;

interface Variant {
  name: string;
  expect: HostileItem['expect'];
  id: string;
  /** Applied to both shapes (the fields v1 and v2 share). */
  both?: Partial<V1Job & V2Job>;
  v1?: Partial<V1Job>;
  v2?: Partial<V2Job>;
}

/**
 * The hostile items of a project: the same ones for the same (projectId, seed, now). Their ids start
 * with the project id's first group, so two hostile projects never share one.
 */
export function hostileItems(projectId: string, opts: { seed: number; now: number }): HostileItem[] {
  const random = seededRandom(opts.seed, `hostile:${projectId}`);
  const [template] = seedProjectJobs(`hostile:${projectId}`, 1, { seed: opts.seed, now: opts.now, oddities: false });
  if (!template) throw new Error('no template job');
  const prefix = `${projectId.split('-')[0] ?? projectId}-hostile`;
  const longType = randomHex(random, 3000);
  const message = `Parse failed for document ${randomHex(random, 32)}: ${'x'.repeat(HOSTILE_ERROR_CHARS)}`;
  const variants: Variant[] = [
    {
      name: 'a rule type of 3 000 random characters',
      expect: 'stored',
      id: `${prefix}-long-rule-type`,
      v1: { rules: [{ type: longType, description: 'a rule type no index entry could hold whole' }] },
    },
    {
      name: `an error message of ${HOSTILE_ERROR_CHARS} characters`,
      expect: 'stored',
      id: `${prefix}-long-error`,
      v1: { status: 'ERROR', error_message: message },
      v2: { status: 'FAILED', error_message: message, result: null },
    },
    { name: 'a 12 000-character id', expect: 'quarantined', id: `${prefix}-${randomHex(random, 12_000)}` },
    { name: 'created_at in year 0000', expect: 'quarantined', id: `${prefix}-year-zero`, both: { created_at: '0000-01-01T00:00:00Z' } },
    {
      name: 'updated_at with offset +16:00',
      expect: 'quarantined',
      id: `${prefix}-offset-16`,
      both: { updated_at: '2026-01-01T00:00:00+16:00' },
    },
    {
      name: 'updated_at with offset +99:99',
      expect: 'quarantined',
      id: `${prefix}-offset-99`,
      both: { updated_at: '2026-01-01T00:00:00+99:99' },
    },
  ];
  return variants.map((variant) => {
    const v1: V1Job = { ...structuredClone(template), id: variant.id, project_id: projectId, ...variant.both, ...variant.v1 };
    const v2: V2Job = { ...toV2Job(v1, opts.seed), ...variant.both, ...variant.v2 };
    return { name: variant.name, expect: variant.expect, v1, v2 };
  });
}
