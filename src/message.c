/*-------------------------------------------------------------------------
 *
 * message.c
 *	  Quoting user-supplied values for error and log messages.
 *
 * A value that a user typed (a label, a name, a path, a JSON document) may
 * be megabytes long or hold control characters.  Echoed whole, it floods
 * the server log and the client, and a newline in it can forge a log line.
 * rs_message_value() gives the form every message shows instead: quoted,
 * control characters escaped, cut after RS_MESSAGE_VALUE_MAX characters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "message.h"

/*
 * rs_message_value: value, for a message.  A palloc'd string in double
 * quotes; a double quote or backslash inside is preceded by a backslash,
 * newline, carriage return and tab are shown as \n, \r and \t, other
 * control characters (and bytes that are not valid in the server encoding)
 * as \xNN.  After RS_MESSAGE_VALUE_MAX characters the rest is left out
 * and "..." follows the closing quote.  NULL gives the word NULL.
 */
char *
rs_message_value(const char *value)
{
	StringInfoData buf;
	const char *p;
	const char *end;
	int			chars = 0;

	if (value == NULL)
		return pstrdup("NULL");

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '"');
	p = value;
	end = value + strlen(value);
	while (p < end)
	{
		unsigned char c = (unsigned char) *p;
		int			len;

		if (chars >= RS_MESSAGE_VALUE_MAX)
			break;
		chars++;
		if (c == '"' || c == '\\')
		{
			appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, (char) c);
			p++;
			continue;
		}
		if (c == '\n')
		{
			appendStringInfoString(&buf, "\\n");
			p++;
			continue;
		}
		if (c == '\r')
		{
			appendStringInfoString(&buf, "\\r");
			p++;
			continue;
		}
		if (c == '\t')
		{
			appendStringInfoString(&buf, "\\t");
			p++;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
		{
			appendStringInfo(&buf, "\\x%02X", c);
			p++;
			continue;
		}
		if (IS_HIGHBIT_SET(c))
		{
			len = pg_mblen(p);
			if (len < 1 || p + len > end ||
				pg_verify_mbstr(GetDatabaseEncoding(), p, len, true) != len)
			{
				appendStringInfo(&buf, "\\x%02X", c);
				p++;
				continue;
			}
			appendBinaryStringInfo(&buf, p, len);
			p += len;
			continue;
		}
		appendStringInfoChar(&buf, (char) c);
		p++;
	}
	appendStringInfoChar(&buf, '"');
	if (p < end)
		appendStringInfoString(&buf, "...");
	return buf.data;
}
