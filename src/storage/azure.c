/*-------------------------------------------------------------------------
 *
 * azure.c
 *	  The "azure" storage backend: Azure Blob Storage (REST API).
 *
 * Options: {"account": "...", "container": "...", "endpoint":
 * "https://ACCOUNT.blob.core.windows.net", "prefix": "optional/",
 * "batch": true}.  Keys are stored under prefix when it is given.  The
 * endpoint may carry a path (an emulator's "http://host:port/ACCOUNT").
 *
 * Deletes: Blob Batch (POST CONTAINER?restype=container&comp=batch, or
 * the account's ?comp=batch with an account SAS, which is valid for the
 * account rather than the container: a multipart/mixed body of up to 256
 * Delete Blob sub-requests, each signed and answered on its own), several
 * batches in flight at once.  When the
 * server answers that it does not support batches, the worker remembers
 * it and sends one Delete Blob per object instead, many in flight
 * (reset_system.purge_concurrency).  Every delete asks for the blob's
 * snapshots to go too (x-ms-delete-snapshots: include).  202 is deleted,
 * 404 BlobNotFound already gone; 408, 429, 5xx and transport errors are
 * retried with backoff (Retry-After honoured by transfer.c); 403 and
 * other answers fail with the server's code and message.
 *
 * Prefixes: List Blobs with prefix and marker.  Seeds: Put Blob.
 *
 * Credentials, never in options, tables or messages, in this order:
 *   reset_system.azure_sas_token_file: a SAS token, appended to every URL;
 *   reset_system.azure_shared_key_file: the account key (base64, as the
 *     portal shows it); requests are signed with the Shared Key scheme,
 *     HMAC-SHA256 from PostgreSQL's common/hmac.h;
 *   otherwise a managed identity: an access token for the storage
 *     resource from the instance metadata endpoint (host in
 *     reset_system.azure_metadata_host; AZURE_CLIENT_ID in the server's
 *     environment picks a user-assigned identity), cached in the worker,
 *     fetched again a minute before it expires, and once when the server
 *     answers 401 or 403.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include <jansson.h>

#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "options.h"
#include "transfer.h"
#include "storage.h"
#include "webutil.h"

#define AZ_VERSION "2021-08-06"	/* x-ms-version: batch and bearer tokens */
#define AZ_BATCH_MAX 256
#define AZ_LIST_MAX 5000
#define AZ_EXAMPLE "{\"account\": \"myappuploads\", \"container\": \"media\", \"endpoint\": \"https://myappuploads.blob.core.windows.net\"}"

typedef enum AzAuth
{
	AZ_AUTH_NONE,				/* credentials could not be read */
	AZ_AUTH_SAS,
	AZ_AUTH_KEY,
	AZ_AUTH_TOKEN
} AzAuth;

typedef struct AzState
{
	char	   *account;
	char	   *container;
	char	   *endpoint;		/* scheme://host[:port][/path], no trailing "/" */
	char	   *origin;			/* scheme://host[:port] */
	char	   *base_path;		/* the endpoint's path ("" or "/ACCOUNT") */
	char	   *prefix;			/* "" when none */
	bool		batch;
	AzAuth		auth;
	char	   *sas;			/* without a leading "?" */
	uint8	   *key;
	int			keylen;
	char	   *cred_error;		/* why there are no credentials */
	char	   *cred_source;
} AzState;

/* The managed identity's token, cached as long as the worker lives */
static char *az_token = NULL;
static TimestampTz az_token_expires = 0;

/*
 * The endpoint that answered it does not support Blob Batch: single
 * deletes there for as long as the worker lives
 */
static char *az_no_batch_endpoint = NULL;

/*
 * batch_known_unsupported: whether this endpoint said it has no Blob Batch.
 */
static bool
batch_known_unsupported(AzState *st)
{
	return az_no_batch_endpoint != NULL && strcmp(az_no_batch_endpoint, st->endpoint) == 0;
}

/*
 * parse_state: the options, checked for shape (ERROR naming the option).
 */
static AzState *
parse_state(const char *options_json)
{
	json_t	   *opts = rs_options_load("azure", options_json, AZ_EXAMPLE);
	AzState    *st = palloc0(sizeof(AzState));
	const char *key;
	json_t	   *value;
	const char *slash;

	st->batch = true;
	json_object_foreach(opts, key, value)
	{
		char	   *bad = pstrdup(key);

		if (strcmp(key, "batch") == 0)
		{
			if (!json_is_boolean(value))
			{
				json_decref(opts);
				rs_option_error("azure", bad, "it must be true or false", AZ_EXAMPLE);
			}
			st->batch = json_is_true(value);
			continue;
		}
		if (strcmp(key, "account") != 0 && strcmp(key, "container") != 0 &&
			strcmp(key, "endpoint") != 0 && strcmp(key, "prefix") != 0)
		{
			json_decref(opts);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option %s for storage backend \"azure\"", rs_message_value(bad)),
					 errdetail("Credentials are never options: they are read from the files named by reset_system.azure_sas_token_file or reset_system.azure_shared_key_file, or come from a managed identity."),
					 errhint("The azure backend takes \"account\", \"container\", \"endpoint\", \"prefix\" and \"batch\".")));
		}
		if (!json_is_string(value))
		{
			json_decref(opts);
			rs_option_error("azure", bad, "it must be a string", AZ_EXAMPLE);
		}
		if (strcmp(key, "account") == 0)
			st->account = pstrdup(json_string_value(value));
		else if (strcmp(key, "container") == 0)
			st->container = pstrdup(json_string_value(value));
		else if (strcmp(key, "endpoint") == 0)
			st->endpoint = pstrdup(json_string_value(value));
		else
			st->prefix = pstrdup(json_string_value(value));
	}
	json_decref(opts);
	if (st->account == NULL)
		rs_option_error("azure", "account", "the storage account is missing", AZ_EXAMPLE);
	if (st->container == NULL)
		rs_option_error("azure", "container", "the container is missing", AZ_EXAMPLE);
	if (st->prefix == NULL)
		st->prefix = pstrdup("");
	if (st->endpoint == NULL)
		st->endpoint = psprintf("https://%s.blob.core.windows.net", st->account);
	else
		rs_option_check_url("azure", "endpoint", st->endpoint, AZ_EXAMPLE);
	while (strlen(st->endpoint) > 0 && st->endpoint[strlen(st->endpoint) - 1] == '/')
		st->endpoint[strlen(st->endpoint) - 1] = '\0';
	slash = strchr(strstr(st->endpoint, "://") ? strstr(st->endpoint, "://") + 3 : st->endpoint, '/');
	st->origin = slash ? pnstrdup(st->endpoint, slash - st->endpoint) : pstrdup(st->endpoint);
	st->base_path = slash ? pstrdup(slash) : pstrdup("");
	return st;
}

/*
 * azure_validate: account and container names as Azure defines them, the
 * endpoint, the prefix.
 */
static char *
azure_validate(const char *options_json)
{
	AzState    *st = parse_state(options_json);
	size_t		alen = strlen(st->account);
	size_t		clen = strlen(st->container);
	const char *problem;

	if (alen < 3 || alen > 24)
		rs_option_error("azure", "account",
						psprintf("storage account name %s must be 3 to 24 characters long",
								 rs_message_value(st->account)), AZ_EXAMPLE);
	for (const char *p = st->account; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			rs_option_error("azure", "account",
							psprintf("storage account name %s may only contain lowercase letters and digits",
									 rs_message_value(st->account)), AZ_EXAMPLE);
	if (clen < 3 || clen > 63)
		rs_option_error("azure", "container",
						psprintf("container name %s must be 3 to 63 characters long",
								 rs_message_value(st->container)), AZ_EXAMPLE);
	for (const char *p = st->container; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			rs_option_error("azure", "container",
							psprintf("container name %s may only contain lowercase letters, digits and \"-\"",
									 rs_message_value(st->container)), AZ_EXAMPLE);
	if (st->container[0] == '-' || st->container[clen - 1] == '-' || strstr(st->container, "--"))
		rs_option_error("azure", "container",
						psprintf("container name %s must start and end with a letter or digit and have no \"--\"",
								 rs_message_value(st->container)), AZ_EXAMPLE);
	if (st->prefix[0] && (problem = rs_storage_key_problem(st->prefix, true)) != NULL)
		rs_option_error("azure", "prefix", psprintf("%s: %s", rs_message_value(st->prefix), problem), AZ_EXAMPLE);
	return psprintf("Azure container \"%s\" of account \"%s\"%s%s at %s%s", st->container, st->account,
					st->prefix[0] ? " under " : "", st->prefix, st->endpoint,
					st->batch ? "" : ", single deletes");
}

/* ---- credentials ----------------------------------------------------------- */

/*
 * parse_token: the access token and its lifetime from the metadata
 * endpoint's JSON (expires_in is a string there, a number elsewhere).
 */
static char *
parse_token(const char *text, int *expires_in)
{
	json_error_t jerr;
	json_t	   *obj = text ? json_loads(text, 0, &jerr) : NULL;
	json_t	   *tok;
	json_t	   *exp;
	char	   *token = NULL;

	*expires_in = 300;
	if (obj == NULL)
		return NULL;
	tok = json_object_get(obj, "access_token");
	exp = json_object_get(obj, "expires_in");
	if (json_is_string(tok))
		token = pstrdup(json_string_value(tok));
	if (json_is_integer(exp))
		*expires_in = (int) json_integer_value(exp);
	else if (json_is_string(exp))
		*expires_in = atoi(json_string_value(exp));
	json_decref(obj);
	return token;
}

/*
 * get_token: the managed identity's access token, cached; fetched again
 * when it is about to expire or when force is set.  NULL with *error set
 * when none can be had; errors never contain a token.
 */
static const char *
get_token(bool force, char **error)
{
	TimestampTz now = GetCurrentTimestamp();
	const char *host = (rs_azure_metadata_host && rs_azure_metadata_host[0])
		? rs_azure_metadata_host : "169.254.169.254";
	const char *client = getenv("AZURE_CLIENT_ID");
	RsHttpResult r;
	int			expires_in;
	char	   *token;

	*error = NULL;
	if (!force && az_token && now < az_token_expires)
		return az_token;
	r = rs_http_request("GET",
						psprintf("http://%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s%s%s",
								 host, rs_uri_encode("https://storage.azure.com/", false),
								 client && client[0] ? "&client_id=" : "",
								 client && client[0] ? rs_uri_encode(client, false) : ""),
						list_make1("Metadata: true"), NULL, 10000);
	if (r.error || r.status != 200)
	{
		*error = r.error ? psprintf("instance metadata endpoint %s: %s", host, r.error)
			: psprintf("instance metadata endpoint %s answered HTTP %ld", host, r.status);
		return NULL;
	}
	token = parse_token(r.body, &expires_in);
	if (token == NULL || token[0] == '\0')
	{
		*error = psprintf("instance metadata endpoint %s gave no access_token", host);
		return NULL;
	}
	if (az_token)
		pfree(az_token);
	az_token = MemoryContextStrdup(TopMemoryContext, token);
	/* a minute early (or at half-life for short tokens) */
	az_token_expires = TimestampTzPlusMilliseconds(now,
												   (int64) 1000 * (expires_in > 120 ? expires_in - 60 : expires_in / 2));
	return az_token;
}

/*
 * load_credentials: from the SAS token file, else the key file, else the
 * managed identity (whose token is fetched when a request needs it).
 */
static void
load_credentials(AzState *st)
{
	char	   *error;

	if (rs_azure_sas_token_file && rs_azure_sas_token_file[0])
	{
		char	   *sas = rs_read_secret_file(rs_azure_sas_token_file, &error);

		st->cred_source = pstrdup("reset_system.azure_sas_token_file");
		if (sas == NULL)
		{
			st->cred_error = psprintf("reset_system.azure_sas_token_file: %s", error);
			return;
		}
		st->sas = sas[0] == '?' ? sas + 1 : sas;
		if (strstr(st->sas, "sig=") == NULL || strpbrk(st->sas, " \t\r\n#"))
		{
			st->cred_error = psprintf("reset_system.azure_sas_token_file: \"%s\" does not hold a SAS token (a query string with sig=...)",
									  rs_azure_sas_token_file);
			return;
		}
		st->auth = AZ_AUTH_SAS;
	}
	else if (rs_azure_shared_key_file && rs_azure_shared_key_file[0])
	{
		char	   *key = rs_read_secret_file(rs_azure_shared_key_file, &error);

		st->cred_source = pstrdup("reset_system.azure_shared_key_file");
		if (key == NULL)
		{
			st->cred_error = psprintf("reset_system.azure_shared_key_file: %s", error);
			return;
		}
		st->key = rs_base64_decode(key, &st->keylen);
		if (st->key == NULL || st->keylen == 0)
		{
			st->cred_error = psprintf("reset_system.azure_shared_key_file: \"%s\" does not hold a base64 account key",
									  rs_azure_shared_key_file);
			return;
		}
		st->auth = AZ_AUTH_KEY;
	}
	else
	{
		st->cred_source = psprintf("a managed identity (metadata endpoint %s)",
								   (rs_azure_metadata_host && rs_azure_metadata_host[0])
								   ? rs_azure_metadata_host : "169.254.169.254");
		st->auth = AZ_AUTH_TOKEN;
	}
}

/*
 * azure_open: options and credentials for a batch of work.
 */
static void *
azure_open(const char *options_json)
{
	AzState    *st = parse_state(options_json);

	load_credentials(st);
	return st;
}

/*
 * azure_close: nothing to release (curl's connections stay cached).
 */
static void
azure_close(void *state)
{
}

/* ---- requests ---------------------------------------------------------------- */

/*
 * http_date: the current time as RFC 1123 ("Tue, 01 Dec 2026 05:00:00
 * GMT"), independent of the locale.
 */
static char *
http_date(void)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t		now = time(NULL);
	struct tm	tm;

	gmtime_r(&now, &tm);
	return psprintf("%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
					months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A query parameter, decoded */
typedef struct AzParam
{
	const char *name;
	const char *value;
} AzParam;

/*
 * header_cmp: x-ms-* headers in the Shared Key order (by name).
 */
static int
header_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

/*
 * shared_key: the Authorization header value for a request: HMAC-SHA256
 * over the canonical string, as the Shared Key scheme defines it (version
 * 2015-02-21 and later: an empty Content-Length when there is no body).
 * xms are the request's "x-ms-name:value" headers (lowercase names),
 * params its query parameters sorted by name.
 */
static char *
shared_key(AzState *st, const char *method, const char *path, const AzParam *params, int nparams,
		   List *xms, size_t content_length, const char *content_type)
{
	StringInfoData s;
	List	   *sorted = list_copy(xms);
	ListCell   *lc;
	uint8		mac[PG_SHA256_DIGEST_LENGTH];

	initStringInfo(&s);
	appendStringInfo(&s, "%s\n\n\n", method);
	if (content_length > 0)
		appendStringInfo(&s, "%zu", content_length);
	appendStringInfo(&s, "\n\n%s\n\n\n\n\n\n\n", content_type ? content_type : "");
	list_sort(sorted, header_cmp);
	foreach(lc, sorted)
		appendStringInfo(&s, "%s\n", (char *) lfirst(lc));
	appendStringInfo(&s, "/%s%s", st->account, path);
	for (int i = 0; i < nparams; i++)
		appendStringInfo(&s, "\n%s:%s", params[i].name, params[i].value);
	rs_hmac_sha256(st->key, st->keylen, s.data, s.len, mac);
	return psprintf("SharedKey %s:%s", st->account, rs_base64_encode(mac, PG_SHA256_DIGEST_LENGTH));
}

/*
 * blob_path: the URL path of a blob (its name encoded once, "/" kept).
 */
static char *
blob_path(AzState *st, const char *key)
{
	return psprintf("%s/%s/%s", st->base_path, st->container,
					rs_uri_encode(psprintf("%s%s", st->prefix, key), true));
}

/*
 * request_init: a request to path with the given query parameters (sorted
 * by name), its x-ms-* headers, body and content type, authorized with
 * the state's credentials (token: the one given).
 */
static void
request_init(AzState *st, RsHttpReq *r, const char *method, const char *path,
			 const AzParam *params, int nparams, List *xms, const char *body, size_t len,
			 const char *content_type, const char *token)
{
	StringInfoData url;
	ListCell   *lc;

	memset(r, 0, sizeof(*r));
	xms = lappend(list_copy(xms), psprintf("x-ms-date:%s", http_date()));
	xms = lappend(xms, "x-ms-version:" AZ_VERSION);
	initStringInfo(&url);
	appendStringInfo(&url, "%s%s", st->origin, path);
	for (int i = 0; i < nparams; i++)
		appendStringInfo(&url, "%c%s=%s", i == 0 ? '?' : '&', params[i].name,
						 rs_uri_encode(params[i].value, false));
	if (st->auth == AZ_AUTH_SAS)
		appendStringInfo(&url, "%c%s", nparams == 0 ? '?' : '&', st->sas);
	r->method = method;
	r->url = url.data;
	r->body = body;
	r->body_len = len;
	foreach(lc, xms)
	{
		char	   *h = (char *) lfirst(lc);
		char	   *colon = strchr(h, ':');

		r->headers = lappend(r->headers, psprintf("%.*s: %s", (int) (colon - h), h, colon + 1));
	}
	if (body)
		r->headers = lappend(r->headers, psprintf("Content-Type: %s", content_type));
	if (st->auth == AZ_AUTH_KEY)
		r->headers = lappend(r->headers,
							 psprintf("Authorization: %s",
									  shared_key(st, method, path, params, nparams, xms,
												 body ? len : 0, body ? content_type : NULL)));
	else if (st->auth == AZ_AUTH_TOKEN && token)
		r->headers = lappend(r->headers, psprintf("Authorization: Bearer %s", token));
}

/*
 * error_code: the <Code> of an Azure error document, or NULL.
 */
static char *
error_code(const char *body)
{
	return body ? rs_xml_text(body, strlen(body), "Code") : NULL;
}

/*
 * az_message: "HTTP 403 AuthorizationPermissionMismatch: This request is
 * not authorized ..." from an answer (the first line of the message: the
 * rest is a request id and a time), or the transport error.
 */
static char *
az_message(long status, const char *body, const char *transport, bool timed_out)
{
	char	   *code;
	char	   *msg;

	if (transport)
		return psprintf("%s%s", transport, timed_out ? " (timed out)" : "");
	code = error_code(body);
	msg = body ? rs_xml_text(body, strlen(body), "Message") : NULL;
	if (msg)
		msg[strcspn(msg, "\r\n")] = '\0';
	if (code)
		return psprintf("HTTP %ld %s: %s", status, code, msg ? msg : "");
	return psprintf("HTTP %ld", status);
}

/*
 * set_result: an object's outcome from the answer to its delete.
 */
static void
set_result(RsObject *obj, long status, const char *body, const char *transport, bool timed_out)
{
	char	   *code = transport ? NULL : error_code(body);

	if (transport == NULL && status >= 200 && status < 300)
		obj->result = RS_OBJ_DELETED;
	else if (transport == NULL && status == 404 && (code == NULL || strcmp(code, "ContainerNotFound") != 0))
		obj->result = RS_OBJ_MISSING;
	else
	{
		obj->result = (transport || status == 408 || status == 429 || status >= 500)
			? RS_OBJ_RETRY : RS_OBJ_FAILED;
		obj->error = az_message(status, body, transport, timed_out);
	}
}

/*
 * auth_refused: an answer that a fresh token may cure.
 */
static bool
auth_refused(RsObject *obj)
{
	return obj->result == RS_OBJ_FAILED && obj->error &&
		(strncmp(obj->error, "HTTP 401", 8) == 0 || strncmp(obj->error, "HTTP 403", 8) == 0);
}

/* ---- deletes ---------------------------------------------------------------- */

/*
 * delete_each: one Delete Blob per object, many in flight.
 */
static void
delete_each(AzState *st, RsObject *objects, int *which, int n, const char *token)
{
	RsHttpReq  *reqs = palloc0(sizeof(RsHttpReq) * Max(n, 1));
	List	   *xms = list_make1("x-ms-delete-snapshots:include");

	for (int i = 0; i < n; i++)
	{
		request_init(st, &reqs[i], "DELETE", blob_path(st, objects[which[i]].key), NULL, 0, xms,
					 NULL, 0, NULL, token);
		reqs[i].tag = which[i];
	}
	rs_http_run(reqs, n, rs_purge_concurrency, rs_storage_timeout_ms);
	for (int i = 0; i < n; i++)
	{
		RsObject   *obj = &objects[reqs[i].tag];
		RsHttpResult *res = &reqs[i].result;

		obj->error = NULL;
		set_result(obj, res->status, res->body, res->error, res->timed_out);
		obj->not_sent = res->not_sent;
	}
}

/*
 * batch_unsupported: whether a whole-batch answer says the server does
 * not offer Blob Batch (an older API, an emulator, an account kind
 * without it), as opposed to a failure of this request.
 */
static bool
batch_unsupported(const RsHttpResult *res)
{
	static const char *const codes[] = {
		"FeatureNotSupportedForAccount", "FeatureNotYetSupportedForHierarchicalNamespaceAccounts",
		"NotImplemented", "UnsupportedQueryParameter", "InvalidQueryParameterValue",
		"UnsupportedHttpVerb", "InvalidUri", "UnsupportedHeader"
	};
	char	   *code;

	if (res->error)
		return false;
	if (res->status == 501)
		return true;
	if (res->status != 400 && res->status != 404 && res->status != 405 && res->status != 409)
		return false;
	code = error_code(res->body);
	if (code == NULL)
		return res->status == 405;
	for (size_t i = 0; i < lengthof(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/*
 * header_value: the value of header "name" (case-insensitive) in the
 * header block [from, end), or NULL.
 */
static char *
header_value(const char *from, const char *end, const char *name)
{
	size_t		nlen = strlen(name);

	for (const char *line = from; line && line < end;)
	{
		const char *eol = memchr(line, '\n', end - line);
		size_t		len = (eol ? eol : end) - line;

		if (len > nlen && pg_strncasecmp(line, name, nlen) == 0 && line[nlen] == ':')
		{
			const char *v = line + nlen + 1;
			const char *ve = line + len;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			return pnstrdup(v, ve - v);
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

/*
 * parse_batch: judge every part of a batch answer; the parts name their
 * sub-request by Content-ID (in order when they do not).  Returns false
 * when the answer is not a multipart document.
 */
static bool
parse_batch(const char *body, RsObject *objects, int *which, int n)
{
	const char *nl;
	char	   *boundary;
	size_t		blen;
	const char *p;
	int			order = 0;

	if (body == NULL || strncmp(body, "--", 2) != 0 || (nl = strpbrk(body, "\r\n")) == NULL)
		return false;
	boundary = pnstrdup(body, nl - body);
	blen = strlen(boundary);
	p = body;
	while ((p = strstr(p, boundary)) != NULL)
	{
		const char *part = p + blen;
		const char *next = strstr(part, boundary);
		const char *pend = next ? next : part + strlen(part);
		const char *http;
		const char *resp_headers;
		const char *resp_body;
		char	   *cid;
		int			idx;
		long		status;

		if (strncmp(part, "--", 2) == 0)
			break;				/* the closing boundary */
		http = strstr(part, "HTTP/1.1 ");
		if (http == NULL || http >= pend)
		{
			p = part;
			continue;
		}
		cid = header_value(part, http, "Content-ID");
		idx = cid ? atoi(cid) : order;
		order++;
		status = strtol(http + strlen("HTTP/1.1 "), NULL, 10);
		resp_headers = strchr(http, '\n');
		resp_body = resp_headers ? strstr(resp_headers, "\r\n\r\n") : NULL;
		if (idx >= 0 && idx < n)
		{
			RsObject   *obj = &objects[which[idx]];
			char	   *xml = (resp_body && resp_body < pend) ? pnstrdup(resp_body + 4, pend - resp_body - 4) : NULL;

			obj->error = NULL;
			if (xml == NULL || strstr(xml, "<Code>") == NULL)
			{
				/* no error document: the code is in a header, the message in the status line */
				char	   *code = resp_headers ? header_value(resp_headers, pend, "x-ms-error-code") : NULL;
				const char *reason = http + strlen("HTTP/1.1 ") + 3;
				size_t		rlen = strcspn(reason, "\r\n");

				if (code)
					xml = psprintf("<Error><Code>%s</Code><Message>%s</Message></Error>",
								   rs_xml_escape(code), rs_xml_escape(pnstrdup(reason + (rlen ? 1 : 0), rlen ? rlen - 1 : 0)));
			}
			set_result(obj, status, xml, NULL, false);
		}
		p = part;
	}
	return true;
}

/*
 * delete_batched: Blob Batch, 256 deletes a request, several requests in
 * flight.  Returns false when the server does not support batches (the
 * objects of the refused requests are left for single deletes, their
 * result RS_OBJ_PENDING).
 */
static bool
delete_batched(AzState *st, RsObject *objects, int *which, int n, const char *token)
{
	int			nreq = (n + AZ_BATCH_MAX - 1) / AZ_BATCH_MAX;
	RsHttpReq  *reqs = palloc0(sizeof(RsHttpReq) * Max(nreq, 1));
	AzParam		params[2] = {{"comp", "batch"}, {"restype", "container"}};
	char	   *boundary = psprintf("batch_%08x%08x", (unsigned) random(), (unsigned) MyProcPid);
	/* an account SAS is for the account's batch endpoint, anything else the container's */
	bool		account_level = st->auth == AZ_AUTH_SAS && strstr(st->sas, "srt=") != NULL;
	char	   *batch_path = account_level ? (st->base_path[0] ? st->base_path : "/")
		: psprintf("%s/%s", st->base_path, st->container);
	bool		supported = true;

	for (int r = 0; r < nreq; r++)
	{
		StringInfoData body;
		int			from = r * AZ_BATCH_MAX;
		int			to = Min(n, from + AZ_BATCH_MAX);
		char	   *date = http_date();

		initStringInfo(&body);
		for (int i = from; i < to; i++)
		{
			char	   *path = blob_path(st, objects[which[i]].key);

			appendStringInfo(&body,
							 "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
							 "Content-ID: %d\r\n\r\nDELETE %s%s%s HTTP/1.1\r\nx-ms-date: %s\r\n"
							 "x-ms-delete-snapshots: include\r\n",
							 boundary, i - from, path, st->auth == AZ_AUTH_SAS ? "?" : "",
							 st->auth == AZ_AUTH_SAS ? st->sas : "", date);
			if (st->auth == AZ_AUTH_KEY)
				appendStringInfo(&body, "Authorization: %s\r\n",
								 shared_key(st, "DELETE", path, NULL, 0,
											list_make2(psprintf("x-ms-date:%s", date),
													   "x-ms-delete-snapshots:include"),
											0, NULL));
			else if (st->auth == AZ_AUTH_TOKEN && token)
				appendStringInfo(&body, "Authorization: Bearer %s\r\n", token);
			appendStringInfoString(&body, "Content-Length: 0\r\n\r\n");
		}
		appendStringInfo(&body, "--%s--\r\n", boundary);
		request_init(st, &reqs[r], "POST", batch_path, params, account_level ? 1 : 2, NIL, body.data, body.len,
					 psprintf("multipart/mixed; boundary=%s", boundary), token);
		reqs[r].tag = from;
	}
	rs_http_run(reqs, nreq, rs_purge_concurrency, rs_storage_timeout_ms);

	for (int r = 0; r < nreq; r++)
	{
		int			from = reqs[r].tag;
		int			to = Min(n, from + AZ_BATCH_MAX);
		RsHttpResult *res = &reqs[r].result;

		if (batch_unsupported(res))
		{
			if (!batch_known_unsupported(st))
			{
				ereport(LOG,
						(errmsg("reset_system: the Azure storage at %s does not support Blob Batch (%s); deleting blobs one request each",
								st->endpoint, az_message(res->status, res->body, NULL, false))));
				if (az_no_batch_endpoint)
					pfree(az_no_batch_endpoint);
				az_no_batch_endpoint = MemoryContextStrdup(TopMemoryContext, st->endpoint);
			}
			supported = false;
			for (int i = from; i < to; i++)
				objects[which[i]].result = RS_OBJ_PENDING;
			continue;
		}
		for (int i = from; i < to; i++)
		{
			objects[which[i]].result = RS_OBJ_RETRY;
			objects[which[i]].error = pstrdup("no answer for this blob in the batch response");
			objects[which[i]].not_sent = false;
		}
		if (res->error == NULL && res->status == 202 &&
			parse_batch(res->body, objects, which + from, to - from))
			continue;
		for (int i = from; i < to; i++)
		{
			objects[which[i]].error = NULL;
			set_result(&objects[which[i]], res->status, res->body, res->error, res->timed_out);
			/* a whole batch refused as "accepted" would be a lie: it is not deleted */
			if (objects[which[i]].result == RS_OBJ_DELETED || objects[which[i]].result == RS_OBJ_MISSING)
			{
				objects[which[i]].result = RS_OBJ_RETRY;
				objects[which[i]].error = psprintf("the batch answer (HTTP %ld) is not a multipart document", res->status);
			}
			objects[which[i]].not_sent = res->not_sent;
		}
	}
	return supported;
}

/*
 * azure_delete_objects: delete a batch; with a token, refresh it once and
 * redo the objects the server refused with 401 or 403.
 */
static void
azure_delete_objects(void *state, RsObject *objects, int n)
{
	AzState    *st = (AzState *) state;
	int		   *which = palloc(sizeof(int) * Max(n, 1));
	int			m = 0;
	char	   *error = NULL;
	const char *token = NULL;

	if (st->auth == AZ_AUTH_TOKEN)
		token = get_token(false, &error);
	for (int i = 0; i < n; i++)
	{
		const char *problem = rs_storage_key_problem(objects[i].key, false);

		objects[i].error = NULL;
		if (problem)
		{
			objects[i].result = RS_OBJ_FAILED;
			objects[i].error = psprintf("refused: %s", problem);
		}
		else if (st->cred_error)
		{
			objects[i].result = RS_OBJ_RETRY;
			objects[i].error = pstrdup(st->cred_error);
		}
		else if (st->auth == AZ_AUTH_TOKEN && token == NULL)
		{
			objects[i].result = RS_OBJ_RETRY;
			objects[i].error = psprintf("no Azure access token: %s", error);
		}
		else
			which[m++] = i;
	}

	for (int attempt = 0; attempt < 2 && m > 0; attempt++)
	{
		int			k = 0;

		if (st->batch && !batch_known_unsupported(st))
		{
			if (!delete_batched(st, objects, which, m, token))
			{
				/* the refused batches' objects, one request each */
				for (int i = 0; i < m; i++)
					if (objects[which[i]].result == RS_OBJ_PENDING)
						which[k++] = which[i];
				delete_each(st, objects, which, k, token);
				k = 0;
			}
		}
		else
			delete_each(st, objects, which, m, token);

		if (st->auth != AZ_AUTH_TOKEN || attempt == 1)
			break;
		for (int i = 0; i < m; i++)
			if (auth_refused(&objects[which[i]]))
				which[k++] = which[i];
		if (k == 0)
			break;
		/* the token was refused: fetch a new one once, redo those objects */
		token = get_token(true, &error);
		if (token == NULL)
		{
			for (int i = 0; i < k; i++)
			{
				objects[which[i]].result = RS_OBJ_RETRY;
				objects[which[i]].error = psprintf("no Azure access token: %s", error);
			}
			break;
		}
		m = k;
	}
}

/* ---- listing, uploads, probe --------------------------------------------------- */

/* What the <Blob> walker needs */
typedef struct AzListWalk
{
	RsListCallback cb;
	void	   *arg;
	size_t		rootlen;
	bool		stop;
} AzListWalk;

/*
 * on_blob: one <Blob> of a List Blobs answer.
 */
static void
on_blob(const char *content, size_t len, void *arg)
{
	AzListWalk *w = (AzListWalk *) arg;
	char	   *name;

	if (w->stop)
		return;
	name = rs_xml_text(content, len, "Name");
	if (name && strlen(name) >= w->rootlen && !w->cb(name + w->rootlen, w->arg))
		w->stop = true;
}

/*
 * list_request: one page of List Blobs (maxresults, marker), with a token
 * refreshed once on 401/403.
 */
static RsHttpResult
list_request(AzState *st, const char *prefix, const char *marker, int max, char **error)
{
	AzParam		params[5];
	int			np = 0;
	RsHttpReq	r;
	const char *token = NULL;

	*error = NULL;
	params[np++] = (AzParam) {"comp", "list"};
	if (marker)
		params[np++] = (AzParam) {"marker", marker};
	params[np++] = (AzParam) {"maxresults", psprintf("%d", max)};
	params[np++] = (AzParam) {"prefix", prefix};
	params[np++] = (AzParam) {"restype", "container"};
	for (int attempt = 0; attempt < 2; attempt++)
	{
		if (st->auth == AZ_AUTH_TOKEN)
		{
			token = get_token(attempt > 0, error);
			if (token == NULL)
			{
				memset(&r.result, 0, sizeof(r.result));
				return r.result;
			}
		}
		request_init(st, &r, "GET", psprintf("%s/%s", st->base_path, st->container), params, np, NIL,
					 NULL, 0, NULL, token);
		rs_http_run(&r, 1, 1, rs_storage_timeout_ms);
		if (st->auth != AZ_AUTH_TOKEN || r.result.error ||
			(r.result.status != 401 && r.result.status != 403))
			break;
	}
	return r.result;
}

/*
 * azure_list_prefix: List Blobs, page after page.
 */
static char *
azure_list_prefix(void *state, const char *prefix, RsListCallback cb, void *arg)
{
	AzState    *st = (AzState *) state;
	char	   *marker = NULL;
	AzListWalk	w;

	if (st->cred_error)
		return pstrdup(st->cred_error);
	w.cb = cb;
	w.arg = arg;
	w.rootlen = strlen(st->prefix);
	w.stop = false;
	for (;;)
	{
		char	   *error;
		RsHttpResult res;
		size_t		len;

		CHECK_FOR_INTERRUPTS();
		res = list_request(st, psprintf("%s%s", st->prefix, prefix), marker, AZ_LIST_MAX, &error);
		if (error)
			return psprintf("no Azure access token: %s", error);
		if (res.error || res.status != 200)
			return psprintf("List Blobs failed: %s", az_message(res.status, res.body, res.error, res.timed_out));
		len = res.body ? strlen(res.body) : 0;
		rs_xml_each(res.body, len, "Blob", on_blob, &w);
		if (w.stop)
			return NULL;
		marker = rs_xml_text(res.body, len, "NextMarker");
		if (marker == NULL || marker[0] == '\0')
			return NULL;
	}
}

/*
 * azure_put_object: Put Blob (a block blob), with a token refreshed once
 * on 401/403.
 */
static RsObjectResult
azure_put_object(void *state, const char *key, const char *data, size_t len, char **error)
{
	AzState    *st = (AzState *) state;
	RsHttpReq	r;
	RsObject	obj;
	const char *token = NULL;
	char	   *terr;

	if (st->cred_error)
	{
		*error = pstrdup(st->cred_error);
		return RS_OBJ_RETRY;
	}
	memset(&obj, 0, sizeof(obj));
	for (int attempt = 0; attempt < 2; attempt++)
	{
		if (st->auth == AZ_AUTH_TOKEN && (token = get_token(attempt > 0, &terr)) == NULL)
		{
			*error = psprintf("no Azure access token: %s", terr);
			return RS_OBJ_RETRY;
		}
		request_init(st, &r, "PUT", blob_path(st, key), NULL, 0, list_make1("x-ms-blob-type:BlockBlob"),
					 data, len, "application/octet-stream", token);
		rs_http_run(&r, 1, 1, rs_storage_timeout_ms);
		memset(&obj, 0, sizeof(obj));
		set_result(&obj, r.result.status, r.result.body, r.result.error, r.result.timed_out);
		if (st->auth != AZ_AUTH_TOKEN || !auth_refused(&obj))
			break;
	}
	if (obj.result == RS_OBJ_MISSING)
	{
		obj.result = RS_OBJ_FAILED;
		obj.error = az_message(r.result.status, r.result.body, NULL, false);
	}
	*error = obj.error ? psprintf("Put Blob failed: %s", obj.error) : NULL;
	return obj.result;
}

/*
 * azure_probe: list one blob of the container: the endpoint answers, the
 * credentials are accepted, the container exists and can be listed.
 */
static List *
azure_probe(void *state)
{
	AzState    *st = (AzState *) state;
	List	   *checks = NIL;
	char	   *error = NULL;
	RsHttpResult res;
	char	   *code;
	AzAuth		auth = st->auth;

	/* without credentials, ask unauthenticated: is the endpoint there at all? */
	if (st->auth == AZ_AUTH_TOKEN && get_token(false, &error) == NULL)
		st->auth = AZ_AUTH_NONE;
	if (st->cred_error)
		st->auth = AZ_AUTH_NONE;
	{
		char	   *ignored;

		res = list_request(st, "", NULL, 1, &ignored);
	}
	st->auth = auth;
	if (res.error)
	{
		checks = list_make1(rs_check_new("reachable", false, psprintf("%s: %s", st->endpoint, res.error)));
		if (st->cred_error || error)
			checks = lappend(checks, rs_check_new("credentials", false,
												  pstrdup(st->cred_error ? st->cred_error : error)));
		return checks;
	}
	checks = lappend(checks, rs_check_new("reachable", true,
										  psprintf("%s answered HTTP %ld", st->endpoint, res.status)));
	if (st->cred_error)
		return lappend(checks, rs_check_new("credentials", false, pstrdup(st->cred_error)));
	if (error)
		return lappend(checks, rs_check_new("credentials", false, psprintf("no access token: %s", error)));
	code = error_code(res.body);
	if (res.status == 401 || res.status == 403)
		return lappend(checks, rs_check_new("credentials", false,
											psprintf("%s (from %s)", az_message(res.status, res.body, NULL, false),
													 st->cred_source)));
	checks = lappend(checks, rs_check_new("credentials", true, psprintf("accepted (from %s)", st->cred_source)));
	if (res.status == 200)
		checks = lappend(checks, rs_check_new("container", true,
											  psprintf("container \"%s\" can be listed", st->container)));
	else
		checks = lappend(checks, rs_check_new("container", false,
											  (code && strcmp(code, "ContainerNotFound") == 0)
											  ? psprintf("container \"%s\" does not exist: %s", st->container,
														 az_message(res.status, res.body, NULL, false))
											  : az_message(res.status, res.body, NULL, false)));
	return checks;
}

const RsStorageDriver rs_storage_azure = {
	.name = "azure",
	.description = "Azure Blob Storage",
	.validate = azure_validate,
	.open = azure_open,
	.delete_objects = azure_delete_objects,
	.list_prefix = azure_list_prefix,
	.cleanup_prefix = NULL,
	.delete_collection = NULL,
	.put_object = azure_put_object,
	.probe = azure_probe,
	.check_dirs = NULL,
	.close = azure_close,
	.batch_size = 2048,
	.local = false,
};
