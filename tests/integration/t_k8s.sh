#!/usr/bin/env bash
# The Kubernetes manifests (deploy/k8s) and the compose file, checked
# offline (no cluster here: they are documented as untested on a live
# one): yamllint clean; every object has apiVersion, kind, a name and the
# namespace; the Deployment runs several replicas as non-root with
# readiness (/readyz) and liveness (/healthz) on the admin port, resource
# requests and limits, the caller key and Redis password from the Secret,
# and only flags `frontdesk --help` knows; the Services carry SIP over UDP
# and TCP; the ConfigMap's rules pass `frontdeskctl rules check`.
. "$(dirname "$0")/lib.sh"
K=$FD_ROOT/deploy/k8s
command -v yamllint >/dev/null || { bad "yamllint (deploy/deps.sh installs it)"; finish; exit 1; }
out=$(yamllint -c "$K/.yamllint" "$K" 2>&1); rc=$?
check "yamllint deploy/k8s: clean${out:+ ($out)}" eval '[ $rc = 0 ] && [ -z "$out" ]'
out=$(yamllint -d relaxed "$FD_ROOT/deploy/compose.yaml" 2>&1 | grep -v "line too long\|^$\|compose.yaml$"); 
check "yamllint deploy/compose.yaml: no error${out:+ ($out)}" [ -z "$out" ]

"$FD_BIN" --help >"$FD_RUN/help.txt"
out=$(/usr/bin/python3 - "$K" "$FD_RUN" <<'PY'
import os, re, sys, yaml
k, run = sys.argv[1], sys.argv[2]
help_text = open(os.path.join(run, "help.txt")).read()
problems, objs = [], []
for f in sorted(os.listdir(k)):
    if not f.endswith(".yaml") or f == "kustomization.yaml":
        continue
    for d in yaml.safe_load_all(open(os.path.join(k, f))):
        if d:
            objs.append((f, d))
kz = yaml.safe_load(open(os.path.join(k, "kustomization.yaml")))
for f in kz.get("resources", []):
    if not os.path.exists(os.path.join(k, f)):
        problems.append("kustomization names a missing " + f)
for f, d in objs:
    for key in ("apiVersion", "kind", "metadata"):
        if key not in d:
            problems.append(f"{f}: no {key}")
    md = d.get("metadata", {})
    if not md.get("name"):
        problems.append(f"{f}: no name")
    if d.get("kind") != "Namespace" and md.get("namespace") != "frontdesk":
        problems.append(f"{f}: {d.get('kind')} not in namespace frontdesk")
by_kind = {}
for f, d in objs:
    by_kind.setdefault(d["kind"], []).append(d)
dep = by_kind["Deployment"][0]
spec = dep["spec"]
if spec.get("replicas", 1) < 2:
    problems.append("Deployment: fewer than 2 replicas")
pod = spec["template"]["spec"]
if not pod.get("securityContext", {}).get("runAsNonRoot"):
    problems.append("Deployment: not runAsNonRoot")
if spec["selector"]["matchLabels"] != {k2: v for k2, v in spec["template"]["metadata"]["labels"].items() if k2 in spec["selector"]["matchLabels"]}:
    problems.append("Deployment: selector does not match the pod's labels")
names = {c["name"]: c for c in pod["containers"]}
fd = names.get("frontdesk")
for c in pod["containers"]:
    r = c.get("resources", {})
    if not r.get("requests") or not r.get("limits"):
        problems.append(f"container {c['name']}: no requests and limits")
if fd:
    if fd.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        problems.append("frontdesk: readiness not on /readyz")
    if fd.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
        problems.append("frontdesk: liveness not on /healthz")
    ports = {p["name"]: p for p in fd["ports"]}
    for p in ("sip-udp", "sip-tcp", "admin"):
        if p not in ports:
            problems.append("frontdesk: no port " + p)
    for a in fd["args"]:
        if a.startswith("--") and not re.search(re.escape(a) + r"\b", help_text):
            problems.append("frontdesk: flag not in --help: " + a)
    envs = {e["name"]: e for e in fd.get("env", [])}
    for e in ("FRONTDESK_CALLER_KEY", "FRONTDESK_REDIS_PASSWORD"):
        if "secretKeyRef" not in envs.get(e, {}).get("valueFrom", {}):
            problems.append(f"frontdesk: {e} not from a Secret")
    mounts = [m["name"] for m in fd.get("volumeMounts", [])]
    vols = [v["name"] for v in pod.get("volumes", [])]
    for m in mounts:
        if m not in vols:
            problems.append("frontdesk: mounts an undefined volume " + m)
else:
    problems.append("Deployment: no frontdesk container")
protos = set()
for s in by_kind.get("Service", []):
    for p in s["spec"]["ports"]:
        protos.add((p["port"], p.get("protocol", "TCP")))
        if p.get("targetPort") not in ({x["name"] for x in fd["ports"]} | {x["containerPort"] for x in fd["ports"]}):
            problems.append(f"Service {s['metadata']['name']}: targetPort {p.get('targetPort')} is no container port")
for want in ((5060, "UDP"), (5060, "TCP"), (9560, "TCP")):
    if want not in protos:
        problems.append(f"no Service port {want}")
cm = by_kind["ConfigMap"][0]
open(os.path.join(run, "rules.yaml"), "w").write(cm["data"]["rules.yaml"])
print("\n".join(problems))
PY
)
check "the manifests' structure${out:+: $out}" [ -z "$out" ]
o=$("$CTL" rules check "$FD_RUN/rules.yaml" 2>&1); rc=$?
check "the ConfigMap's rules pass rules check ($o)" [ $rc = 0 ]
finish
