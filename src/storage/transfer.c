/*-------------------------------------------------------------------------
 *
 * transfer.c
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

#include "transfer.h"

#define RS_HTTP_MAX_BODY (8 * 1024 * 1024)

/* One multi handle per process: its connection cache keeps connections alive between batches. */
static CURLM *rs_multi = NULL;

/* The longest Retry-After seen since the caller last zeroed it. */
long		rs_http_retry_after_max = 0;

/*
 * When set (> 0), rs_http_run keeps at most this many requests in flight
 * and holds the rest back after this many retryable answers in a row: the
 * purge sets it while storage is failing, to probe gently.
 */
int			rs_http_max_burst = 0;

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
 * rs_http_error_text: what a transfer error means, in the product's own
 * words.  libcurl's texts change between releases ("Couldn't connect to
 * server" became "Could not connect to server" in 8.x), and they reach
 * users (reset_storage_check(), the queue's last_error), so the common
 * errors are named here; any other one keeps curl's text with its code.
 */
char *
rs_http_error_text(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
			return pstrdup("could not resolve the host name");
		case CURLE_COULDNT_RESOLVE_PROXY:
			return pstrdup("could not resolve the proxy's host name");
		case CURLE_COULDNT_CONNECT:
			return pstrdup("could not connect to the server");
		case CURLE_OPERATION_TIMEDOUT:
			return pstrdup("the request timed out");
		case CURLE_SSL_CONNECT_ERROR:
			return pstrdup("the TLS handshake failed");
		case CURLE_PEER_FAILED_VERIFICATION:
			return pstrdup("the server's TLS certificate was not accepted");
		case CURLE_GOT_NOTHING:
			return pstrdup("the server closed the connection without answering");
		case CURLE_SEND_ERROR:
			return pstrdup("the connection failed while sending the request");
		case CURLE_RECV_ERROR:
			return pstrdup("the connection failed while receiving the answer");
		case CURLE_PARTIAL_FILE:
			return pstrdup("the answer ended early");
		case CURLE_ABORTED_BY_CALLBACK:
			return pstrdup("interrupted");
		case CURLE_OUT_OF_MEMORY:
			return pstrdup("out of memory");
		default:
			return psprintf("transfer error %d: %s", (int) rc, curl_easy_strerror(rc));
	}
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
		result.error = rs_http_error_text(rc);
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

/*
 * rs_http_run: run n requests with at most "concurrency" in flight at
 * once, over kept-alive connections (curl's multi interface).  Every
 * request gets its result; none raises an error.  A query cancel or a
 * SIGTERM aborts the transfers at once and is then honoured.
 *
 * When a whole window of answers in a row (as many as may be in flight,
 * at least 4) asks to be retried (throttling, 5xx, no connection), the
 * server is struggling: the requests not started yet are held back
 * (result.not_sent) instead of adding to the storm; the caller retries
 * them later without counting an attempt.
 */
void
rs_http_run(RsHttpReq *reqs, int n, int concurrency, long timeout_ms)
{
	CURL	  **handles = palloc0(sizeof(CURL *) * Max(n, 1));
	struct curl_slist **hdrs = palloc0(sizeof(struct curl_slist *) * Max(n, 1));
	StringInfoData *bodies = palloc0(sizeof(StringInfoData) * Max(n, 1));
	int			next = 0;
	int			running = 0;
	int			done = 0;
	int			failing = 0;	/* retryable answers in a row */
	bool		hold = false;

	rs_http_init();
	if (rs_multi == NULL)
	{
		rs_multi = curl_multi_init();
		if (rs_multi == NULL)
			elog(ERROR, "reset_system: could not create a curl multi handle");
	}
	curl_multi_setopt(rs_multi, CURLMOPT_MAXCONNECTS, (long) Max(concurrency, 1));
	if (rs_http_max_burst > 0)
		concurrency = Min(concurrency, rs_http_max_burst);
	concurrency = Max(concurrency, 1);

	while (done < n)
	{
		CURLMsg    *msg;
		int			left;
		int			still;

		while (running < concurrency && next < n && !hold)
		{
			RsHttpReq  *r = &reqs[next];
			CURL	   *e = curl_easy_init();
			ListCell   *lc;

			memset(&r->result, 0, sizeof(r->result));
			if (e == NULL)
			{
				r->result.error = pstrdup("could not create a curl handle");
				next++;
				done++;
				continue;
			}
			initStringInfo(&bodies[next]);
			rs_http_setup(e, r->url, timeout_ms);
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
			if (strcmp(r->method, "HEAD") == 0)
				curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
			foreach(lc, r->headers)
				hdrs[next] = curl_slist_append(hdrs[next], (char *) lfirst(lc));
			if (r->body)
			{
				/*
				 * curl adds "Expect: 100-continue" to big bodies and then
				 * waits for the answer; an empty "Expect:" removes it.
				 */
				hdrs[next] = curl_slist_append(hdrs[next], "Expect:");
				curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
				curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) r->body_len);
			}
			if (hdrs[next])
				curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs[next]);
			curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, rs_http_collect);
			curl_easy_setopt(e, CURLOPT_WRITEDATA, &bodies[next]);
			curl_easy_setopt(e, CURLOPT_PRIVATE, (char *) (intptr_t) next);
			handles[next] = e;
			curl_multi_add_handle(rs_multi, e);
			running++;
			next++;
		}

		curl_multi_perform(rs_multi, &still);
		while ((msg = curl_multi_info_read(rs_multi, &left)) != NULL)
		{
			char	   *priv;
			int			i;
			RsHttpReq  *r;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			i = (int) (intptr_t) priv;
			r = &reqs[i];
			if (msg->data.result == CURLE_OK)
				curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &r->result.status);
			else
			{
				r->result.error = rs_http_error_text(msg->data.result);
				r->result.timed_out = msg->data.result == CURLE_OPERATION_TIMEDOUT;
			}
			r->result.body = bodies[i].data;
#if LIBCURL_VERSION_NUM >= 0x074200
			{
				curl_off_t	ra = 0;

				if (curl_easy_getinfo(msg->easy_handle, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
				{
					r->result.retry_after_s = (long) Min(ra, 3600);
					rs_http_retry_after_max = Max(rs_http_retry_after_max, r->result.retry_after_s);
				}
			}
#endif
			if (rs_http_retryable(&r->result))
			{
				if (++failing >= (rs_http_max_burst > 0 ? rs_http_max_burst : Max(concurrency, 4)))
					hold = true;
			}
			else
				failing = 0;
			curl_multi_remove_handle(rs_multi, msg->easy_handle);
			curl_easy_cleanup(msg->easy_handle);
			curl_slist_free_all(hdrs[i]);
			handles[i] = NULL;
			hdrs[i] = NULL;
			running--;
			done++;
		}

		if (QueryCancelPending || ProcDiePending)
		{
			/* stop every transfer, then let PostgreSQL act on the interrupt */
			for (int i = 0; i < n; i++)
				if (handles[i])
				{
					curl_multi_remove_handle(rs_multi, handles[i]);
					curl_easy_cleanup(handles[i]);
					curl_slist_free_all(hdrs[i]);
					handles[i] = NULL;
				}
			CHECK_FOR_INTERRUPTS();
			/* an interrupt that did not end us: report the rest as failed */
			for (int i = 0; i < n; i++)
				if (reqs[i].result.status == 0 && reqs[i].result.error == NULL)
					reqs[i].result.error = pstrdup("interrupted");
			return;
		}
		if (hold && running == 0)
		{
			/* the server is struggling: do not start the rest */
			for (; next < n; next++, done++)
			{
				memset(&reqs[next].result, 0, sizeof(RsHttpResult));
				reqs[next].result.not_sent = true;
				reqs[next].result.error = pstrdup("not sent: the server asked to retry the requests before it");
			}
		}
		if (done < n)
			curl_multi_poll(rs_multi, NULL, 0, 100, NULL);
	}
}
