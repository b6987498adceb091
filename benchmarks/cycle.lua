-- wrk script of benchmarks/tiles.py: cycle through the request paths in a file (one per
-- line; each thread starts at its own offset, so the two threads do not ask for the same tile
-- at the same moment) and print one JSON line when done.
--
-- Usage: wrk ... http://127.0.0.1:PORT -s cycle.lua -- PATHS_FILE THREADS
--
-- Errors come from wrk's own summary (errors.status counts answers >= 400; connect, read,
-- write and timeout the rest), not from a response() callback: that callback runs in each
-- thread's own Lua state, whose counters done() cannot see, and it makes wrk hand every
-- body to Lua, which takes CPU from the servers on a 2-core machine.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  reqs = {}
  for path in io.lines(args[1]) do
    reqs[#reqs + 1] = wrk.format("GET", path)
  end
  next_req = (id * math.floor(#reqs / tonumber(args[2]))) % #reqs + 1
end

function request()
  local r = reqs[next_req]
  next_req = next_req % #reqs + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99)
  ))
end
