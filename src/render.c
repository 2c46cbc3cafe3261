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
