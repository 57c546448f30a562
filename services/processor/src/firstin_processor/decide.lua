-- Pop up to ARGV[2] orders from a product's line and decide each, atomically: stock, order records,
-- per-customer counts, dead letters and the published outcome change together or not at all.
-- Because the pop happens inside the same script as the decision, no order is ever "in hand" outside Redis:
-- a processor killed at any instant loses nothing and decides nothing twice.
-- The rule mirrors firstin_processor/rules.py (tests/test_decide_script.py pins the two together).
-- Each order is decided in the sale round its record names: an order of a round that has closed (the product was
-- reset while it waited) is rejected with reason round_closed, touching no stock and no count of the current
-- round, and numbered among its own round's decisions (the rounds hash keeps how many each closed round has).
--
-- KEYS: 1 queue, 2 product hash, 3 orders hash, 4 bought hash, 5 dead-letter list, 6 rounds hash
-- ARGV: 1 sku, 2 max batch, 3 outcomes channel, 4 max message bytes, 5 dead letters kept
local queue, product, orders, bought, dead_letters, rounds = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local sku = ARGV[1]
local max_batch = tonumber(ARGV[2])
local channel = ARGV[3]
local max_bytes = tonumber(ARGV[4])
local dead_letters_kept = tonumber(ARGV[5])

local summary = {decided = 0, accepted = 0, rejected = {}, dead = {}, waits = {}}

local raws = redis.call('LPOP', queue, max_batch)
if not raws then
  summary.remaining = 0
  return cjson.encode(summary)
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function set_aside(raw, reason)
  if #raw > 1024 then raw = string.sub(raw, 1, 1024) end
  local letter = {sku = sku, reason = reason, at = now}
  if string.find(raw, '[\128-\255]') then
    -- cjson would write these bytes as they are, which need not be valid UTF-8 (nor JSON): keep them as hex.
    letter.message_hex = (string.gsub(raw, '.', function(c) return string.format('%02x', string.byte(c)) end))
  else
    letter.message = raw
  end
  redis.call('RPUSH', dead_letters, cjson.encode(letter))
  summary.dead[reason] = (summary.dead[reason] or 0) + 1
end

-- A queued message is a FastStream JSON envelope {"data": "<PlaceOrder JSON>", "headers": {...}};
-- bare PlaceOrder JSON is accepted too. Returns the PlaceOrder table or nil and the reason.
local function parse(raw)
  if #raw > max_bytes then return nil, 'oversized' end
  local ok, body = pcall(cjson.decode, raw)
  if not ok or type(body) ~= 'table' then return nil, 'undecodable' end
  if type(body.data) == 'string' then
    ok, body = pcall(cjson.decode, body.data)
    if not ok or type(body) ~= 'table' then return nil, 'undecodable' end
  end
  if type(body.order_id) ~= 'string' or type(body.email) ~= 'string' or type(body.sku) ~= 'string' then
    return nil, 'invalid_fields'
  end
  local q = body.quantity
  if type(q) ~= 'number' or q < 1 or q > 1000 or math.floor(q) ~= q then return nil, 'invalid_quantity' end
  if body.sku ~= sku then return nil, 'wrong_sku' end
  return body
end

local p = redis.call('HMGET', product, 'stock_left', 'per_customer_limit', 'decided', 'pending_qty', 'round')
if not p[1] then
  for _, raw in ipairs(raws) do set_aside(raw, 'unknown_sku') end
  summary.remaining = redis.call('LLEN', queue)
  redis.call('LTRIM', dead_letters, -dead_letters_kept, -1)
  return cjson.encode(summary)
end
local stock_left = tonumber(p[1])
local limit = tonumber(p[2]) or 0
local decided = tonumber(p[3]) or 0
local pending_qty = tonumber(p[4]) or 0
local current_round = tonumber(p[5]) or 1  -- a product from before rounds existed is in its first round
local now_serving = nil
local out = {}
local accepted_here, rejected_here = 0, {}  -- this batch's decisions in the current round, by outcome
local closed_decided, closed_rejected = {}, {}  -- closed round -> its decision count so far, its rejections here

-- The next decision number of a closed round, read once per batch and written back at the end.
local function closed_seq(round)
  local seq = closed_decided[round]
  if not seq then
    seq = tonumber(redis.call('HGET', rounds, round .. ':decided')) or 0
    closed_rejected[round] = 0
  end
  closed_decided[round] = seq + 1
  closed_rejected[round] = closed_rejected[round] + 1
  return seq + 1
end

for _, raw in ipairs(raws) do
  local msg, err = parse(raw)
  local record_raw = msg and redis.call('HGET', orders, msg.order_id)
  local record = record_raw and cjson.decode(record_raw)
  if not msg then
    set_aside(raw, err)
  elseif not record then
    set_aside(raw, 'unknown_order')
  elseif record.status ~= 'pending' then
    set_aside(raw, 'already_decided')
  elseif record.email ~= msg.email or record.quantity ~= msg.quantity then
    set_aside(raw, 'record_mismatch')
  elseif (record.round or 1) ~= current_round then
    record.status = 'rejected'
    record.reason = 'round_closed'
    record.decided_at = now
    record.decision_seq = closed_seq(record.round or 1)
    redis.call('HSET', orders, record.order_id, cjson.encode(record))
    summary.rejected.round_closed = (summary.rejected.round_closed or 0) + 1
    summary.decided = summary.decided + 1
    summary.waits[#summary.waits + 1] = now - record.created_at
    out[#out + 1] = {
      order_id = record.order_id, sku = sku, email = record.email, session_id = record.session_id,
      quantity = record.quantity, position = record.position, status = 'rejected', reason = 'round_closed',
      decided_at = now, decision_seq = record.decision_seq,
    }
  else
    local qty = record.quantity
    local reason = nil
    if stock_left <= 0 then
      reason = 'sold_out'
    elseif limit > 0 and (tonumber(redis.call('HGET', bought, record.email)) or 0) + qty > limit then
      reason = 'limit_exceeded'
    elseif qty > stock_left then
      reason = 'insufficient_stock'
    end
    if reason then
      record.status = 'rejected'
      record.reason = reason
      summary.rejected[reason] = (summary.rejected[reason] or 0) + 1
      rejected_here[reason] = (rejected_here[reason] or 0) + 1
    else
      record.status = 'accepted'
      record.reason = nil
      stock_left = stock_left - qty
      redis.call('HINCRBY', bought, record.email, qty)
      summary.accepted = summary.accepted + 1
      accepted_here = accepted_here + 1
    end
    decided = decided + 1
    pending_qty = pending_qty - qty
    record.decided_at = now
    record.decision_seq = decided
    redis.call('HSET', orders, record.order_id, cjson.encode(record))
    now_serving = record.position
    summary.decided = summary.decided + 1
    summary.waits[#summary.waits + 1] = now - record.created_at
    out[#out + 1] = {
      order_id = record.order_id, sku = sku, email = record.email, session_id = record.session_id, quantity = qty,
      position = record.position, status = record.status, reason = record.reason,
      decided_at = now, decision_seq = decided,
    }
  end
end

local fields = {'stock_left', stock_left, 'decided', decided, 'pending_qty', pending_qty,
                'sold_out', stock_left <= 0 and 1 or 0}
if now_serving then
  fields[#fields + 1] = 'now_serving'
  fields[#fields + 1] = now_serving
end
redis.call('HSET', product, unpack(fields))
if accepted_here > 0 then redis.call('HINCRBY', product, 'accepted', accepted_here) end
for reason, count in pairs(rejected_here) do redis.call('HINCRBY', product, 'rejected:' .. reason, count) end
for round, seq in pairs(closed_decided) do
  redis.call('HSET', rounds, round .. ':decided', seq)
  redis.call('HINCRBY', rounds, round .. ':rejected:round_closed', closed_rejected[round])
end
if #out > 0 then
  redis.call('PUBLISH', channel, cjson.encode({schema_version = 1, sku = sku, decisions = out}))
end
if next(summary.dead) then redis.call('LTRIM', dead_letters, -dead_letters_kept, -1) end
summary.remaining = redis.call('LLEN', queue)
summary.stock_left = stock_left
summary.now_serving = now_serving or tonumber(redis.call('HGET', product, 'now_serving') or '0')
return cjson.encode(summary)
