/*-------------------------------------------------------------------------
 *
 * internal.h
 *	  Running reset_system's own SQL safely: pinned search_path, the
 *	  extension owner's rights for internal tables, and SPI helpers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_INTERNAL_H
#define RESET_SYSTEM_INTERNAL_H

#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/tuplestore.h"

/* State saved by rs_enter() and restored by rs_leave(). */
typedef struct RsSession
{
	int			guc_nest;		/* GUC nest level for the pinned settings */
	char	   *caller_search_path; /* the caller's search_path, for user SQL */
	Oid			caller_role;	/* current_user when the function was called */
	Oid			ext_owner;		/* owner of the extension */
	int			catalog_version;	/* its SQL objects' version: RS_CATALOG_* */
	Oid			saved_userid;	/* for rs_as_owner_begin/end */
	int			saved_sec_context;
	bool		as_owner;
} RsSession;

extern void rs_require_writable(const char *func);
extern void rs_enter(RsSession *s);
extern void rs_leave(RsSession *s);
extern void rs_as_owner_begin(RsSession *s);
extern void rs_as_owner_end(RsSession *s);
extern int	rs_use_caller_search_path(RsSession *s);
extern void rs_restore_settings(int nest);

/*
 * Versions of the extension's SQL objects (major * 100 + minor).  The
 * library serves every released version: code that needs an object added
 * by a later script checks the installed version first.
 */
#define RS_CATALOG_1_0	100
#define RS_CATALOG_1_1	101

extern int	rs_parse_catalog_version(const char *version);
extern int	rs_catalog_version(void);
extern Oid	rs_extension_oid(void);
extern const char *rs_application_name(void);
extern Oid	rs_internal_schema_oid(void);

extern int	rs_spi(const char *sql, int nargs, Oid *argtypes, Datum *values,
				   const char *nulls, bool read_only, int expected);
extern char *rs_spi_text(int row, int col);
extern int64 rs_spi_int64(int row, int col, int64 if_null);
extern bool rs_spi_bool(int row, int col);
extern Oid	rs_spi_oid(int row, int col);
extern bool rs_spi_isnull(int row, int col);
extern Datum rs_spi_datum(int row, int col, bool *isnull);

extern char *rs_qualified_name(Oid relid, bool quoted);

/* Set-returning functions: a tuplestore in materialize mode. */
extern Tuplestorestate *rs_srf_begin(FunctionCallInfo fcinfo, TupleDesc *tupdesc);

/* Arrays of text */
extern List *rs_text_array_to_list(Datum array);
extern Datum rs_list_to_text_array(List *strings);
extern Datum rs_text_array_n(char **values, int n);
extern Datum rs_int8_array_n(int64 *values, int n);

#endif							/* RESET_SYSTEM_INTERNAL_H */
