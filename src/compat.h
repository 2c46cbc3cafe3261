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

/*
 * Digests for object storage requests (SHA-256 of a body, MD5 for
 * Content-MD5).  The cryptohash API appeared in 14 and its final() took a
 * length from 15 on; 13 has the older sha2/md5 functions.
 */
#include "common/md5.h"
#include "common/sha2.h"
#if PG_VERSION_NUM >= 140000
#include "common/cryptohash.h"
#endif

static inline bool
rs_digest(bool sha256, const void *data, size_t len, uint8 *out)
{
#if PG_VERSION_NUM >= 140000
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(sha256 ? PG_SHA256 : PG_MD5);
	bool		ok;

	if (ctx == NULL)
		return false;
	ok = pg_cryptohash_init(ctx) == 0 &&
		pg_cryptohash_update(ctx, (const uint8 *) data, len) == 0 &&
#if PG_VERSION_NUM >= 150000
		pg_cryptohash_final(ctx, out, sha256 ? PG_SHA256_DIGEST_LENGTH : MD5_DIGEST_LENGTH) == 0;
#else
		pg_cryptohash_final(ctx, out) == 0;
#endif
	pg_cryptohash_free(ctx);
	return ok;
#else
	if (sha256)
	{
		pg_sha256_ctx ctx;

		pg_sha256_init(&ctx);
		pg_sha256_update(&ctx, (const uint8 *) data, len);
		pg_sha256_final(&ctx, out);
		return true;
	}
	return pg_md5_binary(data, len, out);
#endif
}

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

/* The xid8 type (FullTransactionId at SQL level) exists from 13 on. */
#define RS_HAVE_XID8 1

#endif							/* RESET_SYSTEM_COMPAT_H */
