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
	List	   *fixes;			/* char *: SQL that removes it, each quoted in
								 * the hint; alternatives */
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

/* What a reset does to the kept rows behind a foreign key into a table it
 * empties. */
typedef enum RsKeptAction
{
	RS_KEPT_SET_NULL,			/* ON DELETE SET NULL, or registered columns */
	RS_KEPT_SET_DEFAULT,		/* ON DELETE SET DEFAULT (a NULL default) */
	RS_KEPT_BLOCKED				/* nothing it may do: a blocker */
} RsKeptAction;

/*
 * A foreign key from a table the reset keeps (preserved, or not registered)
 * into one it empties.  Every kept row that points somewhere points at a
 * row that goes: the reset applies the declared ON DELETE action (or the
 * registered reset_register_nullify columns) to those rows first.
 */
typedef struct RsKeptFk
{
	Oid			conoid;
	char	   *conname;
	Oid			relid;			/* the kept, referencing table */
	char		relkind;
	char	   *name;			/* schema.table, for messages */
	char	   *qname;			/* "schema"."table" */
	bool		preserved;		/* registered for preservation (else not at all) */
	char	   *label;			/* its label, or its name */
	Oid			referenced;		/* the emptied table it references */
	char		deltype;		/* pg_constraint.confdeltype */
	char		matchtype;		/* pg_constraint.confmatchtype */
	List	   *fk_columns;		/* char *: the constraint's columns */
	List	   *set_columns;	/* char *: the columns the reset sets */
	List	   *notnull_columns;	/* char *: its NOT NULL columns */
	bool		nullify;		/* set by a reset_register_nullify registration */
	RsKeptAction action;
	const char *why;			/* blocked: "cascade", "not null", "default",
								 * "match full" or "no action" */
	char	   *why_column;		/* blocked: the column concerned */
	char	   *why_default;	/* blocked: its default */
	char	   *definition;		/* pg_get_constraintdef(), to re-create it */
	char	   *comment;		/* its comment, or NULL */
	bool		recreate;		/* dropped and re-created around a TRUNCATE */
	bool		applied;		/* the reset changed its rows */
	int64		rows;			/* kept rows it changes (-1: not counted) */
} RsKeptFk;

/* One type value found in the rows of a generic reference. */
typedef struct RsGenericType
{
	char	   *value;			/* the type column's value, as text */
	char	   *shown;			/* how to name it ("projects.project") */
	Oid			target;			/* the table it names, or InvalidOid */
	char	   *unresolved;		/* why it names no table, or NULL */
	bool		emptied;		/* the reset empties that table */
	int64		rows;
} RsGenericType;

/* A registered generic reference of a table the reset keeps. */
typedef struct RsGeneric
{
	RsGenericReg *reg;
	char	   *name;			/* schema.table, for messages */
	char	   *qname;
	char		relkind;
	bool		preserved;
	char	   *label;
	Oid			content_types;	/* convention django: django_content_type */
	List	   *types;			/* RsGenericType *, by value */
	int64		rows;			/* rows pointing into emptied tables */
	int64		deleted;		/* rows the reset deleted */
} RsGeneric;

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
	Oid		   *delete_sorted;	/* effective_delete sorted, for rs_plan_deletes */
	int			ndelete_sorted;
	Oid		   *preserve_sorted;	/* effective_preserve sorted */
	int			npreserve_sorted;
	List	   *edges;			/* RsFkEdge * among delete_tables */

	/* kept rows that point into emptied tables (plan_kept.c, plan_generic.c) */
	List	   *kept_fks;		/* RsKeptFk *: foreign keys from kept tables */
	List	   *generics;		/* RsGeneric *: generic references of kept tables */
	List	   *kept_changed;	/* OIDs of the kept tables whose rows change */
	bool		restart_identity;	/* sequences restart (else continue) */

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
extern void rs_blocker_fix(RsBlocker *b, char *sql);
extern void rs_plan_raise_blockers(RsPlan *plan);
extern RsTable *rs_plan_find_delete(RsPlan *plan, Oid relid);
extern RsTable *rs_plan_find_preserve(RsPlan *plan, Oid relid);
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

/* plan_kept.c: foreign keys from kept tables into emptied ones */
extern void rs_kept_resolve(RsPlan *plan);
extern void rs_kept_analyze(RsPlan *plan);
extern void rs_kept_count(RsPlan *plan);
extern char *rs_kept_fk_column_list(RsKeptFk *k, List *columns);

/* plan_generic.c: generic references */
extern void rs_generic_resolve(RsPlan *plan);
extern void rs_generic_analyze(RsPlan *plan);
extern void rs_generic_count(RsPlan *plan);
extern Oid	rs_django_content_types(Oid relid, const char *type_column);
extern char rs_type_kind(Oid type);

/* inflect.c: Rails' table names for class names */
extern List *rs_rails_table_names(const char *class_name);

extern bool rs_plan_deletes(RsPlan *plan, Oid relid);
extern bool rs_plan_preserves(RsPlan *plan, Oid relid);

/* plan_locks.c */
extern void rs_plan_check_lock_capacity(RsPlan *plan);

/* migration_tables.c */
extern void rs_check_migration_tables(RsPlan *plan);

/* plan_render.c */
extern void rs_plan_warn_more(RsSession *s, RsPlan *plan, bool backup, bool may_probe);

/* plan_token.c */
extern void rs_plan_compute_token(RsPlan *plan);

#endif							/* RESET_SYSTEM_PLAN_H */
