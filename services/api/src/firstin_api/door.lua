-- The door, in one round trip: rate limits (per IP and per email, fixed one-minute windows shared by every
-- api replica), then whether the product exists and whether its line already holds enough orders to use up
-- the stock left. Orders beyond that would only wait to be rejected: they get a 409 at once instead.
-- The door reopens by itself when orders in line are rejected for another reason (pending_qty drops).
--
-- KEYS: 1 product hash, 2 IP counter, 3 email counter
-- ARGV: 1 per-IP limit (0 = none), 2 per-email limit (0 = none), 3 window seconds, 4 '1' to check the product
--       (POST /sessions checks the rate limits only)
-- Returns {verdict, number}: 'rate_limited' with the seconds to wait, 'unknown', 'sold_out', or 'open' with the
-- room left in line (stock left minus the quantity already waiting): the api admits a group of orders while the
-- room lasts, so a whole group cannot slip past a door that the first few of it close.
local function over_limit(key, limit, window)
  if limit <= 0 then return false end
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, window) end
  return count > limit
end

local window = tonumber(ARGV[3])
if over_limit(KEYS[2], tonumber(ARGV[1]), window) or over_limit(KEYS[3], tonumber(ARGV[2]), window) then
  local ttl = math.max(redis.call('TTL', KEYS[2]), redis.call('TTL', KEYS[3]), 1)
  return {'rate_limited', ttl}
end

if ARGV[4] ~= '1' then return {'open', 0} end
local p = redis.call('HMGET', KEYS[1], 'stock_left', 'sold_out', 'pending_qty')
if not p[1] then return {'unknown', 0} end
local room = tonumber(p[1]) - tonumber(p[3] or '0')
if p[2] == '1' or room <= 0 then return {'sold_out', 0} end
return {'open', room}
