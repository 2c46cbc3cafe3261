/*-------------------------------------------------------------------------
 *
 * jsontext.h
 *	  Text between the database's encoding and JSON's UTF-8.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_JSONTEXT_H
#define RESET_SYSTEM_JSONTEXT_H

#include <jansson.h>

extern char *rs_utf8_from_server(const char *s);
extern char *rs_utf8_clip(const char *s, int maxchars);
extern json_t *rs_json_text(const char *s);
extern json_t *rs_json_text_max(const char *s, int maxchars);
extern char *rs_server_from_utf8(const char *s);

#endif							/* RESET_SYSTEM_JSONTEXT_H */
