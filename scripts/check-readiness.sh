#!/usr/bin/env bash
# Readiness check: fails when the contract, the docs and the code disagree.
#  1. every route in backend/src/router.rs ROUTES is in contracts/openapi.yaml, and back;
#  2. every route wired with .route(...) in router.rs is listed in ROUTES;
#  3. every API error code the code can emit and every job error code is in docs/error-codes.md,
#     and every API error code is in the contract's ErrorBody code enum;
#  4. every job type has its playbook (or is marked in-process) and a row in docs/job-types.md;
#  5. every playbook passes ansible-playbook --syntax-check (and ansible-lint when installed).
# Usage: scripts/check-readiness.sh [REPO_DIR]   (default: this repository)
set -euo pipefail
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
REPO=${1:-$(cd "$(dirname "$0")/.." && pwd)}
PY=/opt/pressluft/venv/bin/python
[ -x "$PY" ] || { echo "readiness: $PY missing; run scripts/install-deps.sh first" >&2; exit 1; }
export PATH="/usr/local/bin:/usr/bin:/bin:${PATH:-}"
"$PY" - "$REPO" <<'PY'
import pathlib, re, sys, yaml
repo = pathlib.Path(sys.argv[1])
problems = []
router = (repo / "backend/src/router.rs").read_text()
routes_block = router.split("pub const ROUTES", 1)[1].split("];", 1)[0]
routes = set(re.findall(r'\("([A-Z]+)",\s*"([^"]+)"\)', routes_block))
spec = yaml.safe_load((repo / "contracts/openapi.yaml").read_text())
contract = {(m.upper(), p) for p, ops in spec.get("paths", {}).items() for m in ops
            if m.lower() in ("get", "post", "put", "patch", "delete")}
for m, p in sorted(routes - contract):
    problems.append(f"route {m} {p} is served but missing from contracts/openapi.yaml")
for m, p in sorted(contract - routes):
    problems.append(f"route {m} {p} is in contracts/openapi.yaml but not in router.rs ROUTES")
wired = set()
for path, methods in re.findall(r'\.route\(\s*"([^"]+)",\s*((?:[a-z_]+\([^()]*\)\.?)+)', router):
    for m in re.findall(r'(?:^|\.)(get|post|put|patch|delete)\(', methods):
        wired.add((m.upper(), path))
for m, p in sorted(wired - routes):
    problems.append(f"route {m} {p} is wired in router.rs but not listed in ROUTES")

docs = (repo / "docs/error-codes.md").read_text()
documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", docs))
error_rs = (repo / "backend/src/error.rs").read_text()
api_codes = set(re.findall(r'"([a-z_]+)"', error_rs.split("API_ERROR_CODES", 1)[1].split("];", 1)[0]))
sources = [p for d in ("backend/src", "backend/artifact/src") for p in (repo / d).rglob("*.rs")]
emitted_api = set()
for p in sources:
    text = p.read_text()
    emitted_api |= set(re.findall(r'AppError::(?:not_found|conflict)\(\s*"([a-z_]+)"', text))
    emitted_api |= set(re.findall(r'AppError::new\([^,]+,\s*"([a-z_]+)"', text))
for c in sorted(emitted_api - api_codes):
    problems.append(f"API error code {c} is emitted by the code but not listed in error.rs API_ERROR_CODES")
# Job error codes: string literals in Rust, any mention in playbooks.
prefixes = "ANSIBLE|JOB|BACKUP|RESTORE|ARTIFACT|STORAGE|NODE"
rust_re = re.compile(r'"((?:%s)_[A-Z][A-Z_]*[A-Z])"' % prefixes)
yml_re = re.compile(r'\b((?:%s)_[A-Z][A-Z_]*[A-Z])\b' % prefixes)
job_codes = set()
env_names = set()
for p in sources:
    text = p.read_text()
    job_codes |= set(rust_re.findall(text))
    env_names |= set(re.findall(r'\.env(?:_remove)?\(\s*"([A-Z_]+)"', text))
for p in (repo / "ansible").rglob("*.yml"):
    job_codes |= set(yml_re.findall(p.read_text()))
job_codes -= env_names
for c in sorted((api_codes | emitted_api | job_codes) - documented):
    problems.append(f"error code {c} is not documented in docs/error-codes.md")
enum = set()
schemas = spec.get("components", {}).get("schemas", {})
code_schema = schemas.get("ErrorBody", {}).get("properties", {}).get("code", {})
enum = set(code_schema.get("enum", []))
for c in sorted(api_codes - enum):
    problems.append(f"API error code {c} is missing from the contract's ErrorBody.code enum")

types_rs = (repo / "common/src/types.rs").read_text()
job_block = types_rs.split("JobType {", 1)[1].split("}", 1)[0]
job_types = re.findall(r'=>\s*"([a-z_]+)"', job_block)
job_docs = (repo / "docs/job-types.md").read_text()
in_process = set()
for jt in job_types:
    if f"`{jt}`" not in job_docs:
        problems.append(f"job type {jt} has no row in docs/job-types.md")
    pb = repo / "ansible/playbooks" / (jt.replace("_", "-") + ".yml")
    if jt not in in_process and not pb.is_file():
        problems.append(f"job type {jt} has no playbook {pb.relative_to(repo)}")
for p in problems:
    print("readiness: " + p)
if problems:
    sys.exit(1)
print(f"readiness: {len(routes)} routes, {len(api_codes)} API codes, {len(job_codes)} job codes, {len(job_types)} job types consistent")
PY
for pb in "$REPO"/ansible/playbooks/*.yml; do
  if ! out=$(ANSIBLE_CONFIG="$REPO/ansible/ansible.cfg" ansible-playbook --syntax-check -i localhost, "$pb" 2>&1); then
    echo "readiness: $pb fails --syntax-check:"; echo "$out"; exit 1
  fi
done
if command -v ansible-lint >/dev/null 2>&1; then
  (cd "$REPO/ansible" && ansible-lint --offline playbooks/)
fi
echo "readiness: playbooks pass --syntax-check"
