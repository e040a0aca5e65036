#!/usr/bin/env bash
# npm run test:container: the image and the Compose stack, end to end, with whichever container engine
# works here (docker with `docker compose` or docker-compose, else podman with podman-compose):
#   1. builds the image (classify-sync:latest, as `docker compose build` would tag it);
#   2. runs `classify-sync demo` in it, then the report command the demo suggests (no npx in the image);
#   3. brings up docker-compose.yml + docker-compose.sim.yml (Postgres, the worker, the bundled simulator
#      as the API) and waits for the worker's /healthz to answer 200;
#   4. tears everything down (containers, network, the test's volume), also when a step failed.
# Settings (environment):
#   CONTAINER_ENGINE=docker|podman   use this engine instead of the first that works
#   CONTAINER_BUILD_ARGS="…"         extra arguments of the image build, e.g. "--pull=never" where base
#                                    images cannot be pulled and local ones stand in (see README)
#   CONTAINER_TEST_TIMEOUT=<s>       how long to wait for /healthz 200 (default 240)
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=classify-sync:latest
PROJECT=classify-sync-test
TIMEOUT=${CONTAINER_TEST_TIMEOUT:-240}
say() { printf '[test:container] %s\n' "$*"; }
# The build's and compose's own chatter goes here, and is shown when a step fails.
log=$(mktemp)
fail() {
  if [[ -s $log ]]; then
    printf '[test:container] the last lines of the build and compose output:\n' >&2
    tail -n 60 "$log" | sed 's/^/    /' >&2
  fi
  printf '[test:container] FAILED: %s\n' "$*" >&2
  exit 1
}

# ---- which engine works (installed is not enough: docker's CLI without a daemon fails `docker info`) ----
engine='' compose=()
why=()
try_docker() {
  if ! command -v docker >/dev/null; then why+=('docker: not installed'); return 1; fi
  if ! docker info >/dev/null 2>&1; then why+=('docker: installed, but `docker info` fails (is the daemon running?)'); return 1; fi
  if docker compose version >/dev/null 2>&1; then compose=(docker compose)
  elif command -v docker-compose >/dev/null && docker-compose version >/dev/null 2>&1; then compose=(docker-compose)
  else why+=('docker: works, but neither `docker compose` nor docker-compose does'); return 1; fi
  engine=docker
}
try_podman() {
  if ! command -v podman >/dev/null; then why+=('podman: not installed'); return 1; fi
  if ! podman info >/dev/null 2>&1; then why+=('podman: installed, but `podman info` fails'); return 1; fi
  if ! command -v podman-compose >/dev/null; then why+=('podman: works, but podman-compose is not installed'); return 1; fi
  engine=podman compose=(podman-compose)
}
case ${CONTAINER_ENGINE:-} in
  docker) try_docker || true ;;
  podman) try_podman || true ;;
  '') try_docker || try_podman || true ;;
  *) fail "CONTAINER_ENGINE must be docker or podman, not ${CONTAINER_ENGINE}" ;;
esac
if [[ -z $engine ]]; then
  printf '[test:container] no working container engine, so nothing was tested:\n' >&2
  printf '  - %s\n' "${why[@]}" >&2
  printf '  Start the Docker daemon, or install podman and podman-compose, then run it again.\n' >&2
  exit 1
fi
say "engine: $engine ($("$engine" --version | head -1)); compose: ${compose[*]}"

# ---- teardown, whatever happens ----
demo=classify-sync-test-demo-$$
made_env=false
compose_cmd=("${compose[@]}" -p "$PROJECT" -f docker-compose.yml -f docker-compose.sim.yml)
cleanup() {
  local code=$?
  set +e
  say "tearing down"
  "$engine" rm -f "$demo" >/dev/null 2>&1
  "${compose_cmd[@]}" down -v >/dev/null 2>&1
  # What an interrupted `down` may leave behind (podman-compose 1.0 stops at the first error).
  for c in $("$engine" ps -aq --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null); do "$engine" rm -f "$c" >/dev/null 2>&1; done
  "$engine" volume rm -f "${PROJECT}_pgdata" >/dev/null 2>&1
  $made_env && rm -f .env
  rm -f "$log"
  if ((code == 0)); then say "PASSED"; else say "FAILED (exit $code)"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the image ----
build_args=()
[[ $engine == podman ]] && build_args+=(--format docker) # buildah's OCI format drops HEALTHCHECK
# shellcheck disable=SC2206 # word splitting intended: a list of arguments
build_args+=(${CONTAINER_BUILD_ARGS:-})
say "building $IMAGE: $engine build ${build_args[*]} -t $IMAGE ."
"$engine" build "${build_args[@]}" -t "$IMAGE" . >>"$log" 2>&1 || fail "the image does not build"
say "node in the image: $("$engine" run --rm "$IMAGE" node --version)"

# ---- 2. the demo, and the command it suggests ----
say "running the demo in the image: classify-sync demo"
"$engine" run -d --name "$demo" "$IMAGE" sleep infinity >/dev/null
out=$("$engine" exec "$demo" classify-sync demo) || { printf '%s\n' "$out"; fail "demo exited non-zero"; }
printf '%s\n' "$out"
hint=$(printf '%s\n' "$out" | sed -n 's/^The whole report: \(.*\) (add .*/\1/p')
[[ -n $hint ]] || fail "the demo printed no 'The whole report: …' command"
[[ $hint != npx* ]] || fail "the demo suggests npx, which the image does not have: $hint"
say "running the command the demo suggests: $hint"
# shellcheck disable=SC2086 # the suggested command line, split as a shell would
"$engine" exec "$demo" $hint >/dev/null || fail "the suggested command exited non-zero: $hint"
say "it exits 0"

# ---- 3. the Compose stack with the simulator as the API ----
if [[ ! -e .env ]]; then
  # docker-compose.yml reads .env (config/worker.env.example); the override sets all the test needs.
  printf '# made by npm run test:container; removed when it ends\n' >.env
  made_env=true
else
  say "using the existing .env (the override's settings win over it)"
fi
export POSTGRES_PASSWORD=container-test
[[ $engine == podman ]] && export BUILDAH_FORMAT=docker
say "bringing up: ${compose_cmd[*]} up -d"
"${compose_cmd[@]}" up -d >>"$log" 2>&1 || fail "compose up failed"

say "waiting up to ${TIMEOUT}s for the worker's /healthz to answer 200"
deadline=$((SECONDS + TIMEOUT))
status='' body=''
while ((SECONDS < deadline)); do
  reply=$(node -e "fetch('http://127.0.0.1:9464/healthz').then(async (r) => console.log(r.status, await r.text()), () => console.log('unreachable'))")
  status=${reply%% *} body=${reply#* }
  [[ $status == 200 ]] && break
  sleep 2
done
if [[ $status != 200 ]]; then
  for c in $("$engine" ps -aq --filter "label=com.docker.compose.project=$PROJECT"); do
    say "logs of $("$engine" inspect --format '{{.Name}}' "$c"):"
    "$engine" logs --tail 40 "$c" 2>&1 | sed 's/^/    /'
  done
  "${compose_cmd[@]}" ps >>"$log" 2>&1
  fail "/healthz did not answer 200 within ${TIMEOUT}s (last: $status $body)"
fi
say "/healthz: 200 $body"
