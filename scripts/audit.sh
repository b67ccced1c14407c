#!/usr/bin/env bash
# Known vulnerabilities in the installed environment (.venv), with pip-audit.
#
#   exit 1  a dependency has a known vulnerability (each one is listed)
#   exit 0  nothing known, or the audit could not reach its data: the PyPI JSON API
#           (pip-audit's default service) or OSV (PIP_AUDIT_SERVICE=osv). The second case
#           prints a "NOT AUDITED" notice, so a CI log never mistakes it for a pass.
#   other   pip-audit failed for another reason (its own exit status)
#
# A mirror that answers for pypi.org but lacks the per-version JSON API makes pip-audit
# skip every package and still print "No known vulnerabilities found"; that counts as
# unreachable here, not as a pass. The editable MeshMark package itself is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

PIP_AUDIT=${PIP_AUDIT:-.venv/bin/pip-audit}
SERVICE=${PIP_AUDIT_SERVICE:-pypi}
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

report=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$report" "$errors"' EXIT

"$PIP_AUDIT" --skip-editable --vulnerability-service "$SERVICE" --progress-spinner off \
  --format json --output "$report" 2>"$errors"
status=$?

if [ ! -s "$report" ]; then
  if grep -qE 'ConnectionError|NameResolutionError|Max retries exceeded|Temporary failure in name resolution|Name or service not known|timed out|Connection refused' "$errors"; then
    echo "audit: NOT AUDITED: pip-audit cannot reach the '$SERVICE' vulnerability service:"
    grep -E 'Error' "$errors" | tail -n 1
    exit 0
  fi
  cat "$errors" >&2
  echo "audit: pip-audit failed (exit $status) without a report" >&2
  exit "$((status == 0 ? 2 : status))"
fi

"$PYTHON" - "$report" "$SERVICE" <<'EOF'
import json
import sys

path, service = sys.argv[1], sys.argv[2]
dependencies = json.load(open(path))["dependencies"]
vulnerable = [d for d in dependencies if d.get("vulns")]
skipped = [d for d in dependencies if "skip_reason" in d]
audited = [d for d in dependencies if "skip_reason" not in d]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
        print(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
if vulnerable:
    print(f"audit: {len(vulnerable)} of {len(audited)} audited packages have known vulnerabilities")
    sys.exit(1)
if not audited and skipped:
    print(
        f"audit: NOT AUDITED: the '{service}' service returned no data for any of the "
        f"{len(skipped)} packages (e.g. {skipped[0]['skip_reason']!r}); the index this "
        "machine reaches does not serve vulnerability data"
    )
    sys.exit(0)
for dep in skipped:
    print(f"audit: skipped {dep['name']}: {dep['skip_reason']}")
print(f"audit: no known vulnerabilities in {len(audited)} audited packages ({service})")
EOF
