/*-------------------------------------------------------------------------
 *
 * gcs.c
 *	  The "gcs" storage backend: Google Cloud Storage, JSON API.
 *
 * Options: {"bucket": "...", "prefix_root": "optional/", "endpoint":
 * "https://storage.googleapis.com", "batch": false}.  Keys are stored
 * under prefix_root when it is given.
 *
 * Deletes: one DELETE per object (the object name is a single, fully
 * percent-encoded path segment), many in flight at once over kept-alive
 * connections (reset_system.purge_concurrency); with "batch": true, up to
 * 100 deletes per request to the batch endpoint, each part answered on its
 * own (a partial failure is normal).  404 means already gone.  408, 429,
 * 5xx and transport errors are retried with backoff; 403 and other 4xx
 * fail with the server's message.
 *
 * Credentials, in this order: STORAGE_EMULATOR_HOST in the server's
 * environment (no authentication, like Google's own clients); the access
 * token in the file named by reset_system.gcs_token_file, or printed by
 * reset_system.gcs_token_command (raw, or Google's JSON {"access_token",
 * "expires_in"}); otherwise the metadata server (GCE_METADATA_HOST, or
 * metadata.google.internal), as on Cloud Run and GCE.  The token is cached
 * in the worker, refreshed a minute before it expires, and refreshed once
 * when the server answers 401.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "options.h"
#include "transfer.h"
#include "storage.h"
#include "webutil.h"

#define GCS_BATCH_MAX 100

typedef struct GcsState
{
	char	   *bucket;
	char	   *prefix_root;	/* "" when none */
	char	   *endpoint;		/* without trailing slash */
	bool		batch;
	bool		emulator;		/* STORAGE_EMULATOR_HOST: no authentication */
} GcsState;

/* The cached access token (lives as long as the worker) */
static char *gcs_token = NULL;
static TimestampTz gcs_token_expires = 0;

/*
 * parse_state: options into a state (ERROR on a bad shape).
 */
static GcsState *
parse_state(const char *options_json)
{
	json_t	   *opts = rs_options_load("gcs", options_json, "{\"bucket\": \"my-app-uploads\"}");
	GcsState   *st = palloc0(sizeof(GcsState));
	const char *key;
	json_t	   *value;
	const char *emu = getenv("STORAGE_EMULATOR_HOST");

	json_object_foreach(opts, key, value)
	{
		bool		known = true;

		if (strcmp(key, "batch") == 0)
		{
			if (!json_is_boolean(value))
				known = false;
			else
				st->batch = json_is_true(value);
		}
		else if (strcmp(key, "bucket") == 0 || strcmp(key, "prefix_root") == 0 ||
				 strcmp(key, "endpoint") == 0)
		{
			if (!json_is_string(value))
				known = false;
			else if (strcmp(key, "bucket") == 0)
				st->bucket = pstrdup(json_string_value(value));
			else if (strcmp(key, "prefix_root") == 0)
				st->prefix_root = pstrdup(json_string_value(value));
			else
				st->endpoint = pstrdup(json_string_value(value));
		}
		else
		{
			char	   *bad = pstrdup(key);

			json_decref(opts);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option %s for storage backend \"gcs\"", rs_message_value(bad)),
					 errhint("The gcs backend takes \"bucket\", \"prefix_root\", \"endpoint\" and \"batch\".")));
		}
		if (!known)
		{
			char	   *bad = pstrdup(key);

			json_decref(opts);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" of storage backend \"gcs\" has the wrong type", bad),
					 errhint("\"batch\" is true or false; the others are strings.")));
		}
	}
	json_decref(opts);
	if (st->bucket == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage backend \"gcs\" needs option \"bucket\"")));
	if (st->prefix_root == NULL)
		st->prefix_root = pstrdup("");
	if (emu && emu[0])
	{
		st->emulator = true;
		st->endpoint = strstr(emu, "://") ? pstrdup(emu) : psprintf("http://%s", emu);
	}
	if (st->endpoint == NULL)
		st->endpoint = pstrdup("https://storage.googleapis.com");
	while (strlen(st->endpoint) > 0 && st->endpoint[strlen(st->endpoint) - 1] == '/')
		st->endpoint[strlen(st->endpoint) - 1] = '\0';
	return st;
}

/*
 * gcs_validate: bucket name, prefix_root and endpoint.
 */
static char *
gcs_validate(const char *options_json)
{
	GcsState   *st = parse_state(options_json);
	const char *problem;

#define GCS_EXAMPLE "{\"bucket\": \"my-app-uploads\", \"prefix_root\": \"prod/\"}"
	rs_option_check_url("gcs", "endpoint", (!st->emulator && rs_option_raw(options_json, "endpoint")) ?
						rs_option_raw(options_json, "endpoint") : st->endpoint, GCS_EXAMPLE);
	/* dotted names may be 222 long, each dot-separated part at most 63 */
	problem = rs_dns_name_problem(st->bucket, 3, strchr(st->bucket, '.') ? 222 : 63, true);
	if (problem == NULL && strncmp(st->bucket, "goog", 4) == 0)
		problem = "it must not start with \"goog\"";
	if (problem)
		rs_option_error("gcs", "bucket", psprintf("bucket name %s: %s", rs_message_value(st->bucket), problem),
						GCS_EXAMPLE);
	if (st->prefix_root[0] && (problem = rs_storage_key_problem(st->prefix_root, true)) != NULL)
		rs_option_error("gcs", "prefix_root", psprintf("%s: %s", rs_message_value(st->prefix_root), problem),
						GCS_EXAMPLE);
	return psprintf("GCS bucket \"%s\"%s%s at %s%s%s", st->bucket,
					st->prefix_root[0] ? " under " : "", st->prefix_root, st->endpoint,
					st->batch ? ", batched deletes" : "",
					st->emulator ? " (STORAGE_EMULATOR_HOST, no authentication)" : "");
}

/*
 * parse_token: a raw token, or Google's JSON with an expiry.
 */
static char *
parse_token(const char *text, int *expires_in)
{
	json_error_t jerr;
	json_t	   *obj;
	char	   *token = NULL;

	*expires_in = 300;			/* a raw token is read again every 5 minutes */
	if (text[0] != '{')
		return pstrdup(text);
	obj = json_loads(text, 0, &jerr);
	if (obj && json_is_string(json_object_get(obj, "access_token")))
	{
		token = pstrdup(json_string_value(json_object_get(obj, "access_token")));
		if (json_is_integer(json_object_get(obj, "expires_in")))
			*expires_in = (int) json_integer_value(json_object_get(obj, "expires_in"));
	}
	if (obj)
		json_decref(obj);
	return token;
}

/*
 * fetch_token: a fresh token from the configured source, or NULL with
 * *error set.  Errors never contain the token.
 */
static char *
fetch_token(int *expires_in, char **error)
{
	char	   *text = NULL;

	*error = NULL;
	if (rs_gcs_token_file && rs_gcs_token_file[0])
	{
		text = rs_read_secret_file(rs_gcs_token_file, error);
		if (text == NULL)
		{
			*error = psprintf("reset_system.gcs_token_file: %s", *error);
			return NULL;
		}
	}
	else if (rs_gcs_token_command && rs_gcs_token_command[0])
	{
		FILE	   *p = OpenPipeStream(rs_gcs_token_command, "r");
		StringInfoData buf;
		char		chunk[1024];
		size_t		n;
		int			rc;

		if (p == NULL)
		{
			*error = psprintf("could not run reset_system.gcs_token_command: %m");
			return NULL;
		}
		initStringInfo(&buf);
		while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
			appendBinaryStringInfo(&buf, chunk, n);
		rc = ClosePipeStream(p);
		if (rc != 0)
		{
			*error = psprintf("reset_system.gcs_token_command failed: %s", wait_result_to_str(rc));
			return NULL;
		}
		text = buf.data;
		while (*text && isspace((unsigned char) *text))
			text++;
		for (char *e = text + strlen(text); e > text && isspace((unsigned char) e[-1]); e--)
			e[-1] = '\0';
	}
	else
	{
		const char *host = getenv("GCE_METADATA_HOST");
		RsHttpResult r;

		if (host == NULL || host[0] == '\0')
			host = "metadata.google.internal";
		r = rs_http_request("GET",
							psprintf("http://%s/computeMetadata/v1/instance/service-accounts/default/token", host),
							list_make1("Metadata-Flavor: Google"), NULL, 10000);
		if (r.error || r.status != 200)
		{
			*error = r.error ? psprintf("metadata server %s: %s", host, r.error)
				: psprintf("metadata server %s answered HTTP %ld", host, r.status);
			return NULL;
		}
		text = r.body;
	}
	{
		char	   *token = parse_token(text, expires_in);

		if (token == NULL || token[0] == '\0')
			*error = pstrdup("the token source gave no access_token");
		return token;
	}
}

/*
 * get_token: the cached token, refreshed when it is about to expire or
 * when force is set; NULL with *error set when none can be had.
 */
static const char *
get_token(GcsState *st, bool force, char **error)
{
	TimestampTz now = GetCurrentTimestamp();
	int			expires_in;
	char	   *token;

	*error = NULL;
	if (st->emulator)
		return NULL;
	if (!force && gcs_token && now < gcs_token_expires)
		return gcs_token;
	token = fetch_token(&expires_in, error);
	if (token == NULL)
		return NULL;
	if (gcs_token)
		pfree(gcs_token);
	gcs_token = MemoryContextStrdup(TopMemoryContext, token);
	/* refresh a minute early (or at half-life for short tokens) */
	gcs_token_expires = TimestampTzPlusMilliseconds(now,
													(int64) 1000 * (expires_in > 120 ? expires_in - 60 : expires_in / 2));
	return gcs_token;
}

/*
 * gcs_open: options for a batch of work.
 */
static void *
gcs_open(const char *options_json)
{
	return parse_state(options_json);
}

/*
 * gcs_close: nothing to release.
 */
static void
gcs_close(void *state)
{
}

/*
 * object_path: /storage/v1/b/BUCKET/o/NAME with NAME one encoded segment.
 */
static char *
object_path(GcsState *st, const char *key)
{
	return psprintf("/storage/v1/b/%s/o/%s", rs_uri_encode(st->bucket, false),
					rs_uri_encode(psprintf("%s%s", st->prefix_root, key), false));
}

/*
 * auth_headers: the Authorization header (none for the emulator).
 */
static List *
auth_headers(const char *token)
{
	return token ? list_make1(psprintf("Authorization: Bearer %s", token)) : NIL;
}

/*
 * gcs_message: the server's error message from a JSON error body.
 */
static char *
gcs_message(long status, const char *body, const char *transport)
{
	json_error_t jerr;
	json_t	   *obj;
	char	   *msg = NULL;

	if (transport)
		return pstrdup(transport);
	obj = body ? json_loads(body, 0, &jerr) : NULL;
	if (obj)
	{
		json_t	   *e = json_object_get(obj, "error");
		json_t	   *m = json_is_object(e) ? json_object_get(e, "message") : NULL;

		if (json_is_string(m))
			msg = psprintf("HTTP %ld: %s", status, json_string_value(m));
		json_decref(obj);
	}
	return msg ? msg : psprintf("HTTP %ld", status);
}

/*
 * set_result: an object's outcome from its status.
 */
static void
set_result(RsObject *obj, long status, const char *body, const char *transport)
{
	if (transport == NULL && (status == 200 || status == 204))
		obj->result = RS_OBJ_DELETED;
	else if (transport == NULL && status == 404)
		obj->result = RS_OBJ_MISSING;
	else
	{
		obj->result = (transport || status == 401 || status == 408 || status == 429 || status >= 500)
			? RS_OBJ_RETRY : RS_OBJ_FAILED;
		obj->error = gcs_message(status, body, transport);
	}
}

/*
 * delete_each: one DELETE per object, concurrently.  Returns how many got
 * 401 (their result is RETRY; the caller may refresh the token and redo).
 */
static int
delete_each(GcsState *st, RsObject *objects, int *which, int n, const char *token)
{
	RsHttpReq  *reqs = palloc0(sizeof(RsHttpReq) * Max(n, 1));
	int			unauthorized = 0;

	for (int i = 0; i < n; i++)
	{
		reqs[i].method = "DELETE";
		reqs[i].url = psprintf("%s%s", st->endpoint, object_path(st, objects[which[i]].key));
		reqs[i].headers = auth_headers(token);
		reqs[i].tag = which[i];
	}
	rs_http_run(reqs, n, rs_purge_concurrency, rs_storage_timeout_ms);
	for (int i = 0; i < n; i++)
	{
		RsObject   *obj = &objects[reqs[i].tag];

		set_result(obj, reqs[i].result.status, reqs[i].result.body, reqs[i].result.error);
		obj->not_sent = reqs[i].result.not_sent;
		if (reqs[i].result.error == NULL && reqs[i].result.status == 401)
			unauthorized++;
	}
	return unauthorized;
}

/*
 * parse_batch: map the parts of a batch answer to the objects of the
 * request (Content-ID: <response-N>).  Returns false when the answer is
 * not a multipart document.
 */
static bool
parse_batch(const char *body, RsObject *objects, int *which, int n)
{
	const char *nl;
	char	   *boundary;
	const char *p;
	size_t		blen;

	if (body == NULL || strncmp(body, "--", 2) != 0 || (nl = strpbrk(body, "\r\n")) == NULL)
		return false;
	boundary = pnstrdup(body, nl - body);
	blen = strlen(boundary);
	p = body;
	while ((p = strstr(p, boundary)) != NULL)
	{
		const char *part = p + blen;
		const char *next = strstr(part, boundary);
		const char *cid;
		const char *http;
		const char *pend = next ? next : part + strlen(part);
		long		status;
		int			idx;

		if (strncmp(part, "--", 2) == 0)
			break;				/* the closing boundary */
		cid = strstr(part, "response-");
		http = strstr(part, "HTTP/1.1 ");
		if (cid && cid < pend && http && http < pend)
		{
			const char *json = strchr(http, '{');

			idx = atoi(cid + strlen("response-"));
			status = strtol(http + strlen("HTTP/1.1 "), NULL, 10);
			if (idx >= 0 && idx < n)
				set_result(&objects[which[idx]], status,
						   (json && json < pend) ? pnstrdup(json, pend - json) : NULL, NULL);
		}
		p = part;
	}
	return true;
}

/*
 * delete_batched: the batch endpoint, 100 deletes a request.  Returns
 * how many parts got 401.
 */
static int
delete_batched(GcsState *st, RsObject *objects, int *which, int n, const char *token)
{
	int			nreq = (n + GCS_BATCH_MAX - 1) / GCS_BATCH_MAX;
	RsHttpReq  *reqs = palloc0(sizeof(RsHttpReq) * Max(nreq, 1));
	int			unauthorized = 0;

	for (int r = 0; r < nreq; r++)
	{
		StringInfoData body;
		int			from = r * GCS_BATCH_MAX;
		int			to = Min(n, from + GCS_BATCH_MAX);

		initStringInfo(&body);
		for (int i = from; i < to; i++)
			appendStringInfo(&body,
							 "--rs_batch\r\nContent-Type: application/http\r\nContent-ID: <%d>\r\n\r\n"
							 "DELETE %s HTTP/1.1\r\n%s%s%s\r\n",
							 i - from, object_path(st, objects[which[i]].key),
							 token ? "Authorization: Bearer " : "", token ? token : "",
							 token ? "\r\n" : "");
		appendStringInfoString(&body, "--rs_batch--\r\n");
		reqs[r].method = "POST";
		reqs[r].url = psprintf("%s/batch/storage/v1", st->endpoint);
		reqs[r].headers = lappend(auth_headers(token), "Content-Type: multipart/mixed; boundary=rs_batch");
		reqs[r].body = body.data;
		reqs[r].body_len = body.len;
		reqs[r].tag = from;
	}
	rs_http_run(reqs, nreq, rs_purge_concurrency, rs_storage_timeout_ms);

	for (int r = 0; r < nreq; r++)
	{
		int			from = reqs[r].tag;
		int			to = Min(n, from + GCS_BATCH_MAX);
		RsHttpResult *res = &reqs[r].result;

		for (int i = from; i < to; i++)
		{
			objects[which[i]].result = RS_OBJ_RETRY;
			objects[which[i]].error = pstrdup("no answer for this object in the batch response");
		}
		if (res->error == NULL && res->status == 200 &&
			parse_batch(res->body, objects, which + from, to - from))
		{
			for (int i = from; i < to; i++)
				if (objects[which[i]].result == RS_OBJ_RETRY && objects[which[i]].error &&
					strstr(objects[which[i]].error, "HTTP 401"))
					unauthorized++;
			continue;
		}
		for (int i = from; i < to; i++)
		{
			set_result(&objects[which[i]], res->status, res->body, res->error);
			objects[which[i]].not_sent = res->not_sent;
		}
		if (res->error == NULL && res->status == 401)
			unauthorized += to - from;
	}
	return unauthorized;
}

/*
 * gcs_delete_objects: delete a batch; on 401, refresh the token once and
 * redo the objects that got it.
 */
static void
gcs_delete_objects(void *state, RsObject *objects, int n)
{
	GcsState   *st = (GcsState *) state;
	int		   *which = palloc(sizeof(int) * Max(n, 1));
	int			m = 0;
	char	   *error;
	const char *token = get_token(st, false, &error);

	for (int i = 0; i < n; i++)
	{
		const char *problem = rs_storage_key_problem(objects[i].key, false);

		if (problem)
		{
			objects[i].result = RS_OBJ_FAILED;
			objects[i].error = psprintf("refused: %s", problem);
		}
		else if (!st->emulator && token == NULL)
		{
			objects[i].result = RS_OBJ_RETRY;
			objects[i].error = psprintf("no GCS access token: %s", error);
		}
		else
			which[m++] = i;
	}
	if (m == 0)
		return;

	for (int attempt = 0; attempt < 2; attempt++)
	{
		int			unauthorized = st->batch ? delete_batched(st, objects, which, m, token)
			: delete_each(st, objects, which, m, token);
		int			k = 0;

		if (unauthorized == 0 || attempt == 1 || st->emulator)
			break;
		/* the token was refused: refresh it once, redo those objects */
		token = get_token(st, true, &error);
		if (token == NULL)
			break;
		for (int i = 0; i < m; i++)
			if (objects[which[i]].result == RS_OBJ_RETRY && objects[which[i]].error &&
				strstr(objects[which[i]].error, "HTTP 401"))
			{
				objects[which[i]].error = NULL;
				which[k++] = which[i];
			}
		m = k;
	}
}

/*
 * gcs_list_prefix: objects.list, page after page.
 */
static char *
gcs_list_prefix(void *state, const char *prefix, RsListCallback cb, void *arg)
{
	GcsState   *st = (GcsState *) state;
	char	   *page = NULL;
	size_t		rootlen = strlen(st->prefix_root);
	bool		retried = false;

	for (;;)
	{
		char	   *error;
		const char *token = get_token(st, false, &error);
		RsHttpResult r;
		json_error_t jerr;
		json_t	   *obj;
		json_t	   *items;
		json_t	   *next;
		size_t		i;
		json_t	   *item;

		CHECK_FOR_INTERRUPTS();
		if (!st->emulator && token == NULL)
			return psprintf("no GCS access token: %s", error);
		r = rs_http_request("GET",
							psprintf("%s/storage/v1/b/%s/o?prefix=%s&maxResults=1000%s%s&fields=%s",
									 st->endpoint, rs_uri_encode(st->bucket, false),
									 rs_uri_encode(psprintf("%s%s", st->prefix_root, prefix), false),
									 page ? "&pageToken=" : "", page ? rs_uri_encode(page, false) : "",
									 rs_uri_encode("nextPageToken,items(name)", false)),
							auth_headers(token), NULL, rs_storage_timeout_ms);
		if (r.error == NULL && r.status == 401 && !retried && !st->emulator)
		{
			retried = true;
			if (get_token(st, true, &error) == NULL)
				return psprintf("no GCS access token: %s", error);
			continue;
		}
		if (r.error || r.status != 200)
			return psprintf("objects.list failed: %s", gcs_message(r.status, r.body, r.error));
		obj = json_loads(r.body, 0, &jerr);
		if (obj == NULL)
			return psprintf("objects.list answered something that is not JSON: %s", jerr.text);
		items = json_object_get(obj, "items");
		json_array_foreach(items, i, item)
		{
			const char *name = json_string_value(json_object_get(item, "name"));

			if (name && strncmp(name, st->prefix_root, rootlen) == 0 &&
				!cb(name + rootlen, arg))
			{
				json_decref(obj);
				return NULL;
			}
		}
		next = json_object_get(obj, "nextPageToken");
		page = json_is_string(next) ? pstrdup(json_string_value(next)) : NULL;
		json_decref(obj);
		if (page == NULL)
			return NULL;
	}
}

/*
 * gcs_put_object: a simple media upload.
 */
static RsObjectResult
gcs_put_object(void *state, const char *key, const char *data, size_t len, char **error)
{
	GcsState   *st = (GcsState *) state;
	char	   *terr;
	const char *token = get_token(st, false, &terr);
	RsHttpReq	r;
	RsObject	obj;

	if (!st->emulator && token == NULL)
	{
		*error = psprintf("no GCS access token: %s", terr);
		return RS_OBJ_RETRY;
	}
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.url = psprintf("%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s", st->endpoint,
					 rs_uri_encode(st->bucket, false),
					 rs_uri_encode(psprintf("%s%s", st->prefix_root, key), false));
	r.headers = lappend(auth_headers(token), "Content-Type: application/octet-stream");
	r.body = data;
	r.body_len = len;
	rs_http_run(&r, 1, 1, rs_storage_timeout_ms);
	memset(&obj, 0, sizeof(obj));
	set_result(&obj, r.result.status, r.result.body, r.result.error);
	if (obj.result == RS_OBJ_MISSING)
	{
		obj.result = RS_OBJ_FAILED;
		obj.error = gcs_message(r.result.status, r.result.body, NULL);
	}
	*error = obj.error;
	return obj.result;
}

/*
 * gcs_probe: token, then the bucket's metadata.
 */
static List *
gcs_probe(void *state)
{
	GcsState   *st = (GcsState *) state;
	char	   *error;
	const char *token = get_token(st, true, &error);
	RsHttpResult r;
	List	   *checks = NIL;

	/* without a token the request still tells whether the endpoint is there */
	r = rs_http_request("GET", psprintf("%s/storage/v1/b/%s", st->endpoint, rs_uri_encode(st->bucket, false)),
						auth_headers(token), NULL, Min(rs_storage_timeout_ms, 10000));
	if (r.error)
	{
		checks = list_make1(rs_check_new("reachable", false, psprintf("%s: %s", st->endpoint, r.error)));
		if (!st->emulator && token == NULL)
			checks = lappend(checks, rs_check_new("credentials", false, psprintf("no access token: %s", error)));
		return checks;
	}
	checks = lappend(checks, rs_check_new("reachable", true,
										  psprintf("%s answered HTTP %ld", st->endpoint, r.status)));
	if (!st->emulator && token == NULL)
		return lappend(checks, rs_check_new("credentials", false, psprintf("no access token: %s", error)));
	if (r.status == 401 || r.status == 403)
		return lappend(checks, rs_check_new("credentials", false, gcs_message(r.status, r.body, NULL)));
	checks = lappend(checks, rs_check_new("credentials", true,
										  st->emulator ? pstrdup("none needed (STORAGE_EMULATOR_HOST)")
										  : pstrdup("access token accepted")));
	if (r.status == 200)
		checks = lappend(checks, rs_check_new("bucket", true, psprintf("bucket \"%s\" exists", st->bucket)));
	else
		checks = lappend(checks, rs_check_new("bucket", false, gcs_message(r.status, r.body, NULL)));
	return checks;
}

const RsStorageDriver rs_storage_gcs = {
	.name = "gcs",
	.description = "Google Cloud Storage",
	.validate = gcs_validate,
	.open = gcs_open,
	.delete_objects = gcs_delete_objects,
	.list_prefix = gcs_list_prefix,
	.cleanup_prefix = NULL,
	.delete_collection = NULL,
	.put_object = gcs_put_object,
	.probe = gcs_probe,
	.close = gcs_close,
	.batch_size = 1000,
};
