// `--api auto`: which API version to walk a project with, decided per project and per run.
//
// The rule (also in docs/api-versions.md):
// - Ask v2 for one item of the project. A 200 means v2.
// - 401/403 (and every other failure) is not a version signal: the project fails with that error.
// - A 404 is a version signal only in part, because a 404 means either "no such route" or "no such
//   project". FastAPI answers an unknown route with exactly {"detail":"Not Found"}; anything else
//   (e.g. {"detail":"Project not found"}, a proxy's HTML page) is read as a project-level 404.
//   Either way v1 is asked next, and a 200 there means v1:
//   - route-level 404 on v2: v2 is not served here; if v1 fails too, v1's error is the project's
//     error (or, when v1 is not served either, "neither API is served at this base URL");
//   - project-level 404 on v2: v2 is served but does not know the project; some deployments may
//     still serve it through v1, so v1 gets its chance; if v1 fails too, v2's 404 is the project's
//     error ("project not found" from the current API is the more useful message).
// Detection runs every run (one request of one item), so a deployment that starts serving v2 is
// picked up on the next sync, and one that stops serving v1 is never walked with a stale choice.
import type { ApiVersion, Config, ProjectConfig } from '../config.ts';
import { projectPageFetcher, type FetchPageOptions } from './client.ts';
import { ApiError } from './http.ts';
import { V1_PATH } from './v1.ts';
import { V2_PATH } from './v2.ts';

/** FastAPI's (Starlette's) body for a path no route matches. */
const ROUTE_NOT_FOUND_DETAIL = 'Not Found';

export class ApiVersionError extends Error {
  override name = 'ApiVersionError';
}

export interface Detection {
  version: ApiVersion;
  /** One line for the log: how the version was chosen. */
  reason: string;
}

export function isRouteNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404 && error.detail === ROUTE_NOT_FOUND_DETAIL;
}

export async function detectApiVersion(
  config: Pick<Config, 'baseUrl' | 'pageSize' | 'requestTimeoutMs' | 'maxResponseBytes' | 'retry'>,
  project: ProjectConfig & { apiKey: string },
  options: Pick<FetchPageOptions, 'signal' | 'onRetry' | 'onResponse' | 'budget'> = {},
): Promise<Detection> {
  const probe = (version: ApiVersion) => projectPageFetcher(config, project, version, { ...options, pageSize: 1 })(undefined);
  try {
    await probe('v2');
    return { version: 'v2', reason: `${V2_PATH} answered` };
  } catch (v2Error) {
    if (!(v2Error instanceof ApiError) || v2Error.status !== 404) throw v2Error;
    const routeLevel = isRouteNotFound(v2Error);
    try {
      await probe('v1');
    } catch (v1Error) {
      if (!routeLevel) throw v2Error;
      if (isRouteNotFound(v1Error)) {
        throw new ApiVersionError(
          `neither ${V2_PATH} nor ${V1_PATH} is served at ${config.baseUrl} (both answer 404 Not Found): check LLAMA_CLOUD_BASE_URL`,
        );
      }
      throw v1Error;
    }
    return {
      version: 'v1',
      reason: routeLevel
        ? `${V2_PATH} is not served here (404 Not Found); ${V1_PATH} answered`
        : `${V2_PATH} does not know the project (404${v2Error.detail ? ` ${v2Error.detail}` : ''}); ${V1_PATH} does`,
    };
  }
}
