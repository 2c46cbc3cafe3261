/*-------------------------------------------------------------------------
 *
 * storage.h
 *	  The storage backend interface: what the purge worker needs from a
 *	  place that holds uploaded files (a local directory, a bucket, a
 *	  WebDAV server).
 *
 * A backend is a table of function pointers, one file per backend in this
 * directory, named for the backend (file.c, s3.c, gcs.c, http.c,
 * azure.c).  The queue and the worker only ever call through this table;
 * adding a backend means adding a driver file and one line to the registry
 * in registry.c.  The HTTP transfers the cloud backends share are in
 * transfer.c, the digests, URL encoding and XML reading in webutil.c, the
 * checks of options (URLs, names) in options.c.
 *
 * Every call happens in the purge worker, never in a backend that holds a
 * reset's locks.  Deletes must be idempotent: an object that is already
 * gone is a success (RS_OBJ_MISSING), because delivery is at least once.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_STORAGE_H
#define RESET_SYSTEM_STORAGE_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* The outcome of one object delete. */
typedef enum RsObjectResult
{
	RS_OBJ_PENDING = 0,			/* not attempted yet */
	RS_OBJ_DELETED,				/* it existed and is gone */
	RS_OBJ_MISSING,				/* it was already gone: done */
	RS_OBJ_RETRY,				/* transient failure: try again later */
	RS_OBJ_FAILED				/* permanent failure: never retried */
} RsObjectResult;

/* One object of a batch handed to a driver. */
typedef struct RsObject
{
	const char *key;
	RsObjectResult result;
	char	   *error;			/* why, for RETRY and FAILED (palloc'd) */
	bool		not_sent;		/* RETRY without trying: no attempt counted */
} RsObject;

/* One line of reset_storage_check(). */
typedef struct RsCheck
{
	const char *name;			/* "reachable", "credentials", "bucket", ... */
	bool		ok;
	char	   *detail;			/* what the server said */
} RsCheck;

/* list_prefix's answer when the server offers no listing */
extern const char RS_LIST_UNSUPPORTED[];

/* Called by list_prefix for each object found; return false to stop. */
typedef bool (*RsListCallback) (const char *key, void *arg);

typedef struct RsStorageDriver
{
	const char *name;			/* as given to reset_configure_storage */
	const char *description;	/* one line for docs and errors */

	/*
	 * Check the options (a JSON object, as text) at configuration time and
	 * ERROR with a clear message on anything wrong.  Returns a one-line
	 * description of the location for plans ("directory /srv/media").
	 */
	char	   *(*validate) (const char *options_json);

	/*
	 * Open a session for a batch of work; the returned state is passed to
	 * every other call.  May ERROR (configuration that became invalid).
	 */
	void	   *(*open) (const char *options_json);

	/* Delete a batch of objects; set every item's result. */
	void		(*delete_objects) (void *state, RsObject *objects, int n);

	/*
	 * Call cb for every object whose key starts with prefix.  Returns NULL
	 * on success or an error text (the listing is retried later).
	 */
	char	   *(*list_prefix) (void *state, const char *prefix,
								RsListCallback cb, void *arg);

	/* After a prefix is purged: tidy up (e.g. empty directories).  May be NULL. */
	void		(*cleanup_prefix) (void *state, const char *prefix);

	/*
	 * Delete everything under a prefix ending in "/" in one request (a
	 * WebDAV collection), for servers that cannot list.  May be NULL.
	 * Returns NULL on success or an error text.
	 */
	char	   *(*delete_collection) (void *state, const char *prefix);

	/* Store an object (a re-seeded resource file). */
	RsObjectResult (*put_object) (void *state, const char *key, const char *data,
								  size_t len, char **error);

	/* Live checks for reset_storage_check(): a List of RsCheck *. */
	List	   *(*probe) (void *state);

	/*
	 * Check that the purge can act where it will: dirs are directories
	 * (relative to the root, "" for the root itself) sampled from the keys
	 * a reset would queue and from the registered prefixes, and "from"
	 * describes that sample for the check's detail.  Returns RsCheck *s.
	 * Only for backends whose objects are files of the database server (no
	 * network I/O); NULL for the others.
	 */
	List	   *(*check_dirs) (void *state, List *dirs, const char *from);

	void		(*close) (void *state);

	int			batch_size;		/* objects per delete_objects call */

	/*
	 * The objects are files of the database server: a failure is a
	 * local-disk error (reported as such, never as a request to retry).
	 */
	bool		local;
} RsStorageDriver;

/* The registry */
extern const RsStorageDriver *rs_storage_driver(const char *name, bool missing_ok);
extern char *rs_storage_driver_names(void);

/* Checks shared by the drivers */
extern const char *rs_storage_key_problem(const char *key, bool is_prefix);

/* Settings the drivers read (reset_system.c) */
extern int	rs_purge_concurrency;
extern int	rs_storage_timeout_ms;
extern int	rs_storage_check_cache_ms;
extern char *rs_s3_credentials_file;
extern char *rs_gcs_token_file;
extern char *rs_gcs_token_command;
extern char *rs_http_authorization_file;
extern char *rs_azure_sas_token_file;
extern char *rs_azure_shared_key_file;
extern char *rs_azure_metadata_host;

extern RsCheck *rs_check_new(const char *name, bool ok, char *detail);
extern char *rs_read_secret_file(const char *path, char **error);

/* The drivers */
extern const RsStorageDriver rs_storage_file;
extern const RsStorageDriver rs_storage_s3;
extern const RsStorageDriver rs_storage_gcs;
extern const RsStorageDriver rs_storage_http;
extern const RsStorageDriver rs_storage_azure;

#endif							/* RESET_SYSTEM_STORAGE_H */
