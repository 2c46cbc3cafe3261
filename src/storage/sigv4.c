/*-------------------------------------------------------------------------
 *
 * sigv4.c
 *	  AWS Signature Version 4: the headers that authenticate a request to
 *	  S3 or an S3-compatible store.
 *
 * The signature is computed here, with PostgreSQL's own SHA-256 and HMAC
 * (webutil.c over common/cryptohash.h and common/hmac.h), rather than by
 * libcurl: curl's signing code has changed from release to release (7.88
 * signs the query exactly as written and adds no x-amz-content-sha256;
 * 8.14 signs a "%2B" in a query value as if it were "%20"), and each such
 * change turns a working installation into one whose requests S3 rejects.
 * Signing ourselves, we sign exactly what we send, whatever libcurl
 * version the server runs with.
 *
 * The steps (AWS's "Signature Version 4 signing process"):
 *
 *	 canonical request = METHOD \n canonical URI \n canonical query \n
 *						 canonical headers \n signed headers \n payload hash
 *	 string to sign	   = "AWS4-HMAC-SHA256" \n timestamp \n scope \n
 *						 hex(SHA-256(canonical request))
 *	 signing key	   = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region),
 *						 service), "aws4_request")
 *	 signature		   = hex(HMAC(signing key, string to sign))
 *
 * S3 canonicalises the path and the query the way it decodes them: every
 * component is percent-decoded once and encoded again with RFC 3986's
 * unreserved characters kept ("/" kept in the path, S3 never encodes a
 * path twice), and the query parameters are sorted by name, then value.
 * The same is done here with the URL the request goes to, so a URL that
 * is not already in canonical form is still signed the way S3 checks it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/sha2.h"
#include "lib/stringinfo.h"

#include "sigv4.h"
#include "webutil.h"

/* A header to sign: lowercase name, trimmed value. */
typedef struct SignedHeader
{
	char	   *name;
	char	   *value;
} SignedHeader;

/* A query parameter, canonically encoded. */
typedef struct QueryParam
{
	char	   *name;
	char	   *value;
} QueryParam;

/*
 * hexval: the value of one hex digit, or -1.
 */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * percent_decode: [s, s+len) with every valid %XX sequence decoded once.
 * A "%" not followed by two hex digits stays a "%" (and is encoded as
 * "%25" again).  "+" is a plus sign, as S3 reads it in a path and in a
 * SigV4-signed query.
 */
static char *
percent_decode(const char *s, size_t len)
{
	char	   *out = palloc(len + 1);
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '%' && i + 2 < len &&
			hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0)
		{
			out[n++] = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		else
			out[n++] = s[i];
	}
	out[n] = '\0';
	return out;
}

/*
 * rs_sigv4_canonical_uri: the canonical form of a URL's path (without the
 * query): decoded once, encoded again keeping "/"; "/" when empty.
 */
char *
rs_sigv4_canonical_uri(const char *path)
{
	if (path == NULL || path[0] == '\0')
		return pstrdup("/");
	return rs_uri_encode(percent_decode(path, strlen(path)), true);
}

/*
 * param_cmp: order of query parameters: by encoded name, then value,
 * byte by byte.
 */
static int
param_cmp(const void *a, const void *b)
{
	const QueryParam *pa = (const QueryParam *) a;
	const QueryParam *pb = (const QueryParam *) b;
	int			c = strcmp(pa->name, pb->name);

	return c != 0 ? c : strcmp(pa->value, pb->value);
}

/*
 * rs_sigv4_canonical_query: the canonical form of a query string (without
 * the "?"): every name and value decoded once and encoded again, "name="
 * for a parameter without a value, sorted.  "" when there is none.
 */
char *
rs_sigv4_canonical_query(const char *query)
{
	QueryParam *params;
	int			n = 0;
	int			cap = 8;
	const char *p = query;
	StringInfoData buf;

	if (query == NULL || query[0] == '\0')
		return pstrdup("");
	params = palloc(sizeof(QueryParam) * cap);
	while (*p)
	{
		const char *amp = strchr(p, '&');
		size_t		len = amp ? (size_t) (amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);

		if (len > 0)
		{
			size_t		nlen = eq ? (size_t) (eq - p) : len;

			if (n == cap)
			{
				cap *= 2;
				params = repalloc(params, sizeof(QueryParam) * cap);
			}
			params[n].name = rs_uri_encode(percent_decode(p, nlen), false);
			params[n].value = eq
				? rs_uri_encode(percent_decode(eq + 1, len - nlen - 1), false)
				: pstrdup("");
			n++;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	qsort(params, n, sizeof(QueryParam), param_cmp);
	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s=%s", i > 0 ? "&" : "", params[i].name, params[i].value);
	return buf.data;
}

/*
 * header_cmp: signed headers are sorted by (lowercase) name.
 */
static int
header_cmp(const void *a, const void *b)
{
	return strcmp(((const SignedHeader *) a)->name, ((const SignedHeader *) b)->name);
}

/*
 * header_from: "Name: value" as a header to sign; false for a line that
 * is not a header (no colon) or one that removes a curl default ("Name:"
 * with nothing after it is never sent).
 */
static bool
header_from(const char *line, SignedHeader *h)
{
	const char *colon = strchr(line, ':');
	const char *v;
	StringInfoData value;
	bool		space = false;

	if (colon == NULL || colon == line)
		return false;
	h->name = pnstrdup(line, colon - line);
	for (char *c = h->name; *c; c++)
		*c = pg_ascii_tolower((unsigned char) *c);
	/* the value, trimmed, with inner runs of blanks as one space */
	initStringInfo(&value);
	for (v = colon + 1; *v; v++)
	{
		if (*v == ' ' || *v == '\t')
			space = value.len > 0;
		else
		{
			if (space)
				appendStringInfoChar(&value, ' ');
			space = false;
			appendStringInfoChar(&value, *v);
		}
	}
	if (value.len == 0)
		return false;
	h->value = value.data;
	return true;
}

/*
 * hmac: HMAC-SHA256 of a NUL-terminated text under key (32 bytes out;
 * out may be the key's own buffer).
 */
static void
hmac(const uint8 *key, size_t keylen, const char *text, uint8 *out)
{
	uint8		mac[PG_SHA256_DIGEST_LENGTH];

	rs_hmac_sha256(key, keylen, text, strlen(text), mac);
	memcpy(out, mac, sizeof(mac));
}

/*
 * rs_sigv4_sign: sign one request to url (scheme://host[:port]/path?query)
 * with the given method, other headers ("Name: value": every one of them
 * is signed) and hex SHA-256 of the body.  Returns the headers to send in
 * addition to those: Host, x-amz-date, x-amz-content-sha256,
 * x-amz-security-token (when the key has a session token) and
 * Authorization.  "now" is the signing time (time(NULL); a fixed value
 * reproduces a published example).
 */
List *
rs_sigv4_sign(const RsSigV4Key *key, const char *method, const char *url,
			  List *headers, const char *payload_sha256, time_t now)
{
	const char *scheme_end = strstr(url, "://");
	const char *authority = scheme_end ? scheme_end + 3 : url;
	size_t		alen = strcspn(authority, "/?#");
	const char *path = authority + alen;
	size_t		plen = strcspn(path, "?#");
	const char *query = path[plen] == '?' ? path + plen + 1 : "";
	char	   *host = pnstrdup(authority, alen);
	char		amz_date[17];
	char		date[9];
	struct tm	tm;
	List	   *out = NIL;
	SignedHeader *sh;
	int			nh = 0;
	ListCell   *lc;
	StringInfoData creq;
	StringInfoData signed_names;
	char	   *scope;
	char	   *string_to_sign;
	uint8		k[PG_SHA256_DIGEST_LENGTH];
	uint8		sig[PG_SHA256_DIGEST_LENGTH];
	char	   *secret;

	gmtime_r(&now, &tm);
	strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, amz_date, 8);
	date[8] = '\0';

	out = lappend(out, psprintf("Host: %s", host));
	out = lappend(out, psprintf("x-amz-date: %s", amz_date));
	out = lappend(out, psprintf("x-amz-content-sha256: %s", payload_sha256));
	if (key->session_token)
		out = lappend(out, psprintf("x-amz-security-token: %s", key->session_token));

	/* every header that is sent, sorted by lowercase name */
	sh = palloc(sizeof(SignedHeader) * (list_length(headers) + list_length(out)));
	foreach(lc, out)
		if (header_from((const char *) lfirst(lc), &sh[nh]))
			nh++;
	foreach(lc, headers)
		if (header_from((const char *) lfirst(lc), &sh[nh]))
			nh++;
	qsort(sh, nh, sizeof(SignedHeader), header_cmp);

	initStringInfo(&creq);
	initStringInfo(&signed_names);
	appendStringInfo(&creq, "%s\n%s\n%s\n", method,
					 rs_sigv4_canonical_uri(pnstrdup(path, plen)),
					 rs_sigv4_canonical_query(pnstrdup(query, strcspn(query, "#"))));
	for (int i = 0; i < nh; i++)
	{
		/* a repeated header is one line, its values joined by commas */
		if (i > 0 && strcmp(sh[i].name, sh[i - 1].name) == 0)
		{
			creq.len--;			/* drop the previous line's newline */
			creq.data[creq.len] = '\0';
			appendStringInfo(&creq, ",%s\n", sh[i].value);
			continue;
		}
		appendStringInfo(&creq, "%s:%s\n", sh[i].name, sh[i].value);
		appendStringInfo(&signed_names, "%s%s", signed_names.len > 0 ? ";" : "", sh[i].name);
	}
	appendStringInfo(&creq, "\n%s\n%s", signed_names.data, payload_sha256);

	scope = psprintf("%s/%s/%s/aws4_request", date, key->region, key->service);
	string_to_sign = psprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope,
							  rs_sha256_hex(creq.data, creq.len));

	secret = psprintf("AWS4%s", key->secret_key);
	hmac((const uint8 *) secret, strlen(secret), date, k);
	hmac(k, sizeof(k), key->region, k);
	hmac(k, sizeof(k), key->service, k);
	hmac(k, sizeof(k), "aws4_request", k);
	hmac(k, sizeof(k), string_to_sign, sig);
	/* the secret does not outlive this function */
	memset(secret, 0, strlen(secret));
	memset(k, 0, sizeof(k));

	out = lappend(out, psprintf("Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
								key->access_key, scope, signed_names.data,
								rs_hex_encode(sig, sizeof(sig))));
	return out;
}
