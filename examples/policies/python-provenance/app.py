"""A scan policy in Python (world `gantry:deploy/scan-policy`), built with
componentize-py. It denies an image that runs as root (no USER, `0` or
`root`) or that lacks the `org.opencontainers.image.source` label, so every
deployed image says where its source lives.

Settings (JSON, optional): `{"label": "other.label"}` requires that label
instead; `{"allow-root": true}` turns the root check off.

Build: componentize-py -d ../../../wit -w scan-policy componentize app -o python-provenance.wasm
"""

import json

import wit_world
from wit_world.imports import log, scan_types

SOURCE_LABEL = "org.opencontainers.image.source"


class WitWorld(wit_world.WitWorld):
    def evaluate(self, report: scan_types.ScanReport, settings: str) -> scan_types.Decision:
        try:
            opts = json.loads(settings) if settings.strip() else {}
        except ValueError as e:
            return deny([violation("policy-settings", "with", f"settings are not JSON: {e}")])
        label = opts.get("label", SOURCE_LABEL)
        violations = []
        user = report.image.user.split(":")[0].strip()
        if not opts.get("allow-root", False) and user in ("", "0", "root"):
            shown = "no USER" if user == "" else f"USER {report.image.user}"
            violations.append(violation("no-root", "user", f"the image runs as root ({shown}); add a non-root USER"))
        if not any(p.key == label and p.value.strip() for p in report.image.labels):
            violations.append(violation("source-label", label, f"the image has no `{label}` label; add `LABEL {label}=<repository URL>`"))
        if violations:
            log.emit(log.Level.INFO, f"python-provenance: {len(violations)} violation(s)", [])
        return scan_types.Decision(allowed=not violations, violations=violations)


def violation(rule: str, subject: str, message: str) -> scan_types.Violation:
    return scan_types.Violation(rule=rule, severity=scan_types.Severity.HIGH, subject=subject, message=message)


def deny(violations):
    return scan_types.Decision(allowed=False, violations=violations)
