/*-------------------------------------------------------------------------
 *
 * plan_registrations.c
 *	  The registrations checked against the catalogs as they are now, on
 *	  every plan and again under the reset's locks: storage columns that
 *	  were dropped, renamed or retyped, registrants that lost their rights
 *	  on a table, rebuild steps whose role is gone.
 *
 * A registration is only a row in reset_system: the schema moves on
 * without it.  A broken registration never makes the plan fail; it is
 * reported, with the statement that repairs it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "plan.h"
#include "reset_system.h"

/*
 * valid_columns: the storage columns of t that can be read as keys now.
 */
static List *
valid_columns(RsTable *t)
{
	List	   *ok = NIL;
	ListCell   *lc;

	foreach(lc, t->storage_columns)
	{
		Oid			type;

		if (rs_storage_column_state(t->relid, (char *) lfirst(lc), &type) == RS_COLUMN_OK)
			ok = lappend(ok, lfirst(lc));
	}
	return ok;
}

/*
 * rs_check_storage_columns: every storage column of every registered
 * table must exist and be of a text type.  A deleted table's broken column
 * would leave the files of its rows in storage (or, cast from another
 * type, queue keys that name other files); a kept table's would let the
 * purge delete files its rows still reference.  Either way: a blocker.
 */
void
rs_check_storage_columns(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		if (t->missing)
			continue;
		foreach(lc2, t->storage_columns)
		{
			char	   *col = (char *) lfirst(lc2);
			Oid			type = InvalidOid;
			RsColumnState state = rs_storage_column_state(t->relid, col, &type);
			char	   *again = rs_register_table_call(t->relid, t->action, t->label, valid_columns(t));
			const char *what = t->action == RS_ACTION_DELETE
				? "the files of deleted rows would stay in storage"
				: "the purge could delete files that kept rows still reference";

			if (state == RS_COLUMN_MISSING || state == RS_COLUMN_SYSTEM)
				rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_UNDEFINED_COLUMN,
												   psprintf("storage column \"%s\" of table \"%s\" no longer exists",
															col, t->name),
												   psprintf("It was dropped or renamed after the table was registered; "
															"a reset cannot read the keys it held, so %s.", what),
												   psprintf("Register the table again with the storage columns it has now "
															"(if the column was renamed, add its new name): %s", again)),
							   again);
			else if (state == RS_COLUMN_NOT_TEXT)
			{
				char	   *retype = psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE text;",
											  t->qname, quote_identifier(col));
				RsBlocker  *b;

				b = rs_plan_add_blocker(plan, ERRCODE_DATATYPE_MISMATCH,
										psprintf("storage column \"%s\" of table \"%s\" is of type %s now, not text",
												 col, t->name, format_type_be(type)),
										psprintf("Its type changed after the table was registered. Its values "
												 "cast to text are not the storage keys it held, so %s.", what),
										psprintf("Change it back to a text type (%s) "
												 "or register the table again without it: %s",
												 retype, again));
				rs_blocker_fix(b, retype);
				rs_blocker_fix(b, again);
			}
		}
	}
}

/*
 * rs_check_registrants: a table registered by a role that has lost the
 * rights registering needs (DELETE or TRUNCATE to register it for
 * deletion, SELECT for preservation), or that no longer exists.  A reset
 * run by another role empties it all the same, so the plan names who
 * registered it.
 */
void
rs_check_registrants(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		Oid			role;

		if (t->missing || t->registered_by == NULL)
			continue;
		role = get_role_oid(t->registered_by, true);
		if (!OidIsValid(role))
			rs_plan_add_warning(plan,
								"table \"%s\" was registered for %s by role \"%s\", which no longer exists; "
								"check the registration (SELECT * FROM reset_config();) and register it again",
								t->name, t->action == RS_ACTION_DELETE ? "deletion" : "preservation",
								t->registered_by);
		else if (t->action == RS_ACTION_DELETE &&
				 rs_class_aclcheck(t->relid, role, ACL_DELETE) != ACLCHECK_OK &&
				 rs_class_aclcheck(t->relid, role, ACL_TRUNCATE) != ACLCHECK_OK)
			rs_plan_add_warning(plan,
								"table \"%s\" was registered for deletion by role \"%s\", which has neither DELETE nor TRUNCATE on it now; "
								"a reset run by a role that has them empties it all the same",
								t->name, t->registered_by);
		else if (t->action == RS_ACTION_PRESERVE &&
				 rs_class_aclcheck(t->relid, role, ACL_SELECT) != ACLCHECK_OK)
			rs_plan_add_warning(plan,
								"table \"%s\" was registered for preservation by role \"%s\", which has no SELECT on it now",
								t->name, t->registered_by);
	}
}

/*
 * rs_check_rebuild_roles: a rebuild step runs as the role that registered
 * it; that role must still exist under the name it was registered with.
 * A dropped or renamed role blocks the plan, and the fix is the
 * registration to run again, as the role the step should run as.
 */
void
rs_check_rebuild_roles(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);

		if (!OidIsValid(get_role_oid(r->run_as, true)))
		{
			char	   *again = psprintf("SELECT reset_register_rebuild(%s, %s%s);",
										 quote_literal_cstr(r->label), quote_literal_cstr(r->command),
										 r->before ? ", phase => 'before'" : "");

			rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_UNDEFINED_OBJECT,
								psprintf("rebuild step \"%s\" runs as role \"%s\", which does not exist any more",
										 r->label, r->run_as),
								pstrdup("A rebuild step runs with the privileges of the role that registered it, "
										"under that role's name; the role was dropped or renamed."),
								psprintf("Register the step again as the role it should run as (it keeps its place): %s",
										 again)),
						   again);
		}
	}
}
