"""The oracle of the conformance test: real Helm (its Go library through
helm-python-sdk) renders a chart as `helm template` does, offline.

Reads one JSON request on stdin:

    {"chart": "path/to/chart-or.tgz",
     "values": {...},                  # optional, already merged user values
     "values_files": ["a.yaml", ...],  # optional, read by Helm's own -f reader, merged in order after "values"
     "set_json": [...], "set": [...], "set_string": [...],   # optional, in Helm's order, after the files
     "release_name": "r", "namespace": "default", "revision": 1,
     "is_install": true, "is_upgrade": false,
     "kube_version": "v1.29.3", "api_versions": ["foo/v1"], "strict": false}

and prints one JSON answer on stdout:

    {"ok": true, "manifests": {"chart/templates/x.yaml": "...", ...}}
    {"ok": false, "kind": "HelmRenderError", "error": "Helm's message"}

Helm's render here is load, dependencies (condition, tags, alias,
import-values), coalescing, values.schema.json validation and engine.Render:
the map of template path to rendered text, NOTES.txt included, crds/ not.
Several requests may be given as a JSON list; the answer is then a list.
The SDK parses a --set expression into a fresh map (Helm's CLI parses it
into the values so far), so each is merged over the others: the same
unless an expression indexes into a list an earlier layer made.
It never contacts a cluster (`lookup` answers an empty map), never the network.
"""

import json
import sys

import helm_python as helm
from helm_python import _native


def merge(dst, src):
    """Helm's -f merging (mergeMaps): maps merge key by key, anything else replaces."""
    out = dict(dst)
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def yaml_documents(text):
    """The documents of a YAML stream as k8s' YAMLReader cuts them: at lines
    starting with `---` (only spaces or a comment may follow), empty ones
    skipped."""
    docs, cur = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("---"):
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                raise helm.HelmValuesError("error reading yaml document: invalid Yaml document separator: " + rest)
            if cur:
                docs.append("".join(cur))
                cur = []
            continue
        cur.append(line)
    if cur:
        docs.append("".join(cur))
    return docs


def load_values(text):
    """Helm's loader.LoadValues (what -f uses): every document, merged in order."""
    values = {}
    for doc in yaml_documents(text):
        values = merge(values, helm.values_from_yaml(doc))
    return values


def render(req):
    values = dict(req.get("values") or {})
    try:
        for path in req.get("values_files") or []:
            with open(path, encoding="utf-8") as f:
                values = merge(values, load_values(f.read()))
        for key, parse in (("set_json", helm.parse_set_json), ("set", helm.parse_set_string), ("set_string", helm.parse_set_string_values)):
            for expr in req.get(key) or []:
                values = merge(values, parse(expr))
        opts = {"name": req.get("release_name") or "release-name"}
        for key in ("namespace", "revision", "is_install", "is_upgrade", "kube_version", "api_versions", "strict"):
            if req.get(key) is not None:
                opts[key] = req[key]
        with helm.Chart.load(req["chart"]) as chart:
            # Chart.render offers no kube_version/api_versions/strict; the
            # library's helm_render takes them in its options JSON.
            out = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(opts))
        return {"ok": True, "manifests": json.loads(out)}
    except helm.HelmError as e:
        return {"ok": False, "kind": type(e).__name__, "error": str(e)}


def main():
    req = json.load(sys.stdin)
    answer = [render(r) for r in req] if isinstance(req, list) else render(req)
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
