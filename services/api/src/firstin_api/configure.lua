-- Create or reset a product: a new round of stock. The line, positions and order records are kept, so
-- orders still waiting are decided against the new stock; per-customer counts start again.
--
-- KEYS: 1 product hash, 2 bought hash, 3 products set
-- ARGV: 1 sku, 2 stock, 3 per-customer limit (0 = none)
local product, bought, products = KEYS[1], KEYS[2], KEYS[3]
local stock = tonumber(ARGV[2])
redis.call('HSET', product, 'stock_total', stock, 'stock_left', stock, 'per_customer_limit', ARGV[3],
           'sold_out', stock <= 0 and 1 or 0)
redis.call('HSETNX', product, 'last_position', 0)
redis.call('HSETNX', product, 'decided', 0)
redis.call('HSETNX', product, 'pending_qty', 0)
redis.call('DEL', bought)
redis.call('SADD', products, ARGV[1])
return 1
