-- Runs once, on the first start of an empty MySQL volume, after the image has created MYSQL_USER.
-- Each SQL service owns its own database; the services create their tables at start.
CREATE DATABASE IF NOT EXISTS emporium_orders;
CREATE DATABASE IF NOT EXISTS emporium_inventory;
CREATE DATABASE IF NOT EXISTS emporium_payments;
CREATE DATABASE IF NOT EXISTS emporium_users;
CREATE DATABASE IF NOT EXISTS emporium_carts;
CREATE DATABASE IF NOT EXISTS emporium_promotions;
CREATE DATABASE IF NOT EXISTS emporium_shipping;

GRANT ALL PRIVILEGES ON emporium_orders.* TO 'emporium'@'%';
GRANT ALL PRIVILEGES ON emporium_inventory.* TO 'emporium'@'%';
GRANT ALL PRIVILEGES ON emporium_payments.* TO 'emporium'@'%';
GRANT ALL PRIVILEGES ON emporium_users.* TO 'emporium'@'%';
GRANT ALL PRIVILEGES ON emporium_carts.* TO 'emporium'@'%';
GRANT ALL PRIVILEGES ON emporium_promotions.* TO 'emporium'@'%';
GRANT ALL PRIVILEGES ON emporium_shipping.* TO 'emporium'@'%';
