/*-------------------------------------------------------------------------
 *
 * http.c
 *	  HTTP requests from the purge worker, with libcurl.
 *
 * The rules for curl inside a PostgreSQL process: no signal handlers of
 * curl's own (CURLOPT_NOSIGNAL; PostgreSQL uses SIGALRM), only http and
 * https, connection and total timeouts, TLS verification left on, and a
 * progress callback that aborts the transfer as soon as the process is
 * asked to cancel or terminate, followed by CHECK_FOR_INTERRUPTS().
 * curl's memory stays on malloc (its threaded resolver cannot use palloc).
 *
 * Network I/O only ever happens in the purge worker, never in a backend
 * that holds a reset's locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "http.h"

#define RS_HTTP_MAX_BODY (64 * 1024)

/*
 * rs_http_init: curl_global_init, once per process.
 */
void
rs_http_init(void)
{
	static bool done = false;

	if (!done)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			elog(ERROR, "reset_system: could not initialize libcurl");
		done = true;
	}
}

/*
 * rs_http_progress: abort the transfer when PostgreSQL wants this process
 * to stop what it does (query cancel, SIGTERM).
 */
int
rs_http_progress(void *p, curl_off_t dltotal, curl_off_t dlnow,
				 curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

/*
 * rs_http_collect: append a response chunk to a StringInfo, up to a limit.
 */
size_t
rs_http_collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	StringInfo	buf = (StringInfo) userdata;
	size_t		len = size * nmemb;

	if (buf->len < RS_HTTP_MAX_BODY)
		appendBinaryStringInfo(buf, ptr, Min(len, (size_t) (RS_HTTP_MAX_BODY - buf->len)));
	return len;
}

/*
 * rs_http_setup: the options every request of ours has.
 */
void
rs_http_setup(CURL *curl, const char *url, long timeout_ms)
{
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, Min(timeout_ms, 10000L));
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, rs_http_progress);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "reset_system/1.0");
}

/*
 * rs_http_request: one blocking request (the worker's simple cases: a
 * webhook, a token).  Never raises an error for a network problem: the
 * result says what happened.  Interrupts are honoured afterwards.
 */
RsHttpResult
rs_http_request(const char *method, const char *url, List *headers,
				const char *body, long timeout_ms)
{
	RsHttpResult result;
	CURL	   *curl;
	struct curl_slist *hdrs = NULL;
	StringInfoData buf;
	CURLcode	rc;
	ListCell   *lc;

	memset(&result, 0, sizeof(result));
	rs_http_init();
	curl = curl_easy_init();
	if (curl == NULL)
	{
		result.error = pstrdup("could not create a curl handle");
		return result;
	}
	initStringInfo(&buf);
	rs_http_setup(curl, url, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	foreach(lc, headers)
		hdrs = curl_slist_append(hdrs, (char *) lfirst(lc));
	if (hdrs)
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	if (body)
	{
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	}
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, rs_http_collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);

	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
	else
	{
		result.error = pstrdup(curl_easy_strerror(rc));
		result.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
	}
	result.body = buf.data;
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);

	CHECK_FOR_INTERRUPTS();
	return result;
}

/*
 * rs_http_retryable: a transport error, 408, 429 or a 5xx is worth
 * retrying; any other answer is final.
 */
bool
rs_http_retryable(const RsHttpResult *r)
{
	return r->error != NULL || r->status == 408 || r->status == 429 ||
		r->status >= 500;
}
