#!/usr/bin/env python3
"""Regenerates host/sim/src/schema/types.rs: the field table of every built-in
kind the simulator serves, read from the Go struct tags of k8s.io/api and
k8s.io/apimachinery (field name, JSON name, omitempty, pointer, protobuf field
number). Those tags are the wire protocol; descriptions are not taken from
them (see schema/docs.rs). Usage:

    python3 host/sim/tools/gen_schema.py API_CHECKOUT APIMACHINERY_CHECKOUT > host/sim/src/schema/types.rs

with both checkouts at tag v0.32.9 (Kubernetes 1.32, the version the server reports).
"""
import re
import sys

API, MACHINERY = sys.argv[1], sys.argv[2]
PACKAGES = {  # Go import path -> (types.go, OpenAPI name prefix)
    "k8s.io/api/core/v1": (f"{API}/core/v1/types.go", "io.k8s.api.core.v1"),
    "k8s.io/api/apps/v1": (f"{API}/apps/v1/types.go", "io.k8s.api.apps.v1"),
    "k8s.io/api/batch/v1": (f"{API}/batch/v1/types.go", "io.k8s.api.batch.v1"),
    "k8s.io/api/networking/v1": (f"{API}/networking/v1/types.go", "io.k8s.api.networking.v1"),
    "k8s.io/api/policy/v1": (f"{API}/policy/v1/types.go", "io.k8s.api.policy.v1"),
    "k8s.io/api/autoscaling/v1": (f"{API}/autoscaling/v1/types.go", "io.k8s.api.autoscaling.v1"),
    "k8s.io/api/autoscaling/v2": (f"{API}/autoscaling/v2/types.go", "io.k8s.api.autoscaling.v2"),
    "k8s.io/api/coordination/v1": (f"{API}/coordination/v1/types.go", "io.k8s.api.coordination.v1"),
    "k8s.io/apimachinery/pkg/apis/meta/v1": (f"{MACHINERY}/pkg/apis/meta/v1/types.go", "io.k8s.apimachinery.pkg.apis.meta.v1"),
}
# Types whose JSON is not their Go struct: the Rust `Ty` they map to.
SPECIAL = {
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "Time"): "Time",
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "MicroTime"): "MicroTime",
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "Duration"): "Duration",
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "FieldsV1"): "Raw",
    ("k8s.io/apimachinery/pkg/api/resource", "Quantity"): "Quantity",
    ("k8s.io/apimachinery/pkg/util/intstr", "IntOrString"): "IntOrString",
    ("k8s.io/apimachinery/pkg/runtime", "RawExtension"): "Raw",
    ("k8s.io/apimachinery/pkg/types", "UID"): "Str",
}
ROOTS = [
    ("k8s.io/api/core/v1", k) for k in ["Namespace", "Pod", "Service", "Endpoints", "ConfigMap", "Secret", "ServiceAccount", "Event"]
] + [("k8s.io/api/apps/v1", k) for k in ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"]] + [
    ("k8s.io/api/batch/v1", "Job"),
    ("k8s.io/api/networking/v1", "Ingress"),
    ("k8s.io/api/coordination/v1", "Lease"),
    ("k8s.io/api/policy/v1", "PodDisruptionBudget"),
    ("k8s.io/api/autoscaling/v2", "HorizontalPodAutoscaler"),
    ("k8s.io/api/autoscaling/v1", "HorizontalPodAutoscaler"),
    ("k8s.io/api/autoscaling/v1", "Scale"),
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "DeleteOptions"),
]

FIELD = re.compile(r'^\s+(\w+)\s+([^\s`]+)\s+`(.*)`')
EMBED = re.compile(r'^\s+([\w.]+)\s+`(.*)`')


def parse(path):
    text = open(path).read()
    imports = {}
    for alias, ipath in re.findall(r'^\s*(\w+)?\s*"(k8s\.io/[^"]+)"', text, re.M):
        imports[alias or ipath.rsplit("/", 1)[1]] = ipath
    structs, named = {}, {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r'^type (\w+) struct \{', lines[i])
        if m:
            fields = []
            i += 1
            while not lines[i].startswith("}"):
                line = lines[i]
                if not line.strip().startswith("//"):
                    fm, em = FIELD.match(line), EMBED.match(line)
                    if fm:
                        fields.append((fm.group(1), fm.group(2), fm.group(3)))
                    elif em:
                        fields.append((em.group(1).split(".")[-1], em.group(1), em.group(2)))
                i += 1
            structs[m.group(1)] = fields
        else:
            m = re.match(r'^type (\w+) (\S+)\s*$', lines[i])
            if m and m.group(2) not in ("struct", "interface"):
                named[m.group(1)] = m.group(2)
        i += 1
    return imports, structs, named


PARSED = {pkg: parse(path) for pkg, (path, _) in PACKAGES.items()}


def tag(tags, key):
    m = re.search(key + r':"([^"]*)"', tags)
    return m.group(1) if m else None


def resolve(pkg, go):
    """(package, name) of a Go type name as written in package pkg."""
    if "." in go:
        alias, name = go.split(".", 1)
        return PARSED[pkg][0].get(alias, alias), name
    return pkg, go


def rust_name(pkg, name):
    prefix = PACKAGES[pkg][1].split(".")
    group = {"core": "", "meta": "META_"}.get(prefix[-2], prefix[-2].upper() + "_")
    if prefix[-2] in ("autoscaling",):
        group = "AUTOSCALING" + prefix[-1].upper() + "_"
    snake = re.sub(r'(?<=[a-z0-9])([A-Z])', r'_\1', name).upper()
    snake = re.sub(r'([A-Z])([A-Z][a-z])', r'\1_\2', snake)
    return group + snake


emitted, order = {}, []


def scalar_of(pkg, go):
    """The Ty of a non-struct Go type, or None if it is a struct."""
    go = go.lstrip("*")
    base = {"string": "Str", "bool": "Bool", "int32": "Int32", "int64": "Int64", "int": "Int64", "[]byte": "Bytes", "float64": "Double"}
    if go in base:
        return base[go]
    p, n = resolve(pkg, go)
    if (p, n) in SPECIAL:
        return SPECIAL[(p, n)]
    if p in PARSED and n in PARSED[p][2]:
        under = PARSED[p][2][n]
        if under.startswith("[]") or under.startswith("map["):
            return None
        return scalar_of(p, under)
    return None


def ty_of(pkg, go, key_val_tags):
    """(cardinality, Ty expression) of a Go field type."""
    ptr = go.startswith("*")
    go = go.lstrip("*")
    if go.startswith("map["):
        key, val = re.match(r'map\[(\w+)\](.*)', go).groups()
        v = scalar_of(pkg, val)
        if v is None:
            raise ValueError(f"map {go}")
        return "map", v
    if go.startswith("[]") and go != "[]byte":
        card, t = ty_of(pkg, go[2:], key_val_tags)
        return "list", t
    s = scalar_of(pkg, go)
    if s:
        return "one", s
    p, n = resolve(pkg, go)
    if p in PARSED and n in PARSED[p][2]:  # named slice/map type
        return ty_of(p, PARSED[p][2][n], key_val_tags)
    if p not in PARSED or n not in PARSED[p][1]:
        return None, None
    visit(p, n)
    return "one", f"M(&{rust_name(p, n)})"


def visit(pkg, name):
    key = (pkg, name)
    if key in emitted:
        return
    emitted[key] = None
    rows = []
    for fname, go, tags in PARSED[pkg][1][name]:
        pb = tag(tags, "protobuf")
        js = tag(tags, "json")
        if not pb or js is None or js == "-":
            continue
        parts = pb.split(",")
        num = int(parts[1])
        jname, *opts = js.split(",")
        inline = "inline" in opts
        card, ty = ty_of(pkg, go, tags)
        if ty is None:
            print(f"// skipped {name}.{fname} ({go}): type not in the table", file=sys.stderr)
            continue
        if inline:
            card = "inline"
        rows.append((jname or fname, num, card, ty, go.startswith("*"), "omitempty" in opts))
    emitted[key] = rows
    order.append(key)


for pkg, name in ROOTS:
    visit(pkg, name)

print("// Generated by host/sim/tools/gen_schema.py from the struct tags of k8s.io/api and")
print("// k8s.io/apimachinery (v0.32.9, the Kubernetes 1.32 this server reports); do not edit by hand.")
print("// One static per message: its OpenAPI name")
print("// and, per field, the JSON name, protobuf field number, type and Go shape.")
print("#![allow(clippy::all)]\n")
print("use super::{f, Card::*, Msg, Ty::*};\n")
CARD = {"one": "One", "list": "List", "map": "Map", "inline": "Inline"}
for pkg, name in order:
    rows = emitted[(pkg, name)]
    lines, line = [], ""
    for jname, num, card, ty, ptr, omit in rows:
        flags = ("P" if ptr else "") + ("O" if omit else "")
        item = f'f("{jname}", {num}, {CARD[card]}, {ty}, "{flags}"), '
        if len(line) + len(item) > 112:
            lines.append(line.rstrip())
            line = ""
        line += item
    if line:
        lines.append(line.rstrip())
    body = "".join(f"\n    {l}" for l in lines)
    print(f'pub static {rust_name(pkg, name)}: Msg = Msg {{ name: "{PACKAGES[pkg][1]}.{name}", fields: &[{body}\n] }};')
