/*-------------------------------------------------------------------------
 *
 * guards.c
 *	  Checks a reset must pass before it takes a lock or touches a row:
 *	  the confirmation phrase, and a server and transaction that can write.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "guards.h"
#include "reset_system.h"

/*
 * describe_mismatch: say why a phrase that looks right is not, so the
 * operator does not have to stare at it.
 */
static const char *
describe_mismatch(const char *phrase, const char *expected)
{
	size_t		len = strlen(phrase);

	if (len == 0)
		return "The phrase given was empty.";
	if (pg_strcasecmp(phrase, expected) == 0)
		return "The phrase differs only in letter case; it is case-sensitive.";
	if (isspace((unsigned char) phrase[0]) || isspace((unsigned char) phrase[len - 1]))
		return "The phrase has leading or trailing white space; it must be typed exactly.";
	return "The phrase must be typed exactly, in capitals, with hyphens.";
}

/*
 * rs_guard_phrase: the phrase must equal "expected" byte for byte.  A
 * wrong phrase is a loud error, never a quiet no-op.
 */
void
rs_guard_phrase(const char *phrase, const char *expected, const char *function)
{
	rs_guard_phrase_hint(phrase, expected,
						 psprintf("To go ahead, run: SELECT %s('%s'); after reading the plan.",
								  function, expected));
}

/*
 * rs_guard_phrase_hint: the same, with the caller's hint.
 */
void
rs_guard_phrase_hint(const char *phrase, const char *expected, const char *hint)
{
	if (phrase == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_RS_PHRASE_MISMATCH),
				 errmsg("confirmation phrase must not be NULL"),
				 errhint("%s", hint)));
	if (strcmp(phrase, expected) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_RS_PHRASE_MISMATCH),
				 errmsg("confirmation phrase does not match"),
				 errdetail("%s Nothing was changed.", describe_mismatch(phrase, expected)),
				 errhint("%s", hint)));
}

/*
 * rs_guard_writable: refuse on a hot standby and in a read-only
 * transaction, before anything is locked.
 */
void
rs_guard_writable(const char *what)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s on a hot standby", what),
				 errdetail("This server is in recovery; it only replays changes from its primary."),
				 errhint("Connect to the primary server (where SELECT pg_is_in_recovery(); returns false).")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s in a read-only transaction", what),
				 errhint("Run it in a read-write transaction (BEGIN READ WRITE), "
						 "or check default_transaction_read_only.")));
}

/*
 * rs_guard_until: now + duration, refused unless it lies after now and at
 * most max_usecs after now.  The cap is checked on the computed
 * timestamps, not on the interval: an interval's months and days are
 * calendar units (a month is 28 to 31 days, a day 23 to 25 hours), so
 * comparing intervals lets '1 mon -30 days 24:00:00' through as if it were
 * 24 hours.  A sum that leaves the timestamp range, and an infinite one,
 * is refused the same way, never as a date out of range.
 */
TimestampTz
rs_guard_until(Interval *duration, int64 max_usecs, const char *what, const char *hint)
{
	TimestampTz now = GetCurrentTimestamp();
	volatile TimestampTz until = 0;
	volatile bool overflow = false;
	MemoryContext cxt = CurrentMemoryContext;
	char	   *text = DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(duration)));

	/* timestamptz_pl_interval only fails on a result out of range */
	PG_TRY();
	{
		until = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														TimestampTzGetDatum(now),
														IntervalPGetDatum(duration)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		overflow = true;
	}
	PG_END_TRY();

	if (!overflow && (TIMESTAMP_IS_NOBEGIN(until) || (!TIMESTAMP_NOT_FINITE(until) && until <= now)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the duration of %s must be positive", what),
				 errdetail("Interval \"%s\" does not end after the current time.", text),
				 errhint("%s", hint)));
	if (overflow || TIMESTAMP_NOT_FINITE(until) || until - now > max_usecs)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s lasts at most %s", what,
						max_usecs % USECS_PER_HOUR == 0
						? psprintf(INT64_FORMAT " hours", max_usecs / USECS_PER_HOUR)
						: psprintf(INT64_FORMAT " seconds", max_usecs / USECS_PER_SEC)),
				 errdetail("Interval \"%s\" ends %s.", text,
						   overflow || TIMESTAMP_NOT_FINITE(until) ? "beyond the range of timestamps"
						   : "later than that, counted on the calendar from now"),
				 errhint("%s", hint)));
	return until;
}

/*
 * rs_guard_enabled: the server-wide kill switch, reset_system.allow_reset.
 */
void
rs_guard_enabled(void)
{
	if (!rs_allow_reset)
		ereport(ERROR,
				(errcode(ERRCODE_RS_DISABLED),
				 errmsg("resets are disabled on this server"),
				 errdetail("reset_system.allow_reset is off."),
				 errhint("A superuser can allow them again: LOAD 'reset_system'; ALTER SYSTEM SET reset_system.allow_reset = on; "
						 "SELECT pg_reload_conf();")));
}

/*
 * rs_guard_is_refusal: is this SQLSTATE one of the reasons a reset is
 * refused (as opposed to a reset that failed while it ran)?
 */
bool
rs_guard_is_refusal(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_RS_PHRASE_MISMATCH:
		case ERRCODE_RS_PLAN_CHANGED:
		case ERRCODE_RS_ENV_UNLABELLED:
		case ERRCODE_RS_ENV_PROTECTED:
		case ERRCODE_RS_DISABLED:
		case ERRCODE_RS_TOO_MANY_ROWS:
		case ERRCODE_READ_ONLY_SQL_TRANSACTION:
		case ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST:
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
		case ERRCODE_LOCK_NOT_AVAILABLE:
		case ERRCODE_INSUFFICIENT_PRIVILEGE:
		case ERRCODE_FEATURE_NOT_SUPPORTED:
			return true;
		default:
			return false;
	}
}
