-- wrk script: authenticated GETs (BENCH_TOKEN) of the paths in BENCH_PATHS (separated by
-- spaces), one after the other, round and round; the URL given to wrk names the server.
local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS"), "%S+") do
  paths[#paths + 1] = path
end
local next_path = 0
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
