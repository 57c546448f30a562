-- Give an order its place in line and write its pending record, in the same MULTI as the RPUSH of its
-- message (FastStream publish), so the record and the queued message exist together or not at all, and
-- positions follow list order whatever the number of api workers.
-- If the record already exists (an idempotent retry finishing a first attempt), nothing changes; the
-- second queued message is then dead-lettered by the processor as already decided or mismatched.
--
-- KEYS: 1 product hash, 2 orders hash, 3 the product's queue
-- ARGV: 1 order id, 2 sku, 3 email, 4 quantity, 5 session id, 6 queued channel (OrderQueued is published
--       there: it tells the session's sockets their place in line), 7 wake channel (ProductQueued is
--       published there when the line was empty: an idle processor wakes at once; a busy one needs no bell)
-- Returns {position, created_at (ms), session id} of the order (the first attempt's, for a retry), or
-- {0, 0, ''} when the product does not exist.
local product, orders, queue = KEYS[1], KEYS[2], KEYS[3]
local order_id, sku, email, quantity, session_id = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]

local existing = redis.call('HGET', orders, order_id)
if existing then
  local record = cjson.decode(existing)
  return {record.position, record.created_at, record.session_id}
end
if redis.call('EXISTS', product) == 0 then return {0, 0, ''} end

local position = redis.call('HINCRBY', product, 'last_position', 1)
redis.call('HINCRBY', product, 'pending_qty', quantity)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', orders, order_id, cjson.encode({
  order_id = order_id, sku = sku, email = email, session_id = session_id, quantity = quantity,
  position = position, status = 'pending', created_at = now,
}))
redis.call('PUBLISH', ARGV[6], cjson.encode({
  schema_version = 1, order_id = order_id, sku = sku, email = email, session_id = session_id,
  quantity = quantity, position = position,
}))
if redis.call('LLEN', queue) == 0 then
  redis.call('PUBLISH', ARGV[7], cjson.encode({schema_version = 1, sku = sku}))
end
return {position, now, session_id}
