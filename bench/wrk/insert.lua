-- insert.lua: wrk script that POSTs the reference record (Harper's
-- replication benchmark): exactly 400 bytes of JSON with 8 fields, one new
-- record per request.
--
--   wrk -s bench/wrk/insert.lua URL/TABLE/ -- keys=uuid|seq run=PREFIX
--
-- keys=uuid  a random UUIDv4 "id" per record (random B-tree inserts)
-- keys=seq   "PREFIX-TT-NNNNNNNNNNNN": thread TT's counter, so each thread's
--            keys ascend (append-like inserts); PREFIX keeps runs apart
-- Every body is checked to be 400 bytes; a status other than 201 is
-- counted by wrk ("Non-2xx or 3xx responses") and the runner refuses the
-- figure.
--
-- Optional (used by bench/harper.sh; without them nothing changes):
-- ids=FILE   write the id of every 201 answer (its body, a JSON string, or
--            the last segment of its Location), one a line, to FILE
--            (thread 0) or FILE.TT (thread TT): the acknowledged ids, to
--            be looked up on every node afterwards. Costs wrk a Lua call
--            per answer.
-- Headers given to wrk with -H (e.g. "Authorization: Basic ...") are sent
-- with every request.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local keys, run = "uuid", "r"
local counter = 0
local headers = { ["Content-Type"] = "application/json" }
local idfile

local function log_response(status, hdrs, body)
  if status ~= 201 then return end
  local id = body and body:match('^%s*"(.-)"%s*$')
  if not id or id == "" then
    id = hdrs and (hdrs["Location"] or hdrs["location"])
    id = id and id:match("([^/]+)$")
  end
  if id then idfile:write(id, "\n") end
end

function init(args)
  local ids
  for _, a in ipairs(args) do
    local k, v = a:match("^(%w+)=(.*)$")
    if k == "keys" then keys = v elseif k == "run" then run = v
    elseif k == "ids" then ids = v end
  end
  if keys ~= "uuid" and keys ~= "seq" then
    error("insert.lua: keys must be uuid or seq, got " .. keys)
  end
  for k, v in pairs(wrk.headers or {}) do
    if headers[k] == nil then headers[k] = v end
  end
  if ids and ids ~= "" then
    local name = ids
    if (tid or 0) > 0 then name = string.format("%s.%02d", ids, tid) end
    idfile = assert(io.open(name, "w"))
    idfile:setvbuf("full", 65536)
    response = log_response
  end
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

local hex = "0123456789abcdef"

local function hexdigit(n)
  return hex:sub(n + 1, n + 1)
end

local function uuid4()
  local t = {}
  for i = 1, 32 do
    local d = math.random(0, 15)
    if i == 13 then d = 4 end                 -- version 4
    if i == 17 then d = 8 + math.random(0, 3) end -- variant 10xx
    t[#t + 1] = hexdigit(d)
    if i == 8 or i == 12 or i == 16 or i == 20 then t[#t + 1] = "-" end
  end
  return table.concat(t)
end

request = function()
  counter = counter + 1
  local id
  if keys == "seq" then
    id = string.format("%s-%02d-%012d", run, tid or 0, counter)
  else
    id = uuid4()
  end
  local head = '{"id":"' .. id .. '","name":"user ' .. counter ..
    '","email":"user' .. counter .. '@example.com","age":' .. (counter % 90) ..
    ',"city":"Amsterdam","score":' .. (counter % 1000) ..
    '.5,"active":true,"note":"'
  local body = head .. string.rep("x", 400 - #head - 2) .. '"}'
  if #body ~= 400 then
    error("insert.lua: record is " .. #body .. " bytes, not 400")
  end
  return wrk.format("POST", nil, headers, body)
end
