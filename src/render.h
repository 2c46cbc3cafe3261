/*-------------------------------------------------------------------------
 *
 * render.h
 *	  Small formatting helpers shared by the plan and the execute report.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_RENDER_H
#define RESET_SYSTEM_RENDER_H

#include "postgres.h"

#include "lib/stringinfo.h"

extern char *rs_format_count(int64 n);
extern char *rs_format_seconds(int secs);
extern char *rs_format_size(int64 bytes);
extern char *rs_one_line(const char *s, int maxlen);
extern char *rs_copy_out(const char *s);
extern int	rs_display_width(const char *s);
extern void rs_append_padded(StringInfo buf, const char *s, int width);

#endif							/* RESET_SYSTEM_RENDER_H */
