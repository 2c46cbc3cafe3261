/*-------------------------------------------------------------------------
 *
 * http.c
 *	  The "http" storage backend: a plain HTTP or WebDAV server, where an
 *	  object is a URL under a base URL (nginx with the DAV module, Apache
 *	  mod_dav, most WebDAV stores).
 *
 * Options: {"base_url": "https://files.example.com/uploads/"}.
 *
 * Deletes: DELETE base_url + key (percent-encoded once, "/" kept), many at
 * once over kept-alive connections.  2xx is deleted, 404 and 410 already
 * gone, 408/429/5xx and transport errors are retried, other answers fail
 * with the status and the start of the body.
 *
 * Prefixes: listed through a JSON directory index when the server offers
 * one (nginx "autoindex_format json": [{"name", "type"}, ...]), so keys
 * still referenced are kept.  A server that cannot list may still delete a
 * whole collection (DELETE on a URL ending in "/", as WebDAV allows): that
 * is only done for a prefix ending in "/" under which no registered row
 * references any key (purge.c checks that).
 *
 * An Authorization header, when needed, is read from the file named by
 * reset_system.http_authorization_file (for example "Bearer ..." or
 * "Basic ..."); it never appears in a table, a log line or an error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "options.h"
#include "transfer.h"
#include "storage.h"
#include "webutil.h"

typedef struct HttpState
{
	char	   *base_url;		/* ends with "/" */
	char	   *auth;			/* "Authorization: ..." or NULL */
	char	   *auth_error;
} HttpState;

/*
 * parse_base_url: the option, normalized to end with "/".
 */
static char *
parse_base_url(const char *options_json)
{
	json_t	   *opts = rs_options_load("http", options_json,
									   "{\"base_url\": \"https://files.example.com/uploads/\"}");
	const char *key;
	json_t	   *value;
	json_t	   *b;
	char	   *url;

	json_object_foreach(opts, key, value)
	{
		if (strcmp(key, "base_url") != 0)
		{
			char	   *bad = pstrdup(key);

			json_decref(opts);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option %s for storage backend \"http\"", rs_message_value(bad)),
					 errhint("The http backend takes one option, \"base_url\"; credentials come from reset_system.http_authorization_file.")));
		}
	}
	b = json_object_get(opts, "base_url");
	if (!json_is_string(b))
	{
		json_decref(opts);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage backend \"http\" needs option \"base_url\", a string")));
	}
	url = pstrdup(json_string_value(b));
	json_decref(opts);
	if (url[0] && url[strlen(url) - 1] != '/')
		url = psprintf("%s/", url);
	return url;
}

/*
 * http_validate: an http(s) URL with a host, without credentials, query
 * or fragment.
 */
static char *
http_validate(const char *options_json)
{
	char	   *url = parse_base_url(options_json);

	rs_option_check_url("http", "base_url", rs_option_raw(options_json, "base_url"),
						"{\"base_url\": \"https://files.example.com/uploads/\"}");
	return psprintf("WebDAV/HTTP server at %s", url);
}

/*
 * http_open: base URL and the Authorization header.
 */
static void *
http_open(const char *options_json)
{
	HttpState  *st = palloc0(sizeof(HttpState));

	st->base_url = parse_base_url(options_json);
	if (rs_http_authorization_file && rs_http_authorization_file[0])
	{
		char	   *error;
		char	   *value = rs_read_secret_file(rs_http_authorization_file, &error);

		if (value)
			st->auth = psprintf("Authorization: %s", value);
		else
			st->auth_error = psprintf("reset_system.http_authorization_file: %s", error);
	}
	return st;
}

/*
 * http_close: nothing to release.
 */
static void
http_close(void *state)
{
}

/*
 * headers: the Authorization header, when there is one.
 */
static List *
headers(HttpState *st)
{
	return st->auth ? list_make1(st->auth) : NIL;
}

/*
 * status_error: "HTTP nnn: start of the body".
 */
static char *
status_error(const RsHttpResult *r)
{
	if (r->error)
		return pstrdup(r->error);
	return psprintf("HTTP %ld%s%.120s", r->status, r->body && r->body[0] ? ": " : "",
					r->body ? r->body : "");
}

/*
 * http_delete_objects: one DELETE per object, concurrently.
 */
static void
http_delete_objects(void *state, RsObject *objects, int n)
{
	HttpState  *st = (HttpState *) state;
	RsHttpReq  *reqs = palloc0(sizeof(RsHttpReq) * Max(n, 1));
	int			m = 0;

	for (int i = 0; i < n; i++)
	{
		const char *problem = rs_storage_key_problem(objects[i].key, false);

		if (problem)
		{
			objects[i].result = RS_OBJ_FAILED;
			objects[i].error = psprintf("refused: %s", problem);
			continue;
		}
		if (st->auth_error)
		{
			objects[i].result = RS_OBJ_RETRY;
			objects[i].error = pstrdup(st->auth_error);
			continue;
		}
		reqs[m].method = "DELETE";
		reqs[m].url = psprintf("%s%s", st->base_url, rs_uri_encode(objects[i].key, true));
		reqs[m].headers = headers(st);
		reqs[m].tag = i;
		m++;
	}
	rs_http_run(reqs, m, rs_purge_concurrency, rs_storage_timeout_ms);
	for (int j = 0; j < m; j++)
	{
		RsObject   *obj = &objects[reqs[j].tag];
		RsHttpResult *r = &reqs[j].result;

		if (r->error == NULL && r->status >= 200 && r->status < 300)
			obj->result = RS_OBJ_DELETED;
		else if (r->error == NULL && (r->status == 404 || r->status == 410))
			obj->result = RS_OBJ_MISSING;
		else
		{
			obj->result = rs_http_retryable(r) ? RS_OBJ_RETRY : RS_OBJ_FAILED;
			obj->error = status_error(r);
			obj->not_sent = r->not_sent;
		}
	}
}

/*
 * list_dir: one directory level of a JSON index, recursing into
 * subdirectories.  Entries of the top level must start with match.
 */
static char *
list_dir(HttpState *st, const char *dir, const char *match, RsListCallback cb, void *arg,
		 bool *stop, int depth)
{
	RsHttpResult r;
	json_error_t jerr;
	json_t	   *arr;
	size_t		i;
	json_t	   *item;

	CHECK_FOR_INTERRUPTS();
	if (depth > 64)
		return pstrdup("the directory tree is more than 64 levels deep");
	r = rs_http_request("GET", psprintf("%s%s", st->base_url, rs_uri_encode(dir, true)),
						lappend(headers(st), "Accept: application/json"), NULL,
						rs_storage_timeout_ms);
	if (r.error == NULL && r.status == 404)
		return NULL;			/* nothing there */
	if (r.error == NULL && depth == 0 &&
		(r.status == 403 || r.status == 405 || r.status == 501))
		return (char *) RS_LIST_UNSUPPORTED;	/* no directory index here */
	if (r.error || r.status != 200)
		return psprintf("listing \"%s\" failed: %s", dir, status_error(&r));
	arr = json_loads(r.body ? r.body : "", 0, &jerr);
	if (arr == NULL || !json_is_array(arr))
	{
		if (arr)
			json_decref(arr);
		return (char *) RS_LIST_UNSUPPORTED;
	}
	json_array_foreach(arr, i, item)
	{
		const char *name = json_string_value(json_object_get(item, "name"));
		const char *type = json_string_value(json_object_get(item, "type"));

		if (*stop)
			break;
		if (name == NULL || (match && strncmp(name, match, strlen(match)) != 0))
			continue;
		if (type && strcmp(type, "directory") == 0)
		{
			char	   *err = list_dir(st, psprintf("%s%s/", dir, name), NULL, cb, arg, stop, depth + 1);

			if (err)
			{
				json_decref(arr);
				return err;
			}
		}
		else if (!cb(psprintf("%s%s", dir, name), arg))
			*stop = true;
	}
	json_decref(arr);
	return NULL;
}

/*
 * http_list_prefix: walk the JSON index from the prefix's directory.
 */
static char *
http_list_prefix(void *state, const char *prefix, RsListCallback cb, void *arg)
{
	HttpState  *st = (HttpState *) state;
	const char *slash = strrchr(prefix, '/');
	char	   *dir = slash ? pnstrdup(prefix, slash - prefix + 1) : pstrdup("");
	const char *match = slash ? slash + 1 : prefix;
	bool		stop = false;

	if (st->auth_error)
		return pstrdup(st->auth_error);
	return list_dir(st, dir, match[0] ? match : NULL, cb, arg, &stop, 0);
}

/*
 * http_delete_collection: DELETE a collection URL (ending in "/").
 */
static char *
http_delete_collection(void *state, const char *prefix)
{
	HttpState  *st = (HttpState *) state;
	RsHttpReq	r;

	if (st->auth_error)
		return pstrdup(st->auth_error);
	if (prefix[0] == '\0' || prefix[strlen(prefix) - 1] != '/')
		return pstrdup("only a prefix ending in \"/\" names a collection");
	memset(&r, 0, sizeof(r));
	r.method = "DELETE";
	r.url = psprintf("%s%s", st->base_url, rs_uri_encode(prefix, true));
	r.headers = lappend(headers(st), "Depth: infinity");
	rs_http_run(&r, 1, 1, rs_storage_timeout_ms);
	if (r.result.error == NULL &&
		((r.result.status >= 200 && r.result.status < 300) || r.result.status == 404))
		return NULL;
	return psprintf("DELETE of the collection failed: %s", status_error(&r.result));
}

/*
 * http_put_object: PUT one object (WebDAV creates the directories).
 */
static RsObjectResult
http_put_object(void *state, const char *key, const char *data, size_t len, char **error)
{
	HttpState  *st = (HttpState *) state;
	RsHttpReq	r;

	if (st->auth_error)
	{
		*error = pstrdup(st->auth_error);
		return RS_OBJ_RETRY;
	}
	memset(&r, 0, sizeof(r));
	r.method = "PUT";
	r.url = psprintf("%s%s", st->base_url, rs_uri_encode(key, true));
	r.headers = lappend(headers(st), "Content-Type: application/octet-stream");
	r.body = data;
	r.body_len = len;
	rs_http_run(&r, 1, 1, rs_storage_timeout_ms);
	if (r.result.error == NULL && r.result.status >= 200 && r.result.status < 300)
		return RS_OBJ_DELETED;
	*error = psprintf("PUT failed: %s", status_error(&r.result));
	return rs_http_retryable(&r.result) ? RS_OBJ_RETRY : RS_OBJ_FAILED;
}

/* The object a storage check writes and deletes again */
#define HTTP_PROBE_KEY ".reset_system-check"

/*
 * http_probe: write a small object under the base URL and delete it again,
 * which proves all the purge needs: the server answers, accepts the
 * credentials, and lets them delete.
 */
static List *
http_probe(void *state)
{
	HttpState  *st = (HttpState *) state;
	RsHttpReq	r;
	List	   *checks = NIL;
	const char *body = "reset_system storage check\n";

	memset(&r, 0, sizeof(r));
	r.method = "PUT";
	r.url = psprintf("%s%s", st->base_url, HTTP_PROBE_KEY);
	r.headers = headers(st);
	r.body = body;
	r.body_len = strlen(body);
	rs_http_run(&r, 1, 1, Min(rs_storage_timeout_ms, 10000));
	if (r.result.error)
		checks = lappend(checks, rs_check_new("reachable", false, psprintf("%s: %s", st->base_url, r.result.error)));
	else
		checks = lappend(checks, rs_check_new("reachable", true,
											  psprintf("%s answered HTTP %ld", st->base_url, r.result.status)));
	if (st->auth_error)
		return lappend(checks, rs_check_new("credentials", false, pstrdup(st->auth_error)));
	if (r.result.error)
		return checks;
	if (r.result.status == 401 || r.result.status == 403)
		return lappend(checks, rs_check_new("credentials", false, status_error(&r.result)));
	checks = lappend(checks, rs_check_new("credentials", true,
										  st->auth ? pstrdup("Authorization accepted") : pstrdup("none needed")));
	if (r.result.status < 200 || r.result.status >= 300)
		return lappend(checks, rs_check_new("writable", false,
											psprintf("writing a test object failed: %s", status_error(&r.result))));

	memset(&r, 0, sizeof(r));
	r.method = "DELETE";
	r.url = psprintf("%s%s", st->base_url, HTTP_PROBE_KEY);
	r.headers = headers(st);
	rs_http_run(&r, 1, 1, Min(rs_storage_timeout_ms, 10000));
	if (r.result.error == NULL && r.result.status >= 200 && r.result.status < 300)
		checks = lappend(checks, rs_check_new("writable", true,
											  psprintf("wrote and deleted %s", HTTP_PROBE_KEY)));
	else
		checks = lappend(checks, rs_check_new("writable", false,
											  psprintf("deleting a test object failed: %s", status_error(&r.result))));
	return checks;
}

const RsStorageDriver rs_storage_http = {
	.name = "http",
	.description = "an HTTP or WebDAV server",
	.validate = http_validate,
	.open = http_open,
	.delete_objects = http_delete_objects,
	.list_prefix = http_list_prefix,
	.cleanup_prefix = NULL,
	.delete_collection = http_delete_collection,
	.put_object = http_put_object,
	.probe = http_probe,
	.close = http_close,
	.batch_size = 1000,
};
