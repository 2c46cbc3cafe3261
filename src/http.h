/*-------------------------------------------------------------------------
 *
 * http.h
 *	  HTTP requests from the purge worker, with libcurl.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_HTTP_H
#define RESET_SYSTEM_HTTP_H

#include "postgres.h"

#include <curl/curl.h>

#include "nodes/pg_list.h"

typedef struct RsHttpResult
{
	long		status;			/* HTTP status, 0 when no response */
	char	   *body;			/* response body (first 64 kB) */
	char	   *error;			/* transport error, NULL when a response came */
	bool		timed_out;
} RsHttpResult;

extern void rs_http_init(void);
extern void rs_http_setup(CURL *curl, const char *url, long timeout_ms);
extern int	rs_http_progress(void *p, curl_off_t dltotal, curl_off_t dlnow,
							 curl_off_t ultotal, curl_off_t ulnow);
extern size_t rs_http_collect(char *ptr, size_t size, size_t nmemb, void *userdata);
extern RsHttpResult rs_http_request(const char *method, const char *url,
									List *headers, const char *body,
									long timeout_ms);
extern bool rs_http_retryable(const RsHttpResult *r);

#endif							/* RESET_SYSTEM_HTTP_H */
