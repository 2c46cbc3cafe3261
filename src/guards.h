/*-------------------------------------------------------------------------
 *
 * guards.h
 *	  Checks a reset must pass before it touches anything.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_GUARDS_H
#define RESET_SYSTEM_GUARDS_H

#include "postgres.h"

#include "datatype/timestamp.h"

extern void rs_guard_phrase(const char *phrase, const char *expected,
							const char *function);
extern void rs_guard_phrase_hint(const char *phrase, const char *expected, const char *hint);
extern void rs_guard_writable(const char *what);
extern void rs_guard_enabled(void);
extern TimestampTz rs_guard_until(Interval *duration, int64 max_usecs,
								  const char *what, const char *hint);
extern bool rs_guard_is_refusal(int sqlerrcode);

#endif							/* RESET_SYSTEM_GUARDS_H */
