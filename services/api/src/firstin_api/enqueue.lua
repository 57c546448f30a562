-- Give a group of orders for one product their places in line and write their pending records, in the same
-- MULTI as the RPUSH of their messages (FastStream publish), so each record and its queued message exist
-- together or not at all, and positions follow list order whatever the number of api workers.
-- Each order belongs to the product's current sale round (its record says which): positions count from 1 in each
-- round, and the processor rejects an order whose round has closed by the time its turn comes. The order ids also
-- go on the product's order-ids list, in position order, which is how a round's orders are listed.
-- If an order's record already exists (an idempotent retry finishing a first attempt), it is left as it is; the
-- second queued message is then dead-lettered by the processor as already decided or mismatched.
--
-- KEYS: 1 product hash, 2 orders hash, 3 the product's queue, 4 the product's order-ids list
-- ARGV: 1 sku, 2 queued channel (an OrderQueued per order is published there: it tells the session's sockets
--       their place in line), 3 wake channel (ProductQueued is published there when the line was empty: an idle
--       processor wakes at once; a busy one needs no bell), then four per order: order id, email, quantity,
--       session id
-- Returns, per order and flattened, {position, created_at (ms), session id, round} (the first attempt's, for a
-- retry), or {0, 0, '', 0} for every order when the product does not exist.
local product, orders, queue, order_ids = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local sku, queued_channel, wake_channel = ARGV[1], ARGV[2], ARGV[3]
local out = {}

local p = redis.call('HMGET', product, 'stock_total', 'round')
if not p[1] then
  for _ = 4, #ARGV, 4 do
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = ''; out[#out + 1] = 0
  end
  return out
end
local round = tonumber(p[2]) or 1  -- a product from before rounds existed is in its first round

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local line_was_empty = redis.call('LLEN', queue) == 0
local joined = {}
for i = 4, #ARGV, 4 do
  local order_id, email, quantity, session_id = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local existing = redis.call('HGET', orders, order_id)
  if existing then
    local record = cjson.decode(existing)
    out[#out + 1] = record.position; out[#out + 1] = record.created_at; out[#out + 1] = record.session_id
    out[#out + 1] = record.round or 1
  else
    local position = redis.call('HINCRBY', product, 'last_position', 1)
    redis.call('HINCRBY', product, 'pending_qty', quantity)
    redis.call('HSET', orders, order_id, cjson.encode({
      order_id = order_id, sku = sku, email = email, session_id = session_id, quantity = quantity,
      position = position, status = 'pending', created_at = now, round = round,
    }))
    redis.call('PUBLISH', queued_channel, cjson.encode({
      schema_version = 1, order_id = order_id, sku = sku, email = email, session_id = session_id,
      quantity = quantity, position = position,
    }))
    out[#out + 1] = position; out[#out + 1] = now; out[#out + 1] = session_id; out[#out + 1] = round
    joined[#joined + 1] = order_id
  end
end
if #joined > 0 then redis.call('RPUSH', order_ids, unpack(joined)) end
if line_was_empty then
  redis.call('PUBLISH', wake_channel, cjson.encode({schema_version = 1, sku = sku}))
end
return out
