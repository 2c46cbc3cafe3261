/*-------------------------------------------------------------------------
 *
 * render.c
 *	  Small formatting helpers shared by the plan and the execute report.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "render.h"

/*
 * rs_format_count: 1234567 -> "1,234,567", the way a person reads counts.
 */
char *
rs_format_count(int64 n)
{
	char		digits[32];
	char		out[48];
	int			len;
	int			o = 0;
	int			start = 0;

	snprintf(digits, sizeof(digits), INT64_FORMAT, n);
	len = strlen(digits);
	if (digits[0] == '-')
	{
		out[o++] = '-';
		start = 1;
	}
	for (int i = start; i < len; i++)
	{
		if (i > start && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return pstrdup(out);
}

/*
 * rs_one_line: collapse whitespace runs (newlines included) to one space
 * and cut at maxlen bytes with "...", for one-line displays of SQL.
 */
char *
rs_one_line(const char *s, int maxlen)
{
	StringInfoData buf;
	bool		space = false;

	initStringInfo(&buf);
	while (*s && isspace((unsigned char) *s))
		s++;
	for (; *s; s++)
	{
		if (isspace((unsigned char) *s))
		{
			space = true;
			continue;
		}
		if (space)
			appendStringInfoChar(&buf, ' ');
		space = false;
		appendStringInfoChar(&buf, *s);
	}
	if (buf.len > maxlen)
	{
		int			cut = maxlen;

		/* do not cut a multibyte character in half */
		while (cut > 0 && (buf.data[cut] & 0xC0) == 0x80)
			cut--;
		buf.data[cut] = '\0';
		buf.len = cut;
		appendStringInfoString(&buf, "...");
	}
	return buf.data;
}

/*
 * rs_copy_out: copy a string out of the SPI procedure context into the
 * caller's, so it survives SPI_finish().
 */
char *
rs_copy_out(const char *s)
{
	size_t		len = strlen(s) + 1;
	char	   *copy = SPI_palloc(len);

	memcpy(copy, s, len);
	return copy;
}

/*
 * rs_format_seconds: 3600 -> "1 hour", 90 -> "90 seconds", the way a
 * person reads a setting in seconds.
 */
char *
rs_format_seconds(int secs)
{
	if (secs % 86400 == 0)
		return psprintf("%d day%s", secs / 86400, secs == 86400 ? "" : "s");
	if (secs % 3600 == 0)
		return psprintf("%d hour%s", secs / 3600, secs == 3600 ? "" : "s");
	if (secs % 60 == 0)
		return psprintf("%d minute%s", secs / 60, secs == 60 ? "" : "s");
	return psprintf("%d second%s", secs, secs == 1 ? "" : "s");
}

/*
 * rs_format_size: a byte count as pg_size_pretty writes it ("264 kB").
 */
char *
rs_format_size(int64 bytes)
{
	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty, Int64GetDatum(bytes))));
}

/*
 * rs_display_width: how many columns s takes on a terminal (multibyte
 * characters count once, wide ones twice), in the database encoding.
 */
int
rs_display_width(const char *s)
{
	int			w = 0;

	while (*s)
	{
		w += Max(pg_dsplen(s), 0);
		s += pg_mblen(s);
	}
	return w;
}

/*
 * rs_append_padded: s, then spaces up to width display columns.
 */
void
rs_append_padded(StringInfo buf, const char *s, int width)
{
	appendStringInfoString(buf, s);
	for (int w = rs_display_width(s); w < width; w++)
		appendStringInfoChar(buf, ' ');
}
