// The projects syncs have run for and their configured names (sync_projects): written at the start of
// every run, read by `report` and `status` so projects show by name even without the config file.
import { sql } from 'drizzle-orm';
import { arrayLiteral, queryRows, type Db } from './connect.ts';
import { syncProjects } from './schema.ts';

export interface ProjectName {
  id: string;
  name: string | undefined;
}

/** Records the run's projects; a name the config does not give leaves the stored one in place. */
export async function rememberProjects(db: Db, projects: readonly ProjectName[]): Promise<void> {
  if (projects.length === 0) return;
  await db
    .insert(syncProjects)
    .values(projects.map((p) => ({ projectId: p.id, name: p.name ?? null })))
    .onConflictDoUpdate({
      target: syncProjects.projectId,
      set: { name: sql`excluded.name`, updatedAt: sql`now()` },
      setWhere: sql`excluded.name IS NOT NULL AND excluded.name IS DISTINCT FROM ${syncProjects.name}`,
    });
}

/** The stored names, by project id (projects without one are left out). */
export async function storedProjectNames(db: Db): Promise<Map<string, string>> {
  const rows = await queryRows<{ project_id: string; name: string }>(
    db,
    sql`SELECT project_id, name FROM sync_projects WHERE name IS NOT NULL`,
  );
  return new Map(rows.map((r) => [r.project_id, r.name]));
}

/** The ids among `ids` the database knows nothing of: no stored job, no run, no walk state, no stored name. */
export async function unknownProjects(db: Db, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const unique = [...new Set(ids)];
  const rows = await queryRows<{ id: string }>(
    db,
    sql`SELECT id FROM unnest(${arrayLiteral(unique)}::text[]) AS ids(id)
      WHERE NOT EXISTS (SELECT FROM classify_jobs WHERE project_id = ids.id)
        AND NOT EXISTS (SELECT FROM sync_run_projects WHERE project_id = ids.id)
        AND NOT EXISTS (SELECT FROM sync_state WHERE project_id = ids.id)
        AND NOT EXISTS (SELECT FROM sync_projects WHERE project_id = ids.id)`,
  );
  const missing = new Set(rows.map((r) => r.id));
  return unique.filter((id) => missing.has(id));
}
