/*-------------------------------------------------------------------------
 *
 * jsontext.c
 *	  Text between the database's encoding and JSON's UTF-8.
 *
 * jansson only takes UTF-8: json_string() of anything else gives NULL, and
 * the member silently goes missing.  Text from the database (a label, a
 * name, an error message) is therefore converted to UTF-8 first.  A
 * SQL_ASCII database gives no encoding to convert from: there, bytes that
 * do not form UTF-8 are shown as \xNN, never dropped.  Text read back from
 * JSON is converted to the database's encoding before it is stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "jsontext.h"

/*
 * escape_non_utf8: s with every byte that is not part of a valid UTF-8
 * sequence written as \xNN (for a SQL_ASCII database).
 */
static char *
escape_non_utf8(const char *s)
{
	StringInfoData buf;
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + strlen(s);

	initStringInfo(&buf);
	while (p < end)
	{
		int			len = pg_utf_mblen(p);

		if (*p < 0x80)
			appendStringInfoChar(&buf, (char) *p++);
		else if (p + len <= end && pg_utf8_islegal(p, len))
		{
			appendBinaryStringInfo(&buf, (const char *) p, len);
			p += len;
		}
		else
			appendStringInfo(&buf, "\\x%02X", *p++);
	}
	return buf.data;
}

/*
 * rs_utf8_from_server: s (in the database's encoding) as UTF-8, palloc'd
 * or s itself.  Never raises an error for text the database holds.
 */
char *
rs_utf8_from_server(const char *s)
{
	int			enc = GetDatabaseEncoding();

	if (s == NULL)
		return NULL;
	if (enc == PG_SQL_ASCII)
		return escape_non_utf8(s);
	if (enc == PG_UTF8)
		return unconstify(char *, s);
	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/*
 * rs_utf8_clip: UTF-8 text s cut after maxchars characters, with "..."
 * appended when something was cut (s itself when it is short enough).
 */
char *
rs_utf8_clip(const char *s, int maxchars)
{
	const unsigned char *p = (const unsigned char *) s;
	int			n = 0;

	while (*p && n < maxchars)
	{
		p += pg_utf_mblen(p);
		n++;
	}
	if (*p == '\0')
		return unconstify(char *, s);
	return psprintf("%.*s...", (int) (p - (const unsigned char *) s), s);
}

/*
 * rs_json_text: a JSON string of s (in the database's encoding), or JSON
 * null for NULL.
 */
json_t *
rs_json_text(const char *s)
{
	json_t	   *v;

	if (s == NULL)
		return json_null();
	v = json_string(rs_utf8_from_server(s));
	/* cannot happen (the text is valid UTF-8 now), but never lose a member */
	return v ? v : json_string("?");
}

/*
 * rs_json_text_max: rs_json_text with at most maxchars characters, then
 * "..." (for messages of bounded size: NOTIFY payloads).
 */
json_t *
rs_json_text_max(const char *s, int maxchars)
{
	json_t	   *v;

	if (s == NULL)
		return json_null();
	v = json_string(rs_utf8_clip(rs_utf8_from_server(s), maxchars));
	return v ? v : json_string("?");
}

/*
 * rs_server_from_utf8: UTF-8 text read from JSON in the database's
 * encoding (raises an error when a character has no equivalent there).
 */
char *
rs_server_from_utf8(const char *s)
{
	if (s == NULL)
		return NULL;
	return pg_any_to_server(s, strlen(s), PG_UTF8);
}
