-- plan_json: the plan as jsonb, for scripts.
SELECT jsonb_object_keys(reset_plan_json()) AS key ORDER BY 1;

SELECT p->>'database' AS database, p->>'environment' AS environment, p->>'mode' AS mode,
       p->'delete' AS delete, p->'preserve' AS preserve, p->'rebuild' AS rebuild,
       p->'warnings' AS warnings, p->'blockers' AS blockers,
       (p->>'delete_rows')::bigint AS delete_rows,
       p->>'token' ~ '^[0-9a-f]{16}$' AS token_ok,
       p->>'execute' = format('SELECT reset_execute(%L, %L);', 'RESET-EVERYTHING', p->>'token') AS execute_ok
FROM reset_plan_json() p;

-- text and JSON agree on the token
SELECT (SELECT substring(reset_plan() from 'Plan token: +([0-9a-f]+)')) = test_token() AS same_token;

-- the token is the same on every call while nothing changes, even when
-- row counts do (a busy database can still be reset from a reviewed plan)
SELECT test_token() AS t1 \gset
INSERT INTO store.coupons (code) VALUES ('EXTRA');
SELECT test_token() = :'t1' AS same_after_insert;
DELETE FROM store.coupons WHERE code = 'EXTRA';

-- ... and changes with the configuration
SELECT reset_register_table('store.coupons', 'preserve', 'coupon');
SELECT test_token() <> :'t1' AS changed_after_action_change;
SELECT reset_register_table('store.coupons', 'delete', 'coupon');
SELECT test_token() = :'t1' AS back_to_same;
SELECT reset_register_rebuild('extra', 'SELECT 1');
SELECT test_token() <> :'t1' AS changed_after_rebuild_added;
SELECT reset_unregister_rebuild('extra');
SELECT reset_register_table('store.products', 'delete', 'product', '{}');
SELECT test_token() <> :'t1' AS changed_after_storage_columns;
SELECT reset_register_table('store.products', 'delete', 'product', '{image_key}');
-- a different label is cosmetic: same token
SELECT reset_register_table('store.coupons', 'delete', 'voucher');
SELECT test_token() = :'t1' AS same_after_label;
SELECT reset_register_table('store.coupons', 'delete', 'coupon');

-- warnings and blockers appear in the JSON as text
CREATE TABLE store.wishlist (id int, product_id int REFERENCES store.products);
SELECT jsonb_array_length(p->'warnings') AS warnings, jsonb_array_length(p->'blockers') AS blockers,
       p->'blockers'->>0 AS first_blocker, p->>'execute' AS execute
FROM reset_plan_json() p;
DROP TABLE store.wishlist;
