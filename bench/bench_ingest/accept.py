"""Phase 1: single submissions answered 202, posted by wrk with a Lua script."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import wrk_figures, wrk_raw

LUA = r"""
local parts = {}
local f = assert(io.open("@POOL@", "rb"))
while true do
  local before = f:read("*l")
  if not before then break end
  parts[#parts + 1] = {before, f:read("*l")}
end
f:close()
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer @SECRET@"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
local count = 0
function setup(thread)
  count = count + 1
  thread:set("tid", count)
  table.insert(threads, thread)
end

statuses = {}
local n = 0
function request()
  n = n + 1
  local part = parts[(n * 7 + tid) % #parts + 1]
  return wrk.format(nil, nil, nil, part[1] .. "@TAG@-" .. tid .. "-" .. n .. part[2])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, k in pairs(thread:get("statuses")) do
      io.write(string.format("STATUS %d %d\n", status, k))
    end
  end
end
"""


def post_wrk(
    url: str, secret: str, pool_file: Path, tag: str, seconds: int, connections: int
) -> dict[str, Any]:
    script = pool_file.with_name(f"post-{tag}.lua")
    script.write_text(
        LUA.replace("@POOL@", str(pool_file)).replace("@SECRET@", secret).replace("@TAG@", tag)
    )
    out = wrk_raw(url, seconds=seconds, connections=connections, script=script)
    statuses: Counter[int] = Counter()
    for line in out.decode().splitlines():
        if line.startswith("STATUS "):
            _, status, count = line.split()
            statuses[int(status)] += int(count)
    figures: dict[str, Any] = dict(
        wrk_figures(b"\n".join(ln for ln in out.splitlines() if not ln.startswith(b"STATUS ")))
    )
    figures["statuses"] = dict(statuses)
    figures["accepted_rate"] = statuses[202] / figures["seconds"]
    return figures
