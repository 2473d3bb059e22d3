-- fraud_post.lua - wrk script for bench/fraud.sh: POST /v1/transactions with
-- card transactions over real accounts and terminals of a generated bank.
--
--   wrk -t2 -c64 -d15s --latency -s bench/fraud_post.lua URL -- TAG FRAGMENTS KEY
--
-- FRAGMENTS holds one JSON fragment a line, the members of a transaction
-- other than its id and time ("account_id":"A0000123","terminal_id":...,
-- "amount":"58.00",...), taken from the generated card transactions; the
-- requests cycle through them. Every request has a new id, "W<TAG>-<thread>-
-- <n>" (TAG tells runs apart, the thread number threads, n counts), so none
-- is answered as a duplicate, and the wall-clock time, so the engine never
-- finds it too late or in the future. KEY is a service API key.

local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("tid", next_thread)
end

local frags, headers, tag
local n = 0

function init(args)
  tag = args[1]
  frags = {}
  for line in io.lines(args[2]) do frags[#frags + 1] = line end
  if #frags == 0 then error("fraud_post.lua: " .. args[2] .. " has no transactions") end
  headers = {["Authorization"] = "Bearer " .. args[3], ["Content-Type"] = "application/json"}
end

function request()
  n = n + 1
  local body = '{"id":"W' .. tag .. '-' .. tid .. '-' .. n .. '","ts":"' ..
    os.date("!%Y-%m-%dT%H:%M:%SZ") .. '",' .. frags[((n * 7919 + tid) % #frags) + 1] .. '}'
  return wrk.format("POST", "/v1/transactions", headers, body)
end
