/*-------------------------------------------------------------------------
 *
 * plan.h
 *	  A reset plan: what a reset would delete, rebuild and preserve, the
 *	  warnings and blockers, and the token that identifies it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_PLAN_H
#define RESET_SYSTEM_PLAN_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "config.h"
#include "environment.h"
#include "internal.h"
#include "storage_config.h"

#define RS_TOKEN_LEN 16

/* A reason reset_execute would refuse. */
typedef struct RsBlocker
{
	int			sqlstate;
	char	   *message;
	char	   *detail;
	char	   *hint;
} RsBlocker;

/* A table of a schema that holds registered tables (registered or not). */
typedef struct RsSchemaTable
{
	Oid			relid;
	char		relkind;
	bool		partition;
	char	   *name;			/* schema.table, for messages */
	char	   *qname;			/* "schema"."table" */
} RsSchemaTable;

/* A foreign key between two tables the reset deletes (collapsed to the
 * registered tables that own them). */
typedef struct RsFkEdge
{
	RsTable    *referencing;
	RsTable    *referenced;
} RsFkEdge;

typedef struct RsPlan
{
	RsConfig   *cfg;

	/* the target */
	char	   *database;
	char	   *server;			/* host:port or socket directory and port */
	char	   *cluster_name;	/* NULL when not set */
	uint64		system_identifier;
	char	   *environment;
	RsEnvStatus env;			/* label, protection, unlock in force */
	const char *mode;

	/* registered tables that take part, annotated */
	List	   *delete_tables;	/* RsTable * deleted by the reset */
	List	   *preserve_tables;	/* RsTable * kept */
	List	   *covered;		/* RsTable * inside another registered table's
								 * tree, listed under it */
	List	   *effective_delete;	/* OIDs: delete_tables and all children */
	List	   *effective_preserve; /* OIDs: preserve_tables and all children */
	List	   *edges;			/* RsFkEdge * among delete_tables */

	/* the structure the reset depends on (part of the token) */
	List	   *schemas;		/* OIDs of the schemas of registered tables */
	List	   *schema_tables;	/* RsSchemaTable *: every table in them */

	List	   *warnings;		/* char * */
	List	   *blockers;		/* RsBlocker * */

	RsStorageConfig *storage;	/* NULL: no storage and no prefixes */
	bool		uses_storage;	/* storage columns or prefixes registered */
	int64		purge_objects;	/* keys a reset would queue (upper bound) */

	/* the live storage check (plans shown to a user only) */
	List	   *storage_checks;	/* RsCheck *; NIL when none ran */
	TimestampTz storage_checked_at;
	bool		storage_check_cached;
	char	   *storage_check_error;	/* why no check could run */

	bool		under_locks;	/* reset_execute holds the reset's locks */
	bool		counted;
	bool		estimate;		/* counts from the statistics (reset_plan(estimate => true)) */
	int64		delete_rows;
	int64		preserve_rows;

	char		token[RS_TOKEN_LEN + 1];
} RsPlan;

extern RsPlan *rs_plan_load(RsSession *s, bool lock_unlock);
extern void rs_plan_resolve(RsSession *s, RsPlan *plan);
extern void rs_plan_guard_blockers(RsPlan *plan);
extern void rs_plan_analyze(RsPlan *plan);
extern void rs_plan_count(RsPlan *plan);
extern void rs_plan_estimate(RsPlan *plan);
extern void rs_plan_add_warning(RsPlan *plan, const char *fmt,...) pg_attribute_printf(2, 3);
extern RsBlocker *rs_plan_add_blocker(RsPlan *plan, int sqlstate,
									  char *message, char *detail, char *hint);
extern void rs_plan_raise_blockers(RsPlan *plan);
extern RsTable *rs_plan_find_delete(RsPlan *plan, Oid relid);
extern List *rs_plan_key_tables(RsPlan *plan, RsAction action);
extern Datum rs_oid_array(List *oids);

/* plan_tree.c: inheritance trees (partitions and children) */
extern void rs_tree_build(RsPlan *plan, RsTable *t);
extern void rs_tree_analyze(RsPlan *plan);
extern void rs_tree_count(List *tables, bool estimate);
extern void rs_tree_recount(List *tables);
extern int	rs_tree_member_count(List *tables);

/* plan_registrations.c: registrations checked against the catalogs now */
extern void rs_check_storage_columns(RsPlan *plan);
extern void rs_check_registrants(RsPlan *plan);
extern void rs_check_rebuild_roles(RsPlan *plan);

/* plan_render.c */
extern void rs_plan_warn_more(RsSession *s, RsPlan *plan, bool backup, bool may_probe);

/* plan_token.c */
extern void rs_plan_compute_token(RsPlan *plan);

#endif							/* RESET_SYSTEM_PLAN_H */
