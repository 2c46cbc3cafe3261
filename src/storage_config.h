/*-------------------------------------------------------------------------
 *
 * storage_config.h
 *	  The configured storage backend and purged prefixes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_STORAGE_CONFIG_H
#define RESET_SYSTEM_STORAGE_CONFIG_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "internal.h"
#include "storage.h"

typedef struct RsStorageConfig
{
	char	   *backend;		/* NULL: only prefixes registered */
	char	   *options;		/* JSON object, as text */
	char	   *location;		/* one line, for plans */
	const RsStorageDriver *driver;	/* NULL if the backend is unknown */
	bool		foreign;		/* configured on another server/database */
	List	   *prefixes;		/* char *, registered prefixes */
} RsStorageConfig;

extern RsStorageConfig *rs_storage_config_load(RsSession *s);

#endif							/* RESET_SYSTEM_STORAGE_CONFIG_H */
