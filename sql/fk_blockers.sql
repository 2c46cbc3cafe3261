-- fk_blockers: a table outside the delete set with a foreign key into it
-- refuses the reset before anything is deleted.  Never CASCADE.
SELECT store.fingerprint() AS before \gset

-- an unregistered table referencing a deleted one
CREATE TABLE store.reviews (id serial, product_id int REFERENCES store.products ON DELETE CASCADE);
INSERT INTO store.reviews (product_id) VALUES (1), (2);
SELECT reset_execute('RESET-EVERYTHING');
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SELECT count(*) AS reviews_kept FROM store.reviews;

-- a preserved table referencing a deleted one: still blocked
SELECT reset_register_table('store.reviews', 'preserve', 'review');
SELECT reset_execute('RESET-EVERYTHING');

-- two blockers: the first is raised, the other is listed in the detail
CREATE TABLE store.favorites (account_id int, order_id bigint REFERENCES store.orders);
SELECT reset_execute('RESET-EVERYTHING');
SELECT store.fingerprint() = :'before' AS unchanged;

-- registering the referencing tables for deletion resolves it
SELECT reset_register_table('store.reviews', 'delete', 'review');
SELECT reset_register_table('store.favorites', 'delete', 'favorite');
BEGIN;
SELECT reset_execute('RESET-EVERYTHING');
SELECT count(*) AS reviews_left FROM store.reviews;
ROLLBACK;

-- a foreign key added after the plan (and its token) was read is found:
-- the check runs again inside reset_execute, under its locks.  (A new
-- table would change the token itself: see plan_structure_token.)
SELECT reset_unregister('store.reviews');
SELECT reset_unregister('store.favorites');
DROP TABLE store.reviews, store.favorites;
SELECT test_token() AS token \gset
ALTER TABLE store.accounts ADD COLUMN last_order bigint REFERENCES store.orders;
SELECT test_error(format('SELECT reset_execute(%L, %L)', 'RESET-EVERYTHING', :'token'));
ALTER TABLE store.accounts DROP COLUMN last_order;
SELECT store.fingerprint() = :'before' AS unchanged;

-- a self-reference and a reference between deleted tables are fine
CREATE TABLE store.categories (id serial PRIMARY KEY, parent_id int REFERENCES store.categories);
INSERT INTO store.categories (parent_id) VALUES (NULL), (1), (2);
SELECT reset_register_table('store.categories', 'delete', 'category');
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Deleted 3 category' AS ok;
ROLLBACK;
SELECT reset_unregister('store.categories');
DROP TABLE store.categories;
