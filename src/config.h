/*-------------------------------------------------------------------------
 *
 * config.h
 *	  What is registered: tables (delete or preserve) and rebuild steps.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_CONFIG_H
#define RESET_SYSTEM_CONFIG_H

#include "postgres.h"

#include "fmgr.h"
#include "nodes/pg_list.h"

#include "internal.h"

typedef enum RsAction
{
	RS_ACTION_DELETE,
	RS_ACTION_PRESERVE
} RsAction;

/* How a table is emptied by a reset (decided by strategy.c). */
typedef enum RsMethod
{
	RS_METHOD_NONE,				/* not emptied (preserved, missing, covered) */
	RS_METHOD_SKIP,				/* empty already: nothing to do */
	RS_METHOD_TRUNCATE,
	RS_METHOD_DELETE
} RsMethod;

/* Why a registered storage column cannot be read as keys now. */
typedef enum RsColumnState
{
	RS_COLUMN_OK,				/* exists, of a text type */
	RS_COLUMN_MISSING,			/* dropped or renamed since registration */
	RS_COLUMN_NOT_TEXT,			/* its type changed to a non-text type */
	RS_COLUMN_SYSTEM			/* a system column (an edited registration) */
} RsColumnState;

/*
 * One relation of a registered table's inheritance tree: a partition or an
 * inheritance child, at any depth and in any schema.  A reset empties (or
 * keeps) it with the registered table at the root of the tree.
 */
typedef struct RsMember
{
	Oid			relid;
	Oid			parent;			/* the parent it is listed under */
	int			depth;			/* 1: a direct child of the root */
	bool		partition;		/* a partition (else an inheritance child) */
	char		relkind;
	Oid			nspid;
	char	   *name;			/* schema.table, for messages */
	char	   *qname;			/* "schema"."table", for SQL and plans */
	struct RsTable *registered; /* its own registration, if any */
	int64		own_rows;		/* rows stored in this relation itself */
	int64		rows;			/* rows in it and everything below it */
	bool		estimated;
} RsMember;

/* One registered table, as loaded and then annotated by the plan. */
typedef struct RsTable
{
	Oid			relid;
	char	   *registered_name;	/* quoted name stored at registration */
	RsAction	action;
	char	   *label;
	List	   *storage_columns;	/* of char * */
	char	   *registered_by;	/* the role that registered it */
	bool		force;			/* a migration-history table deleted on purpose */

	/* filled in by plan.c from the catalogs */
	bool		missing;		/* OID no longer resolves */
	bool		renamed;		/* OID resolves to another name */
	char	   *name;			/* schema.table, for messages */
	char	   *qname;			/* "schema"."table", for SQL */
	char		relkind;
	Oid			nspid;
	Oid			covered_by;		/* registered ancestor whose tree holds it */
	List	   *descendants;	/* OIDs of it and its tree (all levels) */
	List	   *members;		/* RsMember *: its tree below it, depth first */
	int64		own_rows;		/* rows stored in the table itself */
	int64		rows;			/* exact count of the tree, -1 if not counted */
	int64		rows_before;	/* preserved: the count before the reset */
	bool		estimated;		/* rows is the statistics' estimate */

	/* filled in by strategy.c */
	bool		has_user_triggers;
	bool		has_rules;
	bool		has_rls;
	List	   *sequences;		/* owned sequences of it and its children */
	RsMethod	method;
	int			order;			/* position in DELETE order (children first) */
} RsTable;

typedef struct RsRebuild
{
	char	   *label;
	char	   *command;
	int			position;
	char	   *run_as;			/* the role that registered it */
	char	   *search_path;	/* its search_path at registration */
	bool		before;			/* phase 'before': after the locks, before the deletes */
	int64		count;			/* result when run, -1 if none reported */
	char	   *did;			/* what it did, for the report ("inserted 7 row(s)") */
} RsRebuild;

/* Foreign key columns of a kept table set to NULL (reset_register_nullify). */
typedef struct RsNullify
{
	Oid			relid;
	char	   *registered_name;	/* quoted name stored at registration */
	List	   *columns;		/* of char * */
} RsNullify;

/* A generic (type, id) reference of a kept table (reset_register_generic). */
typedef struct RsGenericReg
{
	Oid			relid;
	char	   *registered_name;	/* quoted name stored at registration */
	char	   *type_column;
	char	   *id_column;
	char	   *targets;		/* a JSON object as text, or NULL */
	char	   *convention;		/* "django", "rails" or NULL */
} RsGenericReg;

typedef struct RsConfig
{
	List	   *tables;			/* of RsTable *, ordered by action, then name */
	List	   *rebuilds;		/* of RsRebuild *, in registration order */
	List	   *nullify;		/* of RsNullify *, by table OID */
	List	   *generics;		/* of RsGenericReg *, by table OID and type column */
} RsConfig;

extern RsConfig *rs_load_config(RsSession *s);
extern const char *rs_action_name(RsAction action);
extern RsColumnState rs_storage_column_state(Oid relid, const char *column, Oid *type);
extern char *rs_register_table_call(Oid relid, RsAction action, const char *label,
									List *storage_columns);
extern char *rs_register_table_call_force(Oid relid, const char *label, List *storage_columns);
extern void rs_require_arg(FunctionCallInfo fcinfo, int argno, const char *func,
						   const char *argname);
extern void rs_check_registrable_table(Oid relid);
extern char *rs_columns_text(List *columns);
extern bool rs_str_member(List *strings, const char *s);

/* config_kept.c: nullified columns and generic references */
extern void rs_load_kept_config(RsConfig *cfg);

/* migration_tables.c: the history tables of migration tools */
extern const char *rs_migration_tool(Oid relid);

#endif							/* RESET_SYSTEM_CONFIG_H */
