// A scan policy in JavaScript (world `gantry:deploy/scan-policy`), built
// with componentize-js (`jco componentize`). It denies an image with more
// than `max-high` findings of severity high or critical (default 0), listing
// each finding over the limit; ids in `ignore` are not counted.
//
// Settings (JSON, optional): {"max-high": 3, "ignore": ["CVE-2024-1234"]}
//
// Build: jco componentize policy.js --wit ../../../wit --world-name scan-policy --disable all -o js-high-findings.wasm

import { emit } from 'gantry:deploy/log@0.1.0';

export function evaluate(report, settings) {
  let opts;
  try {
    opts = settings.trim() === '' ? {} : JSON.parse(settings);
  } catch (e) {
    return { allowed: false, violations: [{ rule: 'policy-settings', severity: 'critical', subject: 'with', message: `settings are not JSON: ${e}` }] };
  }
  const maxHigh = Number.isInteger(opts['max-high']) ? opts['max-high'] : 0;
  const ignore = new Set(opts.ignore || []);
  const high = report.vulnerabilities.filter(
    (v) => (v.severity === 'high' || v.severity === 'critical') && !ignore.has(v.id) && !v.aliases.some((a) => ignore.has(a)),
  );
  if (high.length <= maxHigh) {
    return { allowed: true, violations: [] };
  }
  emit('info', `js-high-findings: ${high.length} high or critical findings, ${maxHigh} allowed`, []);
  const violations = high.map((v) => ({
    rule: 'max-high',
    severity: v.severity,
    subject: v.id,
    message: `${v.id} (${v.severity}) in ${v.packageName} ${v.installedVersion}: ${high.length} high or critical findings, at most ${maxHigh} allowed`,
  }));
  return { allowed: false, violations };
}
