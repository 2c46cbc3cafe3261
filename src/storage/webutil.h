/*-------------------------------------------------------------------------
 *
 * webutil.h
 *	  Digests, URL encoding and minimal XML for storage services.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_WEBUTIL_H
#define RESET_SYSTEM_WEBUTIL_H

#include "postgres.h"

extern char *rs_sha256_hex(const void *data, size_t len);
extern char *rs_md5_base64(const void *data, size_t len);
extern void rs_hmac_sha256(const void *key, size_t keylen,
						   const void *data, size_t len, uint8 *out);
extern char *rs_hex_encode(const uint8 *bytes, int n);
extern char *rs_base64_encode(const void *data, int len);
extern uint8 *rs_base64_decode(const char *text, int *len);
extern char *rs_uri_encode(const char *s, bool keep_slash);
extern char *rs_xml_escape(const char *s);
extern char *rs_xml_unescape(const char *s, size_t len);
extern char *rs_xml_text(const char *xml, size_t len, const char *name);
extern void rs_xml_each(const char *xml, size_t len, const char *name,
						void (*cb) (const char *content, size_t len, void *arg),
						void *arg);

#endif							/* RESET_SYSTEM_WEBUTIL_H */
