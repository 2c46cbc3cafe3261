/*-------------------------------------------------------------------------
 *
 * storage_sample.h
 *	  Where a purge would act: a sample of the directories holding the
 *	  keys a reset would queue, for the storage check.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_STORAGE_SAMPLE_H
#define RESET_SYSTEM_STORAGE_SAMPLE_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* At most this many directories from the keys (the prefixes come on top) */
#define RS_SAMPLE_DIRS 200

typedef struct RsDirSample
{
	List	   *dirs;			/* char *: relative directories, "" = root */
	int64		keys;			/* keys read to find them */
	int			sources;		/* storage columns of deleted tables */
	int			sampled;		/* how many of them were read */
	bool		partial;		/* some tables were sampled, not read whole */
	int			prefixes;		/* registered prefixes (their directories) */
	char	   *error;			/* why no sample could be taken, or NULL */
} RsDirSample;

extern RsDirSample *rs_storage_sample_dirs(int limit);
extern char *rs_storage_sample_describe(RsDirSample *sample);

#endif							/* RESET_SYSTEM_STORAGE_SAMPLE_H */
