/*-------------------------------------------------------------------------
 *
 * options.h
 *	  Checks of storage backend options shared by the drivers: URLs,
 *	  names, and one error format for every bad option.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_STORAGE_OPTIONS_H
#define RESET_SYSTEM_STORAGE_OPTIONS_H

#include "postgres.h"

#include <jansson.h>

#include "compat.h"
#include "message.h"

extern rs_noreturn void rs_option_error(const char *backend, const char *option,
										const char *problem, const char *example);
extern json_t *rs_options_load(const char *backend, const char *options_json,
							   const char *example);
extern char *rs_option_raw(const char *options_json, const char *key);
extern const char *rs_url_problem(const char *url);
extern void rs_option_check_url(const char *backend, const char *option,
								const char *url, const char *example);
extern const char *rs_dns_name_problem(const char *name, int minlen, int maxlen,
									   bool underscore);

#endif							/* RESET_SYSTEM_STORAGE_OPTIONS_H */
