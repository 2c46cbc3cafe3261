/*-------------------------------------------------------------------------
 *
 * migration_tables.c
 *	  The tables where migration tools record which migrations ran.
 *
 * Deleting one makes every migration look unapplied: the next migration
 * run tries to create tables that exist and fails.  reset_register_schema
 * preserves them without being told, and a plan that would delete one is
 * blocked unless the registration says force => true.
 *
 * They are recognised by name (the name each tool gives its table, in any
 * schema), and the generic name "migrations" only with the exact columns
 * Laravel or TypeORM give it: an application table called "migrations"
 * (data migrations of a domain, say) is not taken for one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "utils/catcache.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "config.h"
#include "plan.h"

/* A history table recognised by its name alone. */
typedef struct MigrationTable
{
	const char *name;
	const char *tool;
} MigrationTable;

static const MigrationTable migration_tables[] = {
	{"django_migrations", "Django"},
	{"schema_migrations", "Rails (or Ecto, golang-migrate)"},
	{"ar_internal_metadata", "Rails"},
	{"alembic_version", "Alembic"},
	{"flyway_schema_history", "Flyway"},
	{"databasechangelog", "Liquibase"},
	{"databasechangeloglock", "Liquibase"},
	{"knex_migrations", "Knex"},
	{"knex_migrations_lock", "Knex"},
	{"_prisma_migrations", "Prisma"},
	{"SequelizeMeta", "Sequelize"},
	{"__EFMigrationsHistory", "Entity Framework"},
	{"goose_db_version", "goose"},
	{"doctrine_migration_versions", "Doctrine Migrations"},
	{"_sqlx_migrations", "SQLx"},
	{"__diesel_schema_migrations", "Diesel"},
	{"refinery_schema_history", "Refinery"},
};

/* The columns of a "migrations" table, tool by tool. */
typedef struct MigrationShape
{
	const char *tool;
	const char *columns[3];
} MigrationShape;

static const MigrationShape migration_shapes[] = {
	{"Laravel", {"id", "migration", "batch"}},
	{"TypeORM", {"id", "timestamp", "name"}},
};

/*
 * has_exact_columns: are the live columns of relid exactly these three?
 */
static bool
has_exact_columns(Oid relid, const char *const *columns)
{
	CatCList   *attrs = SearchSysCacheList1(ATTNUM, ObjectIdGetDatum(relid));
	int			live = 0;
	int			matched = 0;

	for (int i = 0; i < attrs->n_members; i++)
	{
		Form_pg_attribute att = (Form_pg_attribute) GETSTRUCT(&attrs->members[i]->tuple);

		if (att->attnum <= 0 || att->attisdropped)
			continue;
		live++;
		for (int j = 0; j < 3; j++)
			if (strcmp(NameStr(att->attname), columns[j]) == 0)
				matched++;
	}
	ReleaseSysCacheList(attrs);
	return live == 3 && matched == 3;
}

/*
 * rs_migration_tool: the migration tool whose history table relid is,
 * or NULL.
 */
const char *
rs_migration_tool(Oid relid)
{
	char	   *name = get_rel_name(relid);

	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < lengthof(migration_tables); i++)
		if (strcmp(name, migration_tables[i].name) == 0)
			return migration_tables[i].tool;
	if (strcmp(name, "migrations") == 0)
		for (size_t i = 0; i < lengthof(migration_shapes); i++)
			if (has_exact_columns(relid, migration_shapes[i].columns))
				return migration_shapes[i].tool;
	return NULL;
}

/*
 * rs_check_migration_tables: a migration history registered for deletion
 * (alone, or inside the tree of a table registered for deletion) blocks
 * the plan, unless its registration says force.  The fixes: keep it, or
 * force its deletion.
 */
void
rs_check_migration_tables(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		const char *tool;
		RsBlocker  *b;
		char	   *keep;
		char	   *force;

		if (t->missing || t->action != RS_ACTION_DELETE || t->force ||
			!rs_plan_deletes(plan, t->relid))
			continue;
		tool = rs_migration_tool(t->relid);
		if (tool == NULL)
			continue;
		keep = rs_register_table_call(t->relid, RS_ACTION_PRESERVE, t->label, t->storage_columns);
		force = rs_register_table_call_force(t->relid, t->label, t->storage_columns);
		b = rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
								psprintf("table \"%s\" holds the migration history of %s, and is registered for deletion",
										 t->name, tool),
								pstrdup("After a reset every migration would show as unapplied, and the next "
										"migration run would fail on the tables that exist."),
								psprintf("Keep it: %s or, if deleting the history is intended, say so: %s",
										 keep, force));
		rs_blocker_fix(b, keep);
		rs_blocker_fix(b, force);
	}
}
