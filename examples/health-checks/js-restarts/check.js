// A health check in JavaScript (world `gantry:deploy/health-check`), built
// with componentize-js (`jco componentize`). It fails a release whose pods
// restarted more than `max-restarts` times in total (default 0): a canary
// that keeps restarting is not healthy even while it is briefly ready.
// Before any pod of the release is ready, it is progressing.
//
// Settings (JSON, optional): {"max-restarts": 2}
//
// Build: jco componentize check.js --wit ../../../wit --world-name health-check -d stdio random clocks http fetch-event -o js-restarts.wasm
// Use: { name: health-check-canary, uses: js-restarts.wasm, grants: [cluster-read] }

import { pods } from 'gantry:deploy/cluster-read@0.1.0';

function report(health, passed, message) {
  return { health, message, checks: [{ name: 'restarts', passed, message, latencyMs: undefined }] };
}

export function check(request) {
  let opts;
  try {
    opts = request.settings.trim() === '' ? {} : JSON.parse(request.settings);
  } catch (e) {
    return report('unhealthy', false, `settings are not JSON: ${e}`);
  }
  const max = Number.isInteger(opts['max-restarts']) ? opts['max-restarts'] : 0;
  let found;
  try {
    found = pods(request.target.name, undefined, `app.kubernetes.io/instance=${request.release}`);
  } catch (e) {
    return report('unhealthy', false, `cannot list the pods of ${request.release}: ${e.payload ? e.payload.message : e}`);
  }
  const restarts = found.reduce((sum, p) => sum + p.containers.reduce((n, c) => n + c.restarts, 0), 0);
  if (restarts > max) {
    const worst = found.map((p) => `${p.name}: ${p.containers.reduce((n, c) => n + c.restarts, 0)}`).join(', ');
    return report('unhealthy', false, `${restarts} restarts in ${request.release}, over max-restarts ${max} (${worst})`);
  }
  if (!found.some((p) => p.ready)) {
    return report('progressing', false, `no ready pod of ${request.release} yet (${restarts} restarts)`);
  }
  return report('healthy', true, `${restarts} restarts in ${found.length} pod(s) of ${request.release}, at most ${max}`);
}
