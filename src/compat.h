/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Version guards for the PostgreSQL server APIs reset_system uses.
 *
 * Every #if on PG_VERSION_NUM lives here, so the rest of the code reads as
 * if it were written for one server version.  Supported: 13 to 17.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_COMPAT_H
#define RESET_SYSTEM_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 130000
#error "reset_system requires PostgreSQL 13 or later"
#endif

#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/guc.h"

/* raw_parser() gained a parse-mode argument in 14. */
#if PG_VERSION_NUM >= 140000
#define rs_raw_parser(str) raw_parser((str), RAW_PARSE_DEFAULT)
#else
#define rs_raw_parser(str) raw_parser(str)
#endif

/* The per-object ownership checks were folded into one function in 16. */
#if PG_VERSION_NUM >= 160000
#define rs_class_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#define rs_class_ownercheck(relid, roleid) pg_class_ownercheck((relid), (roleid))
#endif

/* pg_class_aclcheck kept its name; object_aclcheck appeared in 16. */
#define rs_class_aclcheck(relid, roleid, mode) \
	pg_class_aclcheck((relid), (roleid), (mode))

/* Reserving a GUC prefix: EmitWarningsOnPlaceholders was renamed in 15. */
#if PG_VERSION_NUM >= 150000
#define rs_reserve_guc_prefix(prefix) MarkGUCPrefixReserved(prefix)
#else
#define rs_reserve_guc_prefix(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* get_partition_parent() gained "even_if_detached" in 14. */
#include "catalog/partition.h"
#if PG_VERSION_NUM >= 140000
#define get_partition_parent_compat(relid) get_partition_parent((relid), true)
#else
#define get_partition_parent_compat(relid) get_partition_parent(relid)
#endif

/* A uniformly distributed double in [0, 1), for retry jitter. */
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#define rs_random_fraction() pg_prng_double(&pg_global_prng_state)
#else
#define rs_random_fraction() ((double) random() / ((double) MAX_RANDOM_VALUE + 1))
#endif

/* The xid8 type (FullTransactionId at SQL level) exists from 13 on. */
#define RS_HAVE_XID8 1

#endif							/* RESET_SYSTEM_COMPAT_H */
