-- plan_token: with a token, what was shown is what runs.  A token from
-- before a configuration change, or from another database, is refused
-- before anything is locked or deleted.
SELECT store.fingerprint() AS before \gset
SELECT test_token() AS token \gset

-- configuration changed since the plan was shown
SELECT reset_register_table('store.coupons', 'preserve', 'coupon');
SELECT test_error_full(format('SELECT reset_execute(%L, %L)', 'RESET-EVERYTHING', :'token'));
SELECT reset_register_table('store.coupons', 'delete', 'coupon');

-- a made-up token
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING', '0000000000000000')$$);
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING', '')$$);

-- the same configuration in another database has another token
CREATE DATABASE rs_other_db;
\c rs_other_db
SET client_min_messages = warning;
CREATE EXTENSION reset_system;
\set ECHO none
\i test/fixtures/store.sql
\set ECHO all
RESET client_min_messages;
SELECT reset_plan_json() ->> 'token' AS other_token \gset
\c contrib_regression
SELECT :'other_token' <> test_token() AS differs_per_database;
SELECT test_error(format('SELECT reset_execute(%L, %L)', 'RESET-EVERYTHING', :'other_token'));
DROP DATABASE rs_other_db;

SELECT store.fingerprint() = :'before' AS unchanged;

-- the current token runs
BEGIN;
SELECT reset_execute('RESET-EVERYTHING', test_token()) ~ 'Reset done; it takes effect when this transaction commits.$' AS ran;
ROLLBACK;
