/*-------------------------------------------------------------------------
 *
 * environment.c
 *	  The environment guard: a database must be labelled, and a protected
 *	  environment (reset_system.protected_environments, "production" by
 *	  default) needs a time-limited unlock, committed beforehand, for each
 *	  reset.
 *
 * The label is reset_system.environment, a superuser setting stored in the
 * database itself (ALTER DATABASE ... SET), so no client-side mistake (a
 * wrong connection string, an environment variable) can bypass it, and a
 * production snapshot restored elsewhere stays labelled "production".
 *
 * reset_unlock() writes an unlock row; it only counts once committed, and
 * only for a reset in a later transaction: an automated script cannot
 * unlock and reset in one statement.  The reset it allows consumes it (one
 * unlock, one reset); reset_lock() cancels it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "environment.h"
#include "guards.h"
#include "internal.h"
#include "message.h"
#include "render.h"
#include "reset_system.h"

PG_FUNCTION_INFO_V1(reset_unlock);
PG_FUNCTION_INFO_V1(reset_lock);

/*
 * rs_env_labelled: has this database been given an environment label?
 */
bool
rs_env_labelled(void)
{
	return rs_environment != NULL && rs_environment[0] != '\0' &&
		pg_strcasecmp(rs_environment, RS_ENV_UNSET) != 0;
}

/*
 * rs_env_is_protected: is env one of reset_system.protected_environments
 * (compared without regard to case or surrounding spaces)?
 */
bool
rs_env_is_protected(const char *env)
{
	char	   *list;
	char	   *tok;
	char	   *save;

	if (env == NULL || rs_protected_environments == NULL)
		return false;
	list = pstrdup(rs_protected_environments);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *end;

		while (isspace((unsigned char) *tok))
			tok++;
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char) end[-1]))
			*--end = '\0';
		if (*tok && pg_strcasecmp(tok, env) == 0)
			return true;
	}
	return false;
}

/*
 * rs_env_status: the environment of this database and, when protected,
 * the unlock in force.  With lock_row, that unlock row is locked for the
 * reset that will consume it (SKIP LOCKED: a concurrent reset using it
 * makes this one see none, never wait).  Unlocks written by the current
 * transaction do not count.  Inside an SPI connection.
 */
void
rs_env_status(RsSession *s, RsEnvStatus *st, bool lock_row)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	int			n;

	memset(st, 0, sizeof(*st));
	st->name = rs_environment ? rs_environment : RS_ENV_UNSET;
	st->labelled = rs_env_labelled();
	st->protected = st->labelled && rs_env_is_protected(st->name);
	if (!st->protected)
		return;

	values[0] = CStringGetTextDatum(st->name);
	rs_as_owner_begin(s);
	n = rs_spi(psprintf("SELECT id, expires_at, created_by::pg_catalog.text"
						" FROM reset_system.unlocks"
						" WHERE pg_catalog.lower(environment) OPERATOR(pg_catalog.=) pg_catalog.lower($1)"
						"   AND consumed_at IS NULL AND cancelled_at IS NULL"
						"   AND expires_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()"
						"   AND created_xid IS DISTINCT FROM pg_catalog.pg_current_xact_id_if_assigned()"
						" ORDER BY expires_at DESC LIMIT 1%s",
						lock_row ? " FOR UPDATE SKIP LOCKED" : ""),
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);
	if (n > 0)
	{
		bool		isnull;

		st->unlock_id = rs_spi_int64(0, 0, 0);
		st->unlocked_until = DatumGetTimestampTz(rs_spi_datum(0, 1, &isnull));
		st->unlocked_by = rs_spi_text(0, 2);
	}
	rs_as_owner_end(s);
}

/*
 * rs_env_describe: the "Environment:" line of a plan.
 */
char *
rs_env_describe(const RsEnvStatus *st)
{
	if (!st->labelled)
		return psprintf("%s (not labelled: resets are refused)", st->name);
	if (!st->protected)
		return psprintf("%s", st->name);
	if (st->unlock_id == 0)
		return psprintf("%s (protected, locked)", st->name);
	return psprintf("%s (protected, unlocked until %s by %s, for one reset)",
					st->name, timestamptz_to_str(st->unlocked_until), st->unlocked_by);
}

/*
 * unlabelled_hint: the one statement that labels this database.
 */
static char *
unlabelled_hint(void)
{
	return psprintf("Label it as a superuser, then reconnect: ALTER DATABASE %s SET reset_system.environment = 'staging';"
					" (or 'development', 'demo', 'production', ...)",
					quote_identifier(get_database_name(MyDatabaseId)));
}

/*
 * rs_env_blocker: why the environment refuses a reset (message, hint and
 * SQLSTATE), or false when it allows it.
 */
bool
rs_env_blocker(const RsEnvStatus *st, int *sqlstate, char **message, char **detail,
			   char **hint)
{
	if (!st->labelled)
	{
		*sqlstate = ERRCODE_RS_ENV_UNLABELLED;
		*message = psprintf("database \"%s\" has no environment label",
							get_database_name(MyDatabaseId));
		*detail = pstrdup("A reset is refused where reset_system.environment was never set, so that a "
						  "database nobody labelled (a fresh restore, a new server) is never reset by mistake.");
		*hint = unlabelled_hint();
		return true;
	}
	if (st->protected && st->unlock_id == 0)
	{
		*sqlstate = ERRCODE_RS_ENV_PROTECTED;
		*message = psprintf("environment %s is protected and locked", rs_message_value(st->name));
		*detail = psprintf("%s is listed in reset_system.protected_environments; a reset there needs "
						   "an unlock committed in an earlier transaction, and each unlock allows one reset.",
						   rs_message_value(st->name));
		*hint = pstrdup("As a role allowed to unlock: SELECT reset_unlock('15 minutes'); COMMIT it, "
						"then run the reset in a new transaction.");
		return true;
	}
	return false;
}

/*
 * rs_env_consume: the reset that the unlock allowed happened.
 */
void
rs_env_consume(RsSession *s, int64 unlock_id, int64 reset_id)
{
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];

	if (unlock_id == 0)
		return;
	values[0] = Int64GetDatum(unlock_id);
	values[1] = Int64GetDatum(reset_id);
	rs_as_owner_begin(s);
	rs_spi("UPDATE reset_system.unlocks SET consumed_at = pg_catalog.clock_timestamp(),"
		   " consumed_by = $2 WHERE id OPERATOR(pg_catalog.=) $1",
		   2, argtypes, values, NULL, false, SPI_OK_UPDATE);
	rs_as_owner_end(s);
}

/*
 * record_event: an unlock or a lock, in the attempts table (in the same
 * transaction: it only happened if it commits) and in the server log.
 */
static void
record_event(RsSession *s, const char *outcome, const char *reason)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];

	values[0] = CStringGetTextDatum(outcome);
	values[1] = CStringGetTextDatum(reason);
	values[2] = CStringGetTextDatum(rs_environment ? rs_environment : RS_ENV_UNSET);
	values[3] = CStringGetTextDatum(rs_application_name());
	rs_as_owner_begin(s);
	rs_spi("INSERT INTO reset_system.attempts (at, role_name, session_role, database_name,"
		   " environment, outcome, reason, transaction_id, client, application_name, backend_pid)"
		   " SELECT pg_catalog.clock_timestamp(), CURRENT_USER, SESSION_USER,"
		   " pg_catalog.current_database(), $3, $1, $2, pg_catalog.pg_current_xact_id(),"
		   " pg_catalog.inet_client_addr()::pg_catalog.text,"
		   " $4, pg_catalog.pg_backend_pid()",
		   4, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(s);
	ereport(LOG,
			(errmsg("reset_system %s: database=\"%s\" environment=%s role=\"%s\" reason=\"%s\"",
					outcome, get_database_name(MyDatabaseId),
					rs_message_value(rs_environment ? rs_environment : RS_ENV_UNSET),
					GetUserNameFromId(s->caller_role, false), reason),
			 errhidestmt(true)));
}

/*
 * reset_unlock(duration interval DEFAULT '15 minutes')
 */
Datum
reset_unlock(PG_FUNCTION_ARGS)
{
	Interval   *duration;
	RsSession	s;
	TimestampTz until;
	char	   *reason;
	char	   *result;
	Oid			argtypes[3] = {TEXTOID, TIMESTAMPTZOID, NAMEOID};
	Datum		values[3];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"duration\" of reset_unlock() must not be NULL")));
	duration = PG_GETARG_INTERVAL_P(0);
	until = rs_guard_until(duration, USECS_PER_DAY, "an unlock",
						   "Unlock for a positive time of at most 24 hours, e.g. SELECT reset_unlock('15 minutes'); "
						   "unlock again when the next reset is due.");

	rs_guard_writable("unlock an environment");
	if (!rs_env_labelled())
		ereport(ERROR,
				(errcode(ERRCODE_RS_ENV_UNLABELLED),
				 errmsg("database \"%s\" has no environment label", get_database_name(MyDatabaseId)),
				 errdetail("Resets are refused in an unlabelled database; unlocking would not change that."),
				 errhint("%s", unlabelled_hint())));
	if (!rs_env_is_protected(rs_environment))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("environment %s is not protected", rs_message_value(rs_environment)),
				 errdetail("Resets there need no unlock. reset_system.protected_environments is %s.",
						   rs_message_value(rs_protected_environments ? rs_protected_environments : ""))));

	rs_enter(&s);
	SPI_connect();
	values[0] = CStringGetTextDatum(rs_environment);
	values[1] = TimestampTzGetDatum(until);
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(s.caller_role, false)));
	rs_as_owner_begin(&s);
	rs_spi("INSERT INTO reset_system.unlocks (environment, expires_at, created_by, created_xid)"
		   " VALUES ($1, $2, $3, pg_catalog.pg_current_xact_id())",
		   3, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(&s);
	reason = psprintf("unlocked until %s, for one reset", timestamptz_to_str(until));
	record_event(&s, "unlocked", reason);
	result = rs_copy_out(psprintf("Environment \"%s\" of database \"%s\" is unlocked until %s, for one reset. "
								  "The unlock takes effect when this transaction commits; run the reset in a later one.",
								  rs_environment, get_database_name(MyDatabaseId),
								  timestamptz_to_str(until)));
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/*
 * reset_lock(): cancel every unlock not used yet.
 */
Datum
reset_lock(PG_FUNCTION_ARGS)
{
	RsSession	s;
	int			n;
	char	   *result;

	rs_guard_writable("lock an environment");
	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	n = rs_spi("UPDATE reset_system.unlocks SET cancelled_at = pg_catalog.clock_timestamp(),"
			   " cancelled_by = CURRENT_USER"
			   " WHERE consumed_at IS NULL AND cancelled_at IS NULL"
			   "   AND expires_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()",
			   0, NULL, NULL, NULL, false, SPI_OK_UPDATE);
	rs_as_owner_end(&s);
	record_event(&s, "locked", psprintf("%d unlock(s) cancelled", n));
	result = rs_copy_out(n > 0
						 ? psprintf("Cancelled %d unlock(s): environment \"%s\" is locked again.", n,
									rs_environment ? rs_environment : RS_ENV_UNSET)
						 : psprintf("No unlock was in force: environment \"%s\" stays locked.",
									rs_environment ? rs_environment : RS_ENV_UNSET));
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
