-- Create a product, or reset it: either way a new sale round starts, with its own stock, positions from 1,
-- decision numbers from 1 and per-customer counts from 0. The round that closes is archived as it stands (the
-- rounds hash); orders of it still in line stay there and the processor rejects them, in line order, with
-- reason round_closed (decide.lua compares each order's round with the product's), so nothing of one round is
-- decided against another's stock and every buyer hears of it the usual way.
--
-- KEYS: 1 product hash, 2 bought hash, 3 products set, 4 rounds hash, 5 order ids list, 6 queue
-- ARGV: 1 sku, 2 stock, 3 per-customer limit (0 = none), 4 wake channel
-- Returns the new round's number.
local product, bought, products, rounds, order_ids, queue = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local sku, stock, wake_channel = ARGV[1], tonumber(ARGV[2]), ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local round = 1
local closing = redis.call('HGETALL', product)
if #closing > 0 then
  local archived = {}
  for i = 1, #closing, 2 do archived[closing[i]] = closing[i + 1] end
  -- A product from before rounds existed is in its first round.
  local closed = tonumber(archived.round) or 1
  archived.round = closed
  archived.closed_at = now
  redis.call('HSET', rounds, closed, cjson.encode(archived), closed .. ':decided', archived.decided or 0)
  round = closed + 1
end

redis.call('DEL', product, bought)
redis.call('HSET', product, 'round', round, 'round_started_at', now, 'first_index', redis.call('LLEN', order_ids),
           'stock_total', stock, 'stock_left', stock, 'per_customer_limit', ARGV[3], 'sold_out', stock <= 0 and 1 or 0,
           'last_position', 0, 'pending_qty', 0, 'now_serving', 0, 'decided', 0, 'accepted', 0)
redis.call('SADD', products, sku)
-- Orders of the closed round still in line are told at once, not at the processor's next poll.
if redis.call('LLEN', queue) > 0 then
  redis.call('PUBLISH', wake_channel, cjson.encode({schema_version = 1, sku = sku}))
end
return round
