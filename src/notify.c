/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  Telling the outside world about resets: NOTIFY reset_system with a
 *	  JSON payload, and, when reset_system.webhook_url is set, a JSON
 *	  message POSTed by the purge worker (with a "text" field, so chat
 *	  webhooks accept it as it is).
 *
 * NOTIFY is transactional: a committed reset notifies at its commit, a
 * rolled-back one never does.  Webhook messages are rows of
 * reset_system.notifications: written in the reset's transaction for a
 * committed reset, by the worker for refusals in protected environments
 * (which it learns from the attempt journal) and for finished purges.  The
 * worker delivers them with retries; a failing webhook never affects a
 * reset.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/timestamp.h"

/* fmgrprotos.h declares the SQL function json_object, as jansson does */
#define json_object pg_sql_json_object
#include "utils/builtins.h"
#undef json_object

#include "jsonutil.h"
#include "jsontext.h"

#include "compat.h"
#include "environment.h"
#include "transfer.h"
#include "notify.h"
#include "purge.h"
#include "render.h"
#include "reset_system.h"

#define RS_CHANNEL "reset_system"
#define RS_NOTIFY_MAX 7900		/* NOTIFY payloads must stay under 8000 bytes */

/*
 * Names and labels in a payload are cut after this many characters: with
 * JSON escapes a character takes at most 6 bytes, so the few such fields
 * of a payload keep it far below RS_NOTIFY_MAX whatever they hold.
 */
#define RS_NOTIFY_FIELD_MAX 128

/*
 * queue_webhook: a message for the webhook, if one is configured.  The
 * payload is UTF-8 (as jansson writes it); the table holds it in the
 * database's encoding.
 */
static void
queue_webhook(const char *event, const char *payload)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	if (rs_webhook_url == NULL || rs_webhook_url[0] == '\0')
		return;
	values[0] = CStringGetTextDatum(event);
	values[1] = CStringGetTextDatum(rs_server_from_utf8(payload));
	rs_spi("INSERT INTO reset_system.notifications (event, payload)"
		   " VALUES ($1, $2::pg_catalog.jsonb)",
		   2, argtypes, values, NULL, false, SPI_OK_INSERT);
}

/*
 * dump: a JSON object as compact text (palloc'd).
 */
static char *
dump(json_t *obj)
{
	char	   *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	char	   *copy = pstrdup(text ? text : "{}");

	free(text);
	return copy;
}

/*
 * rs_notify_reset: a reset is about to commit (inside its transaction).
 */
void
rs_notify_reset(RsSession *s, RsPlan *plan, int64 reset_id, int64 purge_objects)
{
	json_t	   *obj = rs_json_object();
	json_t	   *tables = rs_json_object();
	ListCell   *lc;
	char	   *role = GetUserNameFromId(s->caller_role, false);
	char	   *database;
	char	   *environment;
	char	   *payload;

	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		json_object_set_new(tables, rs_utf8_from_server(t->name), json_integer(t->rows));
	}
	database = rs_utf8_clip(rs_utf8_from_server(plan->database), RS_NOTIFY_FIELD_MAX);
	environment = rs_utf8_clip(rs_utf8_from_server(plan->environment), RS_NOTIFY_FIELD_MAX);
	role = rs_utf8_clip(rs_utf8_from_server(role), RS_NOTIFY_FIELD_MAX);
	json_object_set_new(obj, "event", json_string("reset"));
	json_object_set_new(obj, "database", json_string(database));
	json_object_set_new(obj, "environment", json_string(environment));
	json_object_set_new(obj, "reset_id", json_integer(reset_id));
	json_object_set_new(obj, "role", json_string(role));
	json_object_set_new(obj, "rows_deleted", json_integer(plan->delete_rows));
	json_object_set_new(obj, "purge_objects", json_integer(purge_objects));
	json_object_set_new(obj, "token", json_string(plan->token));
	json_object_set_new(obj, "text",
						json_string(psprintf("reset_system: database \"%s\" (%s) was reset by %s: "
											 "%s row(s) deleted in %d table(s), %s storage object(s) queued for purge (reset " INT64_FORMAT ").",
											 database, environment, role,
											 rs_format_count(plan->delete_rows),
											 list_length(plan->delete_tables),
											 rs_format_count(purge_objects), reset_id)));
	json_object_set_new(obj, "tables", tables);
	payload = dump(obj);
	if (strlen(payload) > RS_NOTIFY_MAX)
	{
		/* too many tables to list: the counts stay in reset_system.history */
		json_object_del(obj, "tables");
		payload = dump(obj);
	}
	json_decref(obj);
	/* a payload is text in the database's encoding, like any other */
	Async_Notify(RS_CHANNEL, rs_server_from_utf8(payload));
	rs_as_owner_begin(s);
	queue_webhook("reset", payload);
	rs_as_owner_end(s);
}

/*
 * rs_notify_purge_finished: the purge of a reset is done (in the worker's
 * transaction).
 */
void
rs_notify_purge_finished(int64 reset_id, int64 purged, int64 failed)
{
	json_t	   *obj = rs_json_object();
	char	   *db = get_database_name(MyDatabaseId);
	char	   *env;
	char	   *payload;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(reset_id);
	rs_spi("SELECT environment FROM reset_system.history WHERE id OPERATOR(pg_catalog.=) $1",
		   1, argtypes, values, NULL, false, SPI_OK_SELECT);
	env = SPI_processed > 0 ? rs_spi_text(0, 0) : pstrdup(RS_ENV_UNSET);
	db = rs_utf8_clip(rs_utf8_from_server(db), RS_NOTIFY_FIELD_MAX);
	env = rs_utf8_clip(rs_utf8_from_server(env), RS_NOTIFY_FIELD_MAX);

	json_object_set_new(obj, "event", json_string("purge_finished"));
	json_object_set_new(obj, "database", json_string(db));
	json_object_set_new(obj, "environment", json_string(env));
	json_object_set_new(obj, "reset_id", json_integer(reset_id));
	json_object_set_new(obj, "purged", json_integer(purged));
	json_object_set_new(obj, "failed", json_integer(failed));
	json_object_set_new(obj, "text",
						json_string(psprintf("reset_system: the storage purge of reset " INT64_FORMAT " in database \"%s\" (%s) finished: "
											 "%s object(s) purged, %s failed.",
											 reset_id, db, env, rs_format_count(purged),
											 rs_format_count(failed))));
	payload = dump(obj);
	json_decref(obj);
	Async_Notify(RS_CHANNEL, rs_server_from_utf8(payload));
	queue_webhook("purge_finished", payload);
}

/*
 * rs_notify_refused: a journal entry newly copied into the attempts
 * table; a refusal in a protected environment is worth a message.
 */
void
rs_notify_refused(json_t *entry)
{
	json_t	   *outcome = json_object_get(entry, "outcome");
	json_t	   *env = json_object_get(entry, "environment");
	json_t	   *obj;
	const char *reason;
	const char *role;
	const char *db;

	if (!json_is_string(outcome) || strcmp(json_string_value(outcome), "refused") != 0 ||
		!json_is_string(env) ||
		!rs_env_is_protected(rs_server_from_utf8(json_string_value(env))))
		return;

	reason = json_string_value(json_object_get(entry, "reason"));
	role = json_string_value(json_object_get(entry, "role"));
	db = json_string_value(json_object_get(entry, "database"));
	obj = rs_json_object();
	json_object_set_new(obj, "event", json_string("refused"));
	json_object_set(obj, "database", json_object_get(entry, "database"));
	json_object_set(obj, "environment", env);
	json_object_set(obj, "role", json_object_get(entry, "role"));
	json_object_set(obj, "reason", json_object_get(entry, "reason"));
	json_object_set(obj, "sqlstate", json_object_get(entry, "sqlstate"));
	json_object_set(obj, "at", json_object_get(entry, "at"));
	json_object_set_new(obj, "text",
						json_string(psprintf("reset_system: REFUSED a reset of database \"%s\" (%s) by %s: %s",
											 db ? db : "?", json_string_value(env),
											 role ? role : "?", reason ? reason : "no reason recorded")));
	queue_webhook("refused", dump(obj));
	json_decref(obj);
}

/*
 * rs_webhook_pending: is a webhook message waiting (inside a transaction)?
 */
bool
rs_webhook_pending(void)
{
	rs_spi("SELECT 1 FROM reset_system.notifications"
		   " WHERE state OPERATOR(pg_catalog.=) 'pending' LIMIT 1",
		   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	return SPI_processed > 0;
}

/*
 * rs_webhook_deliver: POST the due messages (a few per round), inside the
 * worker's round transaction.  Returns how many were attempted.
 */
int
rs_webhook_deliver(void)
{
	int			n;
	int64	   *ids;
	char	  **payloads;
	int		   *attempts;

	n = rs_spi("SELECT id, payload::pg_catalog.text, attempts FROM reset_system.notifications"
			   " WHERE state OPERATOR(pg_catalog.=) 'pending'"
			   "   AND next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()"
			   " ORDER BY id LIMIT 5 FOR UPDATE SKIP LOCKED",
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	if (n == 0)
		return 0;
	ids = palloc(sizeof(int64) * n);
	payloads = palloc(sizeof(char *) * n);
	attempts = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
	{
		ids[i] = rs_spi_int64(i, 0, 0);
		/* JSON over HTTP is UTF-8 */
		payloads[i] = rs_utf8_from_server(rs_spi_text(i, 1));
		attempts[i] = (int) rs_spi_int64(i, 2, 0) + 1;
	}

	for (int i = 0; i < n; i++)
	{
		RsHttpResult r;
		const char *state;
		char	   *error = NULL;
		int64		delay_ms = 0;
		Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, INT8OID};
		Datum		values[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};

		if (rs_webhook_url == NULL || rs_webhook_url[0] == '\0')
		{
			state = "failed";
			error = pstrdup("reset_system.webhook_url is no longer set");
		}
		else
		{
			pgstat_report_activity(STATE_RUNNING, "reset_system: delivering a webhook message");
			r = rs_http_request("POST", rs_webhook_url,
								list_make1("Content-Type: application/json"),
								payloads[i], 10000);
			if (r.error == NULL && r.status >= 200 && r.status < 300)
				state = "done";
			else
			{
				/* never put the URL in the error: it may hold a secret */
				error = r.error ? psprintf("webhook request failed: %s", r.error)
					: psprintf("webhook answered HTTP %ld: %.200s", r.status, r.body ? r.body : "");
				if (rs_http_retryable(&r) && attempts[i] < rs_purge_max_attempts)
				{
					double		delay = rs_purge_retry_base_ms;

					for (int a = 1; a < attempts[i] && delay < rs_purge_retry_max_ms; a++)
						delay *= 2;
					delay = Min(delay, (double) rs_purge_retry_max_ms);
					delay_ms = (int64) (delay / 2 + rs_random_fraction() * delay / 2);
					state = "pending";
				}
				else
					state = "failed";
			}
		}
		values[0] = Int64GetDatum(ids[i]);
		values[1] = CStringGetTextDatum(state);
		if (error)
			values[2] = CStringGetTextDatum(error);
		else
			nulls[2] = 'n';
		values[3] = Int64GetDatum(delay_ms);
		rs_spi("UPDATE reset_system.notifications SET state = $2, last_error = $3,"
			   " attempts = attempts OPERATOR(pg_catalog.+) 1,"
			   " next_attempt_at = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+)"
			   "   pg_catalog.make_interval(secs => $4 OPERATOR(pg_catalog./) 1000.0),"
			   " done_at = CASE WHEN $2 OPERATOR(pg_catalog.<>) 'pending' THEN pg_catalog.clock_timestamp() END"
			   " WHERE id OPERATOR(pg_catalog.=) $1",
			   4, argtypes, values, nulls, false, SPI_OK_UPDATE);
		if (strcmp(state, "failed") == 0)
			ereport(WARNING,
					(errmsg("reset_system: giving up on a webhook message after %d attempt(s): %s",
							attempts[i], error)));
	}
	return n;
}
