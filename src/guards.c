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
