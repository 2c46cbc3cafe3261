/*-------------------------------------------------------------------------
 *
 * jsonutil.h
 *	  Using jansson inside the server.
 *
 * The postgres executable exports a function called json_object (the SQL
 * function), and the dynamic linker binds our calls to that one, not to
 * jansson's constructor of the same name.  So new objects are made with
 * json_pack("{}") instead, and utils/builtins.h (whose fmgrprotos.h
 * declares the SQL json_object) is included through RS_INCLUDE_BUILTINS.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_JSONUTIL_H
#define RESET_SYSTEM_JSONUTIL_H

#include <jansson.h>

/* a new, empty JSON object (never call json_object() directly) */
static inline json_t *
rs_json_object(void)
{
	return json_pack("{}");
}

#endif							/* RESET_SYSTEM_JSONUTIL_H */
