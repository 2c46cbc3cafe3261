/*-------------------------------------------------------------------------
 *
 * s3.c
 *	  The "s3" storage backend: Amazon S3 and S3-compatible stores.
 *
 * Options: {"bucket": "...", "region": "us-east-1", "endpoint":
 * "https://...", "path_style": false}.  An S3-compatible store is reached
 * with its endpoint and path_style = true.
 *
 * Deletes use DeleteObjects: up to 1000 keys per request, Quiet mode (the
 * answer lists only the failures), Content-MD5 (required by AWS), several
 * requests in flight at once (reset_system.purge_concurrency).  Only the
 * keys the answer lists as errors are retried.  Prefixes are listed with
 * ListObjectsV2 and its continuation tokens.
 *
 * Every request is signed here with AWS Signature Version 4 (sigv4.c),
 * not by libcurl, so that what is signed does not depend on the libcurl
 * version.  URLs are written in S3's canonical form anyway: keys
 * percent-encoded once in the path (RFC 3986, "/" kept), query parameters
 * sorted and encoded the same way, "delete=" for a parameter without a
 * value.
 *
 * Credentials come from the file named by reset_system.s3_credentials_file
 * (the AWS shared-credentials format) or from the server process's
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN).  They are never stored in a table, written to the
 * log or put into an error message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "options.h"
#include "sigv4.h"
#include "storage.h"
#include "transfer.h"
#include "webutil.h"

#define S3_MAX_KEYS 1000
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct S3Options
{
	char	   *bucket;
	char	   *region;
	char	   *endpoint;		/* without trailing slash */
	bool		path_style;
} S3Options;

typedef struct S3State
{
	S3Options	o;
	RsSigV4Key	key;			/* credentials, region and service */
	char	   *cred_error;		/* why there are no credentials */
	char	   *cred_source;
} S3State;

/*
 * opt_string: a string member, or NULL; ERROR when present but not a string.
 */
static char *
opt_string(json_t *opts, const char *key)
{
	json_t	   *v = json_object_get(opts, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" of storage backend \"s3\" must be a string", key)));
	return pstrdup(json_string_value(v));
}

/*
 * parse_options: the backend's options, checked for shape.
 */
static S3Options
parse_options(const char *options_json)
{
	json_t	   *opts = rs_options_load("s3", options_json,
									   "{\"bucket\": \"my-app-uploads\", \"region\": \"eu-west-1\"}");
	S3Options	o;
	const char *key;
	json_t	   *value;
	json_t	   *ps;

	memset(&o, 0, sizeof(o));
	json_object_foreach(opts, key, value)
	{
		if (strcmp(key, "bucket") != 0 && strcmp(key, "region") != 0 &&
			strcmp(key, "endpoint") != 0 && strcmp(key, "path_style") != 0)
		{
			char	   *bad = pstrdup(key);

			json_decref(opts);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option %s for storage backend \"s3\"", rs_message_value(bad)),
					 errhint("The s3 backend takes \"bucket\", \"region\", \"endpoint\" and \"path_style\".")));
		}
	}
	o.bucket = opt_string(opts, "bucket");
	o.region = opt_string(opts, "region");
	o.endpoint = opt_string(opts, "endpoint");
	ps = json_object_get(opts, "path_style");
	if (ps != NULL && !json_is_boolean(ps))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"path_style\" of storage backend \"s3\" must be true or false")));
	o.path_style = ps != NULL && json_is_true(ps);
	json_decref(opts);

	if (o.bucket == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage backend \"s3\" needs option \"bucket\"")));
	if (o.region == NULL)
		o.region = pstrdup("us-east-1");
	if (o.endpoint == NULL)
		o.endpoint = psprintf("https://s3.%s.amazonaws.com", o.region);
	while (strlen(o.endpoint) > 0 && o.endpoint[strlen(o.endpoint) - 1] == '/')
		o.endpoint[strlen(o.endpoint) - 1] = '\0';
	return o;
}

/*
 * s3_validate: bucket name rules, a region name, an http(s) endpoint.
 */
static char *
s3_validate(const char *options_json)
{
	S3Options	o = parse_options(options_json);
	const char *problem;

#define S3_EXAMPLE "{\"bucket\": \"my-app-uploads\", \"region\": \"eu-west-1\", \"endpoint\": \"https://s3.eu-west-1.amazonaws.com\"}"
	problem = rs_dns_name_problem(o.bucket, 3, 63, false);
	if (problem)
		rs_option_error("s3", "bucket", psprintf("bucket name %s: %s", rs_message_value(o.bucket), problem),
						S3_EXAMPLE);
	if (o.region[0] == '\0')
		rs_option_error("s3", "region", "the region is empty", S3_EXAMPLE);
	for (const char *p = o.region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			rs_option_error("s3", "region",
							psprintf("%s is not a region name (lowercase letters, digits and \"-\")",
									 rs_message_value(o.region)),
							S3_EXAMPLE);
	/* as typed (a trailing "/" is dropped when used) */
	rs_option_check_url("s3", "endpoint", rs_option_raw(options_json, "endpoint") ?
						rs_option_raw(options_json, "endpoint") : o.endpoint, S3_EXAMPLE);
	return psprintf("S3 bucket \"%s\" at %s (%s)", o.bucket, o.endpoint,
					o.path_style ? "path-style" : "virtual-hosted");
}

/*
 * load_credentials: from the credentials file, else the environment.
 */
static void
load_credentials(S3State *st)
{
	char	   *ak = NULL;
	char	   *sk = NULL;
	char	   *tok = NULL;

	if (rs_s3_credentials_file && rs_s3_credentials_file[0])
	{
		char	   *error;
		char	   *content = rs_read_secret_file(rs_s3_credentials_file, &error);
		char	   *line;
		char	   *save;

		if (content == NULL)
		{
			st->cred_error = psprintf("reset_system.s3_credentials_file: %s", error);
			return;
		}
		for (line = strtok_r(content, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		{
			char	   *eq = strchr(line, '=');
			char	   *k = line;
			char	   *v;

			if (eq == NULL || line[0] == '#' || line[0] == '[')
				continue;
			*eq = '\0';
			v = eq + 1;
			while (*k && isspace((unsigned char) *k))
				k++;
			for (char *e = k + strlen(k); e > k && isspace((unsigned char) e[-1]); e--)
				e[-1] = '\0';
			while (*v && isspace((unsigned char) *v))
				v++;
			for (char *e = v + strlen(v); e > v && isspace((unsigned char) e[-1]); e--)
				e[-1] = '\0';
			if (strcmp(k, "aws_access_key_id") == 0 && ak == NULL)
				ak = pstrdup(v);
			else if (strcmp(k, "aws_secret_access_key") == 0 && sk == NULL)
				sk = pstrdup(v);
			else if (strcmp(k, "aws_session_token") == 0 && tok == NULL)
				tok = pstrdup(v);
		}
		st->cred_source = psprintf("file %s", rs_s3_credentials_file);
	}
	else
	{
		ak = getenv("AWS_ACCESS_KEY_ID") ? pstrdup(getenv("AWS_ACCESS_KEY_ID")) : NULL;
		sk = getenv("AWS_SECRET_ACCESS_KEY") ? pstrdup(getenv("AWS_SECRET_ACCESS_KEY")) : NULL;
		tok = getenv("AWS_SESSION_TOKEN") ? pstrdup(getenv("AWS_SESSION_TOKEN")) : NULL;
		st->cred_source = pstrdup("the server's environment");
	}
	if (ak == NULL || sk == NULL || ak[0] == '\0' || sk[0] == '\0')
	{
		st->cred_error = psprintf("no S3 credentials in %s: set reset_system.s3_credentials_file, or "
								  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the server's environment",
								  st->cred_source);
		return;
	}
	st->key.access_key = ak;
	st->key.secret_key = sk;
	st->key.session_token = (tok && tok[0]) ? tok : NULL;
}

/*
 * s3_open: options and credentials for a batch of work.
 */
static void *
s3_open(const char *options_json)
{
	S3State    *st = palloc0(sizeof(S3State));

	st->o = parse_options(options_json);
	st->key.region = st->o.region;
	st->key.service = "s3";
	load_credentials(st);
	return st;
}

/*
 * s3_close: nothing to release (curl's connections stay cached).
 */
static void
s3_close(void *state)
{
}

/*
 * bucket_url: the bucket's URL, ending in "/" (virtual-hosted) or not
 * (path-style), ready for a query or a key.
 */
static char *
bucket_url(S3State *st)
{
	if (st->o.path_style)
		return psprintf("%s/%s", st->o.endpoint, st->o.bucket);
	else
	{
		const char *sep = strstr(st->o.endpoint, "://");

		return psprintf("%.*s://%s.%s", (int) (sep - st->o.endpoint), st->o.endpoint,
						st->o.bucket, sep + 3);
	}
}

/*
 * object_url: the URL of one object.
 */
static char *
object_url(S3State *st, const char *key)
{
	return psprintf("%s/%s", bucket_url(st), rs_uri_encode(key, true));
}

/*
 * request_init: a request with its body; request_sign signs it once its
 * headers are complete.
 */
static void
request_init(RsHttpReq *r, const char *method, char *url,
			 const char *body, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->url = url;
	r->body = body;
	r->body_len = len;
}

/*
 * request_sign: add the SigV4 headers (x-amz-date, x-amz-content-sha256,
 * x-amz-security-token, Authorization) that sign the method, URL, every
 * header set so far and the body.
 */
static void
request_sign(S3State *st, RsHttpReq *r)
{
	const char *sha = r->body ? rs_sha256_hex(r->body, r->body_len) : S3_EMPTY_SHA256;

	r->headers = list_concat(r->headers,
							 rs_sigv4_sign(&st->key, r->method, r->url, r->headers,
										   sha, time(NULL)));
}

/*
 * s3_error: "Code: Message" from an S3 error document, or the status.
 */
static char *
s3_error(const RsHttpResult *res)
{
	size_t		len = res->body ? strlen(res->body) : 0;
	char	   *code = rs_xml_text(res->body, len, "Code");
	char	   *msg = rs_xml_text(res->body, len, "Message");

	if (res->error)
		return pstrdup(res->error);
	if (code)
		return psprintf("HTTP %ld %s: %s", res->status, code, msg ? msg : "");
	return psprintf("HTTP %ld", res->status);
}

/*
 * classify: what a whole-request answer means for every key in it.
 */
static RsObjectResult
classify(const RsHttpResult *res)
{
	if (res->error || res->status == 408 || res->status == 429 || res->status >= 500)
		return RS_OBJ_RETRY;
	if (res->status >= 200 && res->status < 300)
		return RS_OBJ_DELETED;
	return RS_OBJ_FAILED;
}

/* An index entry: key -> position in the batch, sorted by key */
typedef struct KeyIndex
{
	const char *key;
	int			pos;
} KeyIndex;

static int
keyindex_cmp(const void *a, const void *b)
{
	return strcmp(((const KeyIndex *) a)->key, ((const KeyIndex *) b)->key);
}

/* What the <Error> walker needs */
typedef struct ErrorWalk
{
	KeyIndex   *index;
	int			n;
	RsObject   *objects;
} ErrorWalk;

/*
 * on_key_error: one <Error> entry of a DeleteObjects answer.
 */
static void
on_key_error(const char *content, size_t len, void *arg)
{
	ErrorWalk  *w = (ErrorWalk *) arg;
	char	   *key = rs_xml_text(content, len, "Key");
	char	   *code = rs_xml_text(content, len, "Code");
	char	   *msg = rs_xml_text(content, len, "Message");
	KeyIndex	probe;
	KeyIndex   *hit;
	RsObject   *obj;

	if (key == NULL)
		return;
	probe.key = key;
	hit = bsearch(&probe, w->index, w->n, sizeof(KeyIndex), keyindex_cmp);
	if (hit == NULL)
		return;
	obj = &w->objects[hit->pos];
	code = code ? code : "";
	if (strcmp(code, "NoSuchKey") == 0)
		obj->result = RS_OBJ_MISSING;
	else
	{
		obj->result = (strcmp(code, "AccessDenied") == 0 ||
					   strcmp(code, "InvalidObjectState") == 0 ||
					   strcmp(code, "MethodNotAllowed") == 0)
			? RS_OBJ_FAILED : RS_OBJ_RETRY;
		obj->error = psprintf("S3 %s: %s", code[0] ? code : "error", msg ? msg : "");
	}
}

/*
 * s3_delete_objects: DeleteObjects, 1000 keys a request, several at once.
 */
static void
s3_delete_objects(void *state, RsObject *objects, int n)
{
	S3State    *st = (S3State *) state;
	int			nreq = (n + S3_MAX_KEYS - 1) / S3_MAX_KEYS;
	RsHttpReq  *reqs = palloc0(sizeof(RsHttpReq) * Max(nreq, 1));
	char	   *url = psprintf("%s%s?delete=", bucket_url(st), st->o.path_style ? "" : "/");

	if (st->cred_error)
	{
		for (int i = 0; i < n; i++)
		{
			objects[i].result = RS_OBJ_RETRY;
			objects[i].error = pstrdup(st->cred_error);
		}
		return;
	}

	for (int r = 0; r < nreq; r++)
	{
		StringInfoData body;
		int			from = r * S3_MAX_KEYS;
		int			to = Min(n, from + S3_MAX_KEYS);

		initStringInfo(&body);
		appendStringInfoString(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
							   "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
		for (int i = from; i < to; i++)
			appendStringInfo(&body, "<Object><Key>%s</Key></Object>", rs_xml_escape(objects[i].key));
		appendStringInfoString(&body, "</Delete>");

		request_init(&reqs[r], "POST", url, body.data, body.len);
		reqs[r].headers = lappend(reqs[r].headers, "Content-Type: application/xml");
		reqs[r].headers = lappend(reqs[r].headers,
								  psprintf("Content-MD5: %s", rs_md5_base64(body.data, body.len)));
		request_sign(st, &reqs[r]);
		reqs[r].tag = from;
	}

	rs_http_run(reqs, nreq, rs_purge_concurrency, rs_storage_timeout_ms);

	for (int r = 0; r < nreq; r++)
	{
		int			from = reqs[r].tag;
		int			to = Min(n, from + S3_MAX_KEYS);
		RsObjectResult all = classify(&reqs[r].result);

		if (all != RS_OBJ_DELETED)
		{
			char	   *why = s3_error(&reqs[r].result);

			for (int i = from; i < to; i++)
			{
				objects[i].result = all;
				objects[i].error = why;
				objects[i].not_sent = reqs[r].result.not_sent;
			}
			continue;
		}
		else
		{
			ErrorWalk	w;
			const char *b = reqs[r].result.body;

			w.n = to - from;
			w.objects = objects;
			w.index = palloc(sizeof(KeyIndex) * w.n);
			for (int i = from; i < to; i++)
			{
				objects[i].result = RS_OBJ_DELETED;
				w.index[i - from].key = objects[i].key;
				w.index[i - from].pos = i;
			}
			qsort(w.index, w.n, sizeof(KeyIndex), keyindex_cmp);
			rs_xml_each(b, b ? strlen(b) : 0, "Error", on_key_error, &w);
		}
	}
}

/* What the <Contents> walker needs */
typedef struct ListWalk
{
	RsListCallback cb;
	void	   *arg;
	bool		stop;
} ListWalk;

/*
 * on_contents: one <Contents> entry of a ListObjectsV2 answer.
 */
static void
on_contents(const char *content, size_t len, void *arg)
{
	ListWalk   *w = (ListWalk *) arg;
	char	   *key;

	if (w->stop)
		return;
	key = rs_xml_text(content, len, "Key");
	if (key && !w->cb(key, w->arg))
		w->stop = true;
}

/*
 * s3_list_prefix: ListObjectsV2, page after page.
 */
static char *
s3_list_prefix(void *state, const char *prefix, RsListCallback cb, void *arg)
{
	S3State    *st = (S3State *) state;
	char	   *token = NULL;
	ListWalk	w;

	if (st->cred_error)
		return pstrdup(st->cred_error);
	w.cb = cb;
	w.arg = arg;
	w.stop = false;
	for (;;)
	{
		RsHttpReq	r;
		const char *body;
		size_t		len;
		char	   *truncated;

		CHECK_FOR_INTERRUPTS();
		/* canonical query: keys in order, values RFC 3986 encoded */
		request_init(&r, "GET",
					 psprintf("%s%s?%s%s%slist-type=2&max-keys=1000&prefix=%s",
							  bucket_url(st), st->o.path_style ? "" : "/",
							  token ? "continuation-token=" : "",
							  token ? rs_uri_encode(token, false) : "",
							  token ? "&" : "",
							  rs_uri_encode(prefix, false)),
					 NULL, 0);
		request_sign(st, &r);
		rs_http_run(&r, 1, 1, rs_storage_timeout_ms);
		if (classify(&r.result) != RS_OBJ_DELETED)
			return psprintf("ListObjectsV2 failed: %s", s3_error(&r.result));
		body = r.result.body;
		len = body ? strlen(body) : 0;
		rs_xml_each(body, len, "Contents", on_contents, &w);
		if (w.stop)
			return NULL;
		truncated = rs_xml_text(body, len, "IsTruncated");
		token = rs_xml_text(body, len, "NextContinuationToken");
		if (truncated == NULL || strcmp(truncated, "true") != 0 || token == NULL)
			return NULL;
	}
}

/*
 * s3_put_object: PUT one object.
 */
static RsObjectResult
s3_put_object(void *state, const char *key, const char *data, size_t len, char **error)
{
	S3State    *st = (S3State *) state;
	RsHttpReq	r;
	RsObjectResult res;

	if (st->cred_error)
	{
		*error = pstrdup(st->cred_error);
		return RS_OBJ_RETRY;
	}
	request_init(&r, "PUT", object_url(st, key), data, len);
	r.headers = lappend(r.headers, "Content-Type: application/octet-stream");
	request_sign(st, &r);
	rs_http_run(&r, 1, 1, rs_storage_timeout_ms);
	res = classify(&r.result);
	if (res != RS_OBJ_DELETED)
		*error = psprintf("PUT failed: %s", s3_error(&r.result));
	return res;
}

/*
 * s3_probe: list one key of the bucket.
 */
static List *
s3_probe(void *state)
{
	S3State    *st = (S3State *) state;
	RsHttpReq	r;
	List	   *checks = NIL;
	char	   *code;
	const char *body;

	request_init(&r, "GET",
				 psprintf("%s%s?list-type=2&max-keys=1", bucket_url(st), st->o.path_style ? "" : "/"),
				 NULL, 0);
	if (!st->cred_error)
		request_sign(st, &r);
	/* else unsigned: is the endpoint there at all? */
	rs_http_run(&r, 1, 1, Min(rs_storage_timeout_ms, 10000));
	if (r.result.error)
	{
		checks = list_make1(rs_check_new("reachable", false, psprintf("%s: %s", st->o.endpoint, r.result.error)));
		if (st->cred_error)
			checks = lappend(checks, rs_check_new("credentials", false, pstrdup(st->cred_error)));
		return checks;
	}
	checks = lappend(checks, rs_check_new("reachable", true,
										  psprintf("%s answered HTTP %ld", st->o.endpoint, r.result.status)));
	if (st->cred_error)
		return lappend(checks, rs_check_new("credentials", false, pstrdup(st->cred_error)));
	body = r.result.body;
	code = rs_xml_text(body, body ? strlen(body) : 0, "Code");
	if (r.result.status == 403 || r.result.status == 401)
	{
		checks = lappend(checks, rs_check_new("credentials", false, s3_error(&r.result)));
		return checks;
	}
	checks = lappend(checks, rs_check_new("credentials", true,
										  psprintf("accepted (from %s)", st->cred_source)));
	if (r.result.status == 404 || (code && strcmp(code, "NoSuchBucket") == 0))
		checks = lappend(checks, rs_check_new("bucket", false, s3_error(&r.result)));
	else if (r.result.status >= 200 && r.result.status < 300)
		checks = lappend(checks, rs_check_new("bucket", true,
											  psprintf("bucket \"%s\" can be listed", st->o.bucket)));
	else
		checks = lappend(checks, rs_check_new("bucket", false, s3_error(&r.result)));
	return checks;
}

const RsStorageDriver rs_storage_s3 = {
	.name = "s3",
	.description = "Amazon S3 or an S3-compatible store",
	.validate = s3_validate,
	.open = s3_open,
	.delete_objects = s3_delete_objects,
	.list_prefix = s3_list_prefix,
	.cleanup_prefix = NULL,
	.delete_collection = NULL,
	.put_object = s3_put_object,
	.probe = s3_probe,
	.close = s3_close,
	.batch_size = 4000,
};
