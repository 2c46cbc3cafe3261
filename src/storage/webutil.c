/*-------------------------------------------------------------------------
 *
 * webutil.c
 *	  Small helpers for talking to storage services: digests, URL
 *	  encoding, and just enough XML for S3's answers.
 *
 * S3 answers in XML and the dependencies are fixed (libcurl, jansson), so
 * instead of an XML library this file has a minimal reader: find the text
 * of an element by its local name (namespace prefixes ignored), walk the
 * repeated elements, and decode the five entities and numeric character
 * references.  S3's responses are flat and machine-generated; nothing more
 * is needed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "common/hmac.h"
#include "lib/stringinfo.h"

#include "compat.h"
#include "webutil.h"

/*
 * rs_hex: bytes as lowercase hex.
 */
static char *
rs_hex(const uint8 *bytes, int n)
{
	char	   *out = palloc(n * 2 + 1);

	for (int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", bytes[i]);
	return out;
}

/*
 * rs_sha256_hex: hex SHA-256 of data (x-amz-content-sha256).
 */
char *
rs_sha256_hex(const void *data, size_t len)
{
	uint8		d[PG_SHA256_DIGEST_LENGTH];

	if (!rs_digest(true, data, len, d))
		elog(ERROR, "reset_system: could not compute a SHA-256 digest");
	return rs_hex(d, PG_SHA256_DIGEST_LENGTH);
}

/*
 * rs_md5_base64: base64 MD5 of data (Content-MD5).
 */
char *
rs_md5_base64(const void *data, size_t len)
{
	uint8		d[MD5_DIGEST_LENGTH];
	char	   *out = palloc(pg_b64_enc_len(MD5_DIGEST_LENGTH) + 1);
	int			n;

	if (!rs_digest(false, data, len, d))
		elog(ERROR, "reset_system: could not compute an MD5 digest");
	n = rs_b64_encode(d, MD5_DIGEST_LENGTH, out, pg_b64_enc_len(MD5_DIGEST_LENGTH));
	out[Max(n, 0)] = '\0';
	return out;
}

/*
 * rs_hmac_sha256: HMAC-SHA256 of data under key into out (32 bytes), with
 * PostgreSQL's own implementation (common/hmac.h): request signing for S3
 * (SigV4) and Azure (Shared Key) needs nothing else.
 */
void
rs_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
			   uint8 *out)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	bool		ok;

	if (ctx == NULL)
		elog(ERROR, "reset_system: out of memory for an HMAC context");
	ok = pg_hmac_init(ctx, (const uint8 *) key, keylen) == 0 &&
		pg_hmac_update(ctx, (const uint8 *) data, len) == 0 &&
		pg_hmac_final(ctx, out, PG_SHA256_DIGEST_LENGTH) == 0;
	pg_hmac_free(ctx);
	if (!ok)
		elog(ERROR, "reset_system: could not compute an HMAC-SHA256");
}

/*
 * rs_hex_encode: bytes as lowercase hex (signatures, digests).
 */
char *
rs_hex_encode(const uint8 *bytes, int n)
{
	return rs_hex(bytes, n);
}

/*
 * rs_base64_encode: bytes as base64 (no line breaks), NUL-terminated.
 */
char *
rs_base64_encode(const void *data, int len)
{
	int			cap = pg_b64_enc_len(len);
	char	   *out = palloc(cap + 1);
	int			n = rs_b64_encode(data, len, out, cap);

	if (n < 0)
		elog(ERROR, "reset_system: could not encode %d bytes as base64", len);
	out[n] = '\0';
	return out;
}

/*
 * rs_base64_decode: the bytes of base64 text (whitespace not allowed);
 * NULL when it is not valid base64.  *len receives their number.
 */
uint8 *
rs_base64_decode(const char *text, int *len)
{
	int			tlen = strlen(text);
	int			cap = pg_b64_dec_len(tlen);
	uint8	   *out = palloc(cap + 1);
	int			n = rs_b64_decode(text, tlen, out, cap);

	if (n < 0)
	{
		pfree(out);
		return NULL;
	}
	*len = n;
	return out;
}

/*
 * rs_uri_encode: percent-encode every byte but the RFC 3986 unreserved
 * ones (A-Z a-z 0-9 - . _ ~), with uppercase hex; '/' is kept when
 * keep_slash (an S3 or WebDAV path), encoded otherwise (a GCS object name
 * is one path segment; a query value).
 */
char *
rs_uri_encode(const char *s, bool keep_slash)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
			*p == '~' || (keep_slash && *p == '/'))
			appendStringInfoChar(&buf, (char) *p);
		else
			appendStringInfo(&buf, "%%%02X", *p);
	}
	return buf.data;
}

/*
 * rs_xml_escape: text for an XML element.
 */
char *
rs_xml_escape(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = s; *p; p++)
	{
		switch (*p)
		{
			case '&':
				appendStringInfoString(&buf, "&amp;");
				break;
			case '<':
				appendStringInfoString(&buf, "&lt;");
				break;
			case '>':
				appendStringInfoString(&buf, "&gt;");
				break;
			case '"':
				appendStringInfoString(&buf, "&quot;");
				break;
			case '\'':
				appendStringInfoString(&buf, "&apos;");
				break;
			default:
				appendStringInfoChar(&buf, *p);
		}
	}
	return buf.data;
}

/*
 * append_utf8: a Unicode code point as UTF-8.
 */
static void
append_utf8(StringInfo buf, unsigned long cp)
{
	if (cp < 0x80)
		appendStringInfoChar(buf, (char) cp);
	else if (cp < 0x800)
	{
		appendStringInfoChar(buf, (char) (0xC0 | (cp >> 6)));
		appendStringInfoChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
	else if (cp < 0x10000)
	{
		appendStringInfoChar(buf, (char) (0xE0 | (cp >> 12)));
		appendStringInfoChar(buf, (char) (0x80 | ((cp >> 6) & 0x3F)));
		appendStringInfoChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
	else
	{
		appendStringInfoChar(buf, (char) (0xF0 | (cp >> 18)));
		appendStringInfoChar(buf, (char) (0x80 | ((cp >> 12) & 0x3F)));
		appendStringInfoChar(buf, (char) (0x80 | ((cp >> 6) & 0x3F)));
		appendStringInfoChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
}

/*
 * rs_xml_unescape: decode entities in [s, s+len).
 */
char *
rs_xml_unescape(const char *s, size_t len)
{
	StringInfoData buf;
	const char *end = s + len;

	initStringInfo(&buf);
	while (s < end)
	{
		if (*s != '&')
		{
			appendStringInfoChar(&buf, *s++);
			continue;
		}
		if (end - s >= 5 && strncmp(s, "&amp;", 5) == 0)
			appendStringInfoChar(&buf, '&'), s += 5;
		else if (end - s >= 4 && strncmp(s, "&lt;", 4) == 0)
			appendStringInfoChar(&buf, '<'), s += 4;
		else if (end - s >= 4 && strncmp(s, "&gt;", 4) == 0)
			appendStringInfoChar(&buf, '>'), s += 4;
		else if (end - s >= 6 && strncmp(s, "&quot;", 6) == 0)
			appendStringInfoChar(&buf, '"'), s += 6;
		else if (end - s >= 6 && strncmp(s, "&apos;", 6) == 0)
			appendStringInfoChar(&buf, '\''), s += 6;
		else if (end - s >= 3 && s[1] == '#')
		{
			const char *semi = memchr(s, ';', end - s);
			unsigned long cp;
			char	   *stop;

			if (semi == NULL)
			{
				appendStringInfoChar(&buf, *s++);
				continue;
			}
			if (s[2] == 'x' || s[2] == 'X')
				cp = strtoul(s + 3, &stop, 16);
			else
				cp = strtoul(s + 2, &stop, 10);
			if (stop != semi || cp == 0 || cp > 0x10FFFF)
			{
				appendStringInfoChar(&buf, *s++);
				continue;
			}
			append_utf8(&buf, cp);
			s = semi + 1;
		}
		else
			appendStringInfoChar(&buf, *s++);
	}
	return buf.data;
}

/*
 * find_tag: the next element called name (any namespace prefix) in
 * [from, end): sets *content and *content_end to its inner text, and
 * returns the position after its closing tag; NULL when none.
 */
static const char *
find_tag(const char *from, const char *end, const char *name,
		 const char **content, const char **content_end)
{
	size_t		nlen = strlen(name);
	const char *p = from;

	while (p < end && (p = memchr(p, '<', end - p)) != NULL)
	{
		const char *q = p + 1;
		const char *local = q;
		const char *gt;

		if (q >= end || *q == '/' || *q == '?' || *q == '!')
		{
			p++;
			continue;
		}
		/* element name up to whitespace, '>' or '/' */
		while (q < end && *q != '>' && *q != '/' && !isspace((unsigned char) *q))
		{
			if (*q == ':')
				local = q + 1;
			q++;
		}
		gt = memchr(q, '>', end - q);
		if (gt == NULL)
			return NULL;
		if ((size_t) (q - local) == nlen && strncmp(local, name, nlen) == 0)
		{
			const char *c = gt + 1;
			const char *close = c;

			if (gt[-1] == '/')
			{
				/* <Name/>: empty */
				*content = *content_end = c;
				return c;
			}
			/* the matching close tag: </name> or </prefix:name> */
			while ((close = memchr(close, '<', end - close)) != NULL)
			{
				const char *cl = close + 1;
				const char *cloc;

				if (cl < end && *cl == '/')
				{
					cl++;
					cloc = cl;
					while (cl < end && *cl != '>')
					{
						if (*cl == ':')
							cloc = cl + 1;
						cl++;
					}
					if ((size_t) (cl - cloc) == nlen && strncmp(cloc, name, nlen) == 0)
					{
						*content = c;
						*content_end = close;
						return cl < end ? cl + 1 : end;
					}
				}
				close++;
			}
			return NULL;
		}
		p = gt + 1;
	}
	return NULL;
}

/*
 * rs_xml_text: the decoded text of the first element called name, or NULL.
 */
char *
rs_xml_text(const char *xml, size_t len, const char *name)
{
	const char *c;
	const char *ce;

	if (xml == NULL || find_tag(xml, xml + len, name, &c, &ce) == NULL)
		return NULL;
	return rs_xml_unescape(c, ce - c);
}

/*
 * rs_xml_each: call cb with the raw content of every element called name.
 */
void
rs_xml_each(const char *xml, size_t len, const char *name,
			void (*cb) (const char *content, size_t len, void *arg), void *arg)
{
	const char *p = xml;
	const char *end = xml + len;
	const char *c;
	const char *ce;

	if (xml == NULL)
		return;
	while (p < end && (p = find_tag(p, end, name, &c, &ce)) != NULL)
		cb(c, ce - c, arg);
}
