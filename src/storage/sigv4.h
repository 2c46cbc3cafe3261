/*-------------------------------------------------------------------------
 *
 * sigv4.h
 *	  AWS Signature Version 4 request signing (S3 and S3-compatible stores).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_SIGV4_H
#define RESET_SYSTEM_SIGV4_H

#include "postgres.h"

#include <time.h>

#include "nodes/pg_list.h"

/* Who signs, and for which region and service. */
typedef struct RsSigV4Key
{
	const char *access_key;
	const char *secret_key;
	const char *session_token;	/* NULL when there is none */
	const char *region;
	const char *service;		/* "s3" */
} RsSigV4Key;

extern char *rs_sigv4_canonical_uri(const char *path);
extern char *rs_sigv4_canonical_query(const char *query);
extern List *rs_sigv4_sign(const RsSigV4Key *key, const char *method,
						   const char *url, List *headers,
						   const char *payload_sha256, time_t now);

#endif							/* RESET_SYSTEM_SIGV4_H */
