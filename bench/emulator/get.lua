-- wrk script: get by id, GET /services/data/v66.0/sobjects/Account/{id}, cycling through the ids
-- run.sh seeded and wrote to the file named by BENCH_IDS (one id per line).
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
  ids[#ids + 1] = line
end
local i = 0

request = function()
  i = i % #ids + 1
  return wrk.format("GET", "/services/data/v66.0/sobjects/Account/" .. ids[i])
end
