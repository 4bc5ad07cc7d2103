-- wrk script for bench/inbox.py: POST pre-signed activities read from a file.
-- args: <file> <mode> [first]
--   mode "once": each line at most once, from line <first> (default 1) on (the thread stops
--                when all are sent): successive phases post activities not posted before;
--   mode "cycle": start again at the first line (for the hello-world endpoint).
-- File lines: date \t digest \t signature \t body   (body is compact JSON, no tabs or newlines)
local reqs = {}
local idx = 0
local mode = "once"
ok2xx = 0
bad = 0
sent = 0

function init(args)
  mode = args[2] or "once"
  local first = tonumber(args[3] or "1")
  local n = 0
  for line in io.lines(args[1]) do
    n = n + 1
    if n < first then goto continue end
    local date, digest, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    if date then
      reqs[#reqs + 1] = wrk.format("POST", wrk.path, {
        ["Date"] = date,
        ["Digest"] = digest,
        ["Signature"] = sig,
        ["Content-Type"] = "application/activity+json",
      }, body)
    end
    ::continue::
  end
end

function request()
  idx = idx + 1
  if idx > #reqs then
    if mode == "cycle" then idx = 1 else idx = #reqs end
  end
  sent = sent + 1
  return reqs[idx]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok2xx = ok2xx + 1 else bad = bad + 1 end
  if mode == "once" and sent >= #reqs then wrk.thread:stop() end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local ok, nok = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok2xx")
    nok = nok + t:get("bad")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "ok": %d, "bad": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, ok, nok,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
