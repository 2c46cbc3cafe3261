-- registration_rights: registering a table records who registered it, and
-- needs DELETE or TRUNCATE on it (for deletion) or SELECT (for
-- preservation): a role allowed to register cannot point a reset, run
-- later by a more privileged role, at a table it could not touch itself.
-- The plan names the registrant of a table whose registrant lost those
-- rights since.
CREATE SCHEMA vault;
CREATE TABLE vault.secrets (id int);
CREATE TABLE vault.audit (id int);
CREATE TABLE vault.notes (id int);
INSERT INTO vault.secrets VALUES (1), (2);
CREATE ROLE rs_configurer;
GRANT USAGE ON SCHEMA vault TO rs_configurer;
SELECT count(*) > 0 AS granted FROM reset_grant_operator('rs_configurer', can_configure => true);

SET ROLE rs_configurer;
SELECT reset_register_table('vault.secrets', 'delete', 'secret');
SELECT reset_register_table('vault.secrets', 'preserve', 'secret');
SELECT * FROM reset_register_schema('vault');
RESET ROLE;
SELECT count(*) AS registered FROM reset_system.registered_tables WHERE tbl::text LIKE 'vault.%';

-- TRUNCATE (or DELETE) is enough to register for deletion, SELECT to keep
GRANT TRUNCATE ON vault.secrets TO rs_configurer;
GRANT SELECT ON vault.audit TO rs_configurer;
GRANT DELETE ON vault.notes TO rs_configurer;
SET ROLE rs_configurer;
SELECT reset_register_table('vault.secrets', 'delete', 'secret');
SELECT reset_register_table('vault.audit', 'preserve', 'audit entry');
SELECT tbl, action, status FROM reset_register_schema('vault') ORDER BY 1;
RESET ROLE;
SELECT tbl, action, registered_by FROM reset_system.registered_tables
WHERE tbl::text LIKE 'vault.%' ORDER BY 1;

-- rights revoked later: the plan names who registered the table
REVOKE TRUNCATE ON vault.secrets FROM rs_configurer;
REVOKE SELECT ON vault.audit FROM rs_configurer;
SELECT * FROM test_plan() WHERE line ~ 'registered (for|by)';

-- a registrant that no longer exists
DROP OWNED BY rs_configurer;
DROP ROLE rs_configurer;
SELECT * FROM test_plan() WHERE line ~ 'registered (for|by)';

DELETE FROM reset_system.registered_tables WHERE tbl::text LIKE 'vault.%';
DROP SCHEMA vault CASCADE;
