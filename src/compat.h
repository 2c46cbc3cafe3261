/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Version guards for the PostgreSQL server APIs reset_system uses.
 *
 * Every #if on PG_VERSION_NUM lives here, so the rest of the code reads as
 * if it were written for one server version.  Supported: 15 to 18 (13 and
 * 14 are no longer maintained by the PostgreSQL project; their branches
 * were dropped).  CI builds on 15, 17 and 18; 16 takes the same branches
 * as 17 here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_COMPAT_H
#define RESET_SYSTEM_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "reset_system requires PostgreSQL 15 or later"
#endif

#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/guc.h"

/* raw_parser() has taken a parse-mode argument since 14. */
#define rs_raw_parser(str) raw_parser((str), RAW_PARSE_DEFAULT)

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

/* Reserving a GUC prefix (EmitWarningsOnPlaceholders before 15). */
#define rs_reserve_guc_prefix(prefix) MarkGUCPrefixReserved(prefix)

/* get_partition_parent() has taken "even_if_detached" since 14. */
#include "catalog/partition.h"
#define get_partition_parent_compat(relid) get_partition_parent((relid), true)

/* A uniformly distributed double in [0, 1), for retry jitter. */
#include "common/pg_prng.h"
#define rs_random_fraction() pg_prng_double(&pg_global_prng_state)

/*
 * Digests for object storage requests (SHA-256 of a body, MD5 for
 * Content-MD5), with the cryptohash API (its final() has taken the
 * output length since 15).
 */
#include "common/cryptohash.h"
#include "common/md5.h"
#include "common/sha2.h"

static inline bool
rs_digest(bool sha256, const void *data, size_t len, uint8 *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(sha256 ? PG_SHA256 : PG_MD5);
	bool		ok;

	if (ctx == NULL)
		return false;
	ok = pg_cryptohash_init(ctx) == 0 &&
		pg_cryptohash_update(ctx, (const uint8 *) data, len) == 0 &&
		pg_cryptohash_final(ctx, out, sha256 ? PG_SHA256_DIGEST_LENGTH : MD5_DIGEST_LENGTH) == 0;
	pg_cryptohash_free(ctx);
	return ok;
}

/*
 * A function that never returns: 18 replaced the trailing
 * pg_attribute_noreturn() with pg_noreturn, written among the declaration
 * specifiers ("extern rs_noreturn void f(...)"), where the older attribute
 * may stand too.
 */
#if PG_VERSION_NUM >= 180000
#define rs_noreturn pg_noreturn
#else
#define rs_noreturn pg_attribute_noreturn()
#endif

/*
 * Base64 (common/base64.h): the byte buffers became "const uint8 *" /
 * "uint8 *" in 18; before, they were char.  Callers pass bytes.
 */
#include "common/base64.h"
#if PG_VERSION_NUM >= 180000
#define rs_b64_encode(src, len, dst, dstlen) \
	pg_b64_encode((const uint8 *) (src), (len), (dst), (dstlen))
#define rs_b64_decode(src, len, dst, dstlen) \
	pg_b64_decode((src), (len), (uint8 *) (dst), (dstlen))
#else
#define rs_b64_encode(src, len, dst, dstlen) \
	pg_b64_encode((const char *) (src), (len), (dst), (dstlen))
#define rs_b64_decode(src, len, dst, dstlen) \
	pg_b64_decode((src), (len), (char *) (dst), (dstlen))
#endif

/* tuplesort_getdatum() has taken a "copy" flag since 16 (before, it copied). */
#include "utils/tuplesort.h"
#if PG_VERSION_NUM >= 160000
#define rs_tuplesort_getdatum(state, val, isnull) \
	tuplesort_getdatum((state), true, true, (val), (isnull), NULL)
#else
#define rs_tuplesort_getdatum(state, val, isnull) \
	tuplesort_getdatum((state), true, (val), (isnull), NULL)
#endif

/* The xid8 type (FullTransactionId at SQL level) exists from 13 on. */
#define RS_HAVE_XID8 1

#endif							/* RESET_SYSTEM_COMPAT_H */
