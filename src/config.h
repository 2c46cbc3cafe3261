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

/* One registered table, as loaded and then annotated by the plan. */
typedef struct RsTable
{
	Oid			relid;
	char	   *registered_name;	/* quoted name stored at registration */
	RsAction	action;
	char	   *label;
	List	   *storage_columns;	/* of char * */

	/* filled in by plan.c from the catalogs */
	bool		missing;		/* OID no longer resolves */
	bool		renamed;		/* OID resolves to another name */
	char	   *name;			/* schema.table, for messages */
	char	   *qname;			/* "schema"."table", for SQL */
	char		relkind;
	Oid			covered_by;		/* registered ancestor that deletes it */
	List	   *descendants;	/* OIDs of inheritance children (all levels) */
	int64		rows;			/* exact count, -1 if not counted */
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
	int64		count;			/* result when run, -1 if none reported */
} RsRebuild;

typedef struct RsConfig
{
	List	   *tables;			/* of RsTable *, ordered by action, then name */
	List	   *rebuilds;		/* of RsRebuild *, in registration order */
} RsConfig;

extern RsConfig *rs_load_config(RsSession *s);
extern const char *rs_action_name(RsAction action);

#endif							/* RESET_SYSTEM_CONFIG_H */
