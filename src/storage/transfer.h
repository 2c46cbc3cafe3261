/*-------------------------------------------------------------------------
 *
 * transfer.h
 *	  HTTP requests from the purge worker, with libcurl.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_TRANSFER_H
#define RESET_SYSTEM_TRANSFER_H

#include "postgres.h"

#include <curl/curl.h>

#include "nodes/pg_list.h"

typedef struct RsHttpResult
{
	long		status;			/* HTTP status, 0 when no response */
	char	   *body;			/* response body (first 64 kB) */
	char	   *error;			/* transport error, NULL when a response came */
	bool		timed_out;
	bool		not_sent;		/* rs_http_run held it back (see there) */
	long		retry_after_s;	/* the server's Retry-After, in seconds, or 0 */
} RsHttpResult;

/* One request of a concurrent set (rs_http_run). */
typedef struct RsHttpReq
{
	/* set by the caller */
	const char *method;
	char	   *url;
	List	   *headers;		/* char *, "Name: value" */
	const char *body;			/* NULL: none */
	size_t		body_len;
	int			tag;			/* the caller's own */
	/* filled in */
	RsHttpResult result;
} RsHttpReq;

extern long rs_http_retry_after_max;
extern int	rs_http_max_burst;

extern void rs_http_init(void);
extern void rs_http_run(RsHttpReq *reqs, int n, int concurrency, long timeout_ms);
extern char *rs_http_error_text(CURLcode rc);
extern void rs_http_setup(CURL *curl, const char *url, long timeout_ms);
extern int	rs_http_progress(void *p, curl_off_t dltotal, curl_off_t dlnow,
							 curl_off_t ultotal, curl_off_t ulnow);
extern size_t rs_http_collect(char *ptr, size_t size, size_t nmemb, void *userdata);
extern RsHttpResult rs_http_request(const char *method, const char *url,
									List *headers, const char *body,
									long timeout_ms);
extern bool rs_http_retryable(const RsHttpResult *r);

#endif							/* RESET_SYSTEM_TRANSFER_H */
