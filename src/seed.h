/*-------------------------------------------------------------------------
 *
 * seed.h
 *	  Reading the resource files that reset_seed_object() uploads.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_SEED_H
#define RESET_SYSTEM_SEED_H

#include "postgres.h"

/* Largest resource file accepted (the worker holds it in memory) */
#define RS_SEED_MAX_BYTES (64 * 1024 * 1024)

extern int	rs_seed_open(const char *path, off_t *size, int *sqlerrcode, char **error);
extern char *rs_seed_read(const char *path, size_t *len, char **error);

#endif							/* RESET_SYSTEM_SEED_H */
