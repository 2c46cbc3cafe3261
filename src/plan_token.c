/*-------------------------------------------------------------------------
 *
 * plan_token.c
 *	  The plan token: a hash of everything a reset depends on, so that the
 *	  plan a person read is the plan that runs.
 *
 * It covers:
 *	- the target: the cluster's system identifier and the database;
 *	- the configuration: registered tables (name, OID, action, force),
 *	  rebuild steps (label, command, role, search_path, phase), storage
 *	  and prefixes, nullified columns, generic references, and whether
 *	  sequences restart (reset_system.restart_identity);
 *	- the structure: every table in the schemas of registered tables
 *	  (registered or not, partitions included), every partition and child
 *	  of a table the reset empties (with its parent), each storage
 *	  column's state and type, and every foreign key from a kept table
 *	  into an emptied one with what the reset does to its rows.
 *
 * Not the row counts: a plan reviewed on a busy database stays
 * executable.  Labels are cosmetic and left out.  A table added by a
 * migration, a partition attached, or a storage column retyped after the
 * plan was read makes the old token fail (RS002), and so does a foreign
 * key whose ON DELETE action the reset would apply to kept rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "plan.h"

/*
 * append_storage_columns: each storage column with what the catalogs say
 * about it now.
 */
static void
append_storage_columns(StringInfo canon, RsTable *t)
{
	ListCell   *lc;

	foreach(lc, t->storage_columns)
	{
		Oid			type = InvalidOid;
		RsColumnState state = rs_storage_column_state(t->relid, (char *) lfirst(lc), &type);

		appendStringInfo(canon, "\t%s:%d:%u", (char *) lfirst(lc), (int) state, type);
	}
}

/*
 * rs_plan_compute_token: hash of the target, the configuration and the
 * structure (see the header comment), into plan->token.
 */
void
rs_plan_compute_token(RsPlan *plan)
{
	StringInfoData canon;
	ListCell   *lc;
	bytea	   *digest;
	unsigned char *d;

	initStringInfo(&canon);
	appendStringInfo(&canon, "reset_system plan v3\n" UINT64_FORMAT "\n%u\n%s\nrestart identity %d\n",
					 plan->system_identifier, MyDatabaseId, plan->database,
					 (int) plan->restart_identity);
	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (t->missing)
			continue;
		appendStringInfo(&canon, "table\t%s\t%u\t%s%s", t->qname, t->relid,
						 rs_action_name(t->action), t->force ? "\tforce" : "");
		append_storage_columns(&canon, t);
		appendStringInfoChar(&canon, '\n');
	}
	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		foreach(lc2, t->members)
		{
			RsMember   *m = (RsMember *) lfirst(lc2);

			appendStringInfo(&canon, "member\t%u\t%u\t%u\t%s\t%c\n", t->relid, m->relid,
							 m->parent, m->qname, m->partition ? 'p' : 'i');
		}
	}
	foreach(lc, plan->schema_tables)
	{
		RsSchemaTable *st = (RsSchemaTable *) lfirst(lc);

		appendStringInfo(&canon, "schema table\t%u\t%s\t%c\n", st->relid, st->qname, st->relkind);
	}
	foreach(lc, plan->cfg->rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);

		appendStringInfo(&canon, "rebuild\t%s\t%s\t%s\t%s%s\n", r->label, r->command,
						 r->run_as, r->search_path, r->before ? "\tbefore" : "");
	}
	foreach(lc, plan->cfg->nullify)
	{
		RsNullify  *nl = (RsNullify *) lfirst(lc);
		ListCell   *lc2;

		appendStringInfo(&canon, "nullify\t%u", nl->relid);
		foreach(lc2, nl->columns)
			appendStringInfo(&canon, "\t%s", (char *) lfirst(lc2));
		appendStringInfoChar(&canon, '\n');
	}
	foreach(lc, plan->cfg->generics)
	{
		RsGenericReg *g = (RsGenericReg *) lfirst(lc);

		appendStringInfo(&canon, "generic\t%u\t%s\t%s\t%s\t%s\n", g->relid, g->type_column,
						 g->id_column, g->targets ? g->targets : "", g->convention ? g->convention : "");
	}
	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *k = (RsKeptFk *) lfirst(lc);
		ListCell   *lc2;

		if (k->action == RS_KEPT_BLOCKED)
			continue;
		appendStringInfo(&canon, "kept fk\t%u\t%s\t%u\t%u\t%d", k->conoid, k->conname, k->relid,
						 k->referenced, (int) k->action);
		foreach(lc2, k->set_columns)
			appendStringInfo(&canon, "\t%s", (char *) lfirst(lc2));
		appendStringInfoChar(&canon, '\n');
	}
	if (plan->storage)
	{
		appendStringInfo(&canon, "storage\t%s\t%s\n",
						 plan->storage->backend ? plan->storage->backend : "",
						 plan->storage->options ? plan->storage->options : "");
		foreach(lc, plan->storage->prefixes)
			appendStringInfo(&canon, "prefix\t%s\n", (char *) lfirst(lc));
	}

	digest = DatumGetByteaPP(OidFunctionCall1(F_SHA256,
											  PointerGetDatum(cstring_to_text_with_len(canon.data, canon.len))));
	d = (unsigned char *) VARDATA_ANY(digest);
	for (int i = 0; i < RS_TOKEN_LEN / 2; i++)
		snprintf(plan->token + 2 * i, 3, "%02x", d[i]);
	pfree(canon.data);
}
