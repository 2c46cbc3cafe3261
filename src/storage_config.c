/*-------------------------------------------------------------------------
 *
 * storage_config.c
 *	  Configure the storage backend and the purged prefixes, and load that
 *	  configuration for plans, resets and the purge worker.
 *
 * Configuring storage decides where the purge worker deletes files with
 * the server's own operating system rights, so it is reserved to
 * superusers, like COPY to a server file.  The configuration records the
 * cluster and database it was made for; a copy restored elsewhere has to
 * be confirmed (configured again) before anything is purged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "internal.h"
#include "message.h"
#include "render.h"
#include "reset_system.h"
#include "storage.h"
#include "storage_config.h"

PG_FUNCTION_INFO_V1(reset_configure_storage);
PG_FUNCTION_INFO_V1(reset_register_prefix);
PG_FUNCTION_INFO_V1(reset_unregister_prefix);

/*
 * reset_configure_storage(backend text, options jsonb DEFAULT '{}')
 */
Datum
reset_configure_storage(PG_FUNCTION_ARGS)
{
	char	   *backend;
	char	   *options;
	const RsStorageDriver *driver;
	char	   *location;
	RsSession	s;
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID, NAMEOID};
	Datum		values[6];
	char		sysid[32];

	rs_require_writable("reset_configure_storage");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"backend\" of reset_configure_storage() must not be NULL")));
	backend = text_to_cstring(PG_GETARG_TEXT_PP(0));
	options = PG_ARGISNULL(1) ? pstrdup("{}")
		: JsonbToCString(NULL, &PG_GETARG_JSONB_P(1)->root, VARSIZE(PG_GETARG_JSONB_P(1)));

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to configure storage"),
				 errdetail("The purge worker deletes objects in the configured storage with the server's own rights."),
				 errhint("Ask a superuser to run reset_configure_storage().")));

	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	if (strcmp(backend, "none") == 0)
	{
		rs_spi("DELETE FROM reset_system.storage", 0, NULL, NULL, NULL, false, SPI_OK_DELETE);
		location = pstrdup("storage is not configured");
	}
	else
	{
		driver = rs_storage_driver(backend, false);
		location = driver->validate(options);
		snprintf(sysid, sizeof(sysid), UINT64_FORMAT, GetSystemIdentifier());

		values[0] = CStringGetTextDatum(backend);
		values[1] = CStringGetTextDatum(options);
		values[2] = CStringGetTextDatum(location);
		values[3] = CStringGetTextDatum(sysid);
		values[4] = ObjectIdGetDatum(MyDatabaseId);
		values[5] = DirectFunctionCall1(namein,
										CStringGetDatum(GetUserNameFromId(s.caller_role, false)));
		rs_spi("INSERT INTO reset_system.storage"
			   " (backend, options, location, system_identifier, database_oid, configured_by)"
			   " VALUES ($1, $2::pg_catalog.jsonb, $3, $4, $5, $6)"
			   " ON CONFLICT (singleton) DO UPDATE SET backend = EXCLUDED.backend,"
			   " options = EXCLUDED.options, location = EXCLUDED.location,"
			   " system_identifier = EXCLUDED.system_identifier,"
			   " database_oid = EXCLUDED.database_oid,"
			   " configured_at = pg_catalog.now(), configured_by = EXCLUDED.configured_by",
			   6, argtypes, values, NULL, false, SPI_OK_INSERT);
	}
	rs_as_owner_end(&s);
	location = rs_copy_out(location);
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_TEXT_P(cstring_to_text(location));
}

/*
 * reset_register_prefix(prefix text)
 */
Datum
reset_register_prefix(PG_FUNCTION_ARGS)
{
	char	   *prefix;
	const char *problem;
	RsSession	s;
	Oid			argtypes[2] = {TEXTOID, NAMEOID};
	Datum		values[2];

	rs_require_writable("reset_register_prefix");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"prefix\" of reset_register_prefix() must not be NULL")));
	prefix = text_to_cstring(PG_GETARG_TEXT_PP(0));
	problem = rs_storage_key_problem(prefix, true);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid storage prefix %s", rs_message_value(prefix)),
				 errdetail("%c%s.", pg_toupper((unsigned char) problem[0]), problem + 1),
				 errhint("A prefix is relative to the storage root, for example 'uploads/tmp/'.")));

	rs_enter(&s);
	values[0] = CStringGetTextDatum(prefix);
	values[1] = DirectFunctionCall1(namein,
									CStringGetDatum(GetUserNameFromId(s.caller_role, false)));
	SPI_connect();
	rs_as_owner_begin(&s);
	rs_spi("INSERT INTO reset_system.storage_prefixes (prefix, registered_by)"
		   " VALUES ($1, $2) ON CONFLICT (prefix) DO NOTHING",
		   2, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_VOID();
}

/*
 * reset_unregister_prefix(prefix text)
 */
Datum
reset_unregister_prefix(PG_FUNCTION_ARGS)
{
	char	   *prefix;
	RsSession	s;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	int			n;

	rs_require_writable("reset_unregister_prefix");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"prefix\" of reset_unregister_prefix() must not be NULL")));
	prefix = text_to_cstring(PG_GETARG_TEXT_PP(0));
	values[0] = CStringGetTextDatum(prefix);

	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	n = rs_spi("DELETE FROM reset_system.storage_prefixes WHERE prefix OPERATOR(pg_catalog.=) $1",
			   1, argtypes, values, NULL, false, SPI_OK_DELETE);
	rs_as_owner_end(&s);
	SPI_finish();
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("storage prefix %s is not registered", rs_message_value(prefix)),
				 errhint("SELECT * FROM reset_config(); lists what is registered.")));
	rs_leave(&s);
	PG_RETURN_VOID();
}

/*
 * rs_storage_config_load: the storage configuration and the prefixes, or
 * NULL when storage is not configured.  Inside an SPI connection; reads
 * the internal tables with the extension owner's rights when s is given
 * (the purge worker is a superuser and passes NULL).
 */
RsStorageConfig *
rs_storage_config_load(RsSession *s)
{
	RsStorageConfig *cfg = NULL;
	int			n;

	if (s)
		rs_as_owner_begin(s);
	n = rs_spi("SELECT backend, options::pg_catalog.text, location, system_identifier, database_oid"
			   " FROM reset_system.storage",
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	if (n == 1)
	{
		char		sysid[32];

		cfg = palloc0(sizeof(RsStorageConfig));
		cfg->backend = rs_spi_text(0, 0);
		cfg->options = rs_spi_text(0, 1);
		cfg->location = rs_spi_text(0, 2);
		cfg->driver = rs_storage_driver(cfg->backend, true);
		snprintf(sysid, sizeof(sysid), UINT64_FORMAT, GetSystemIdentifier());
		cfg->foreign = strcmp(rs_spi_text(0, 3), sysid) != 0 ||
			rs_spi_oid(0, 4) != MyDatabaseId;
	}
	n = rs_spi("SELECT prefix FROM reset_system.storage_prefixes ORDER BY prefix",
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	if (n > 0 && cfg == NULL)
		cfg = palloc0(sizeof(RsStorageConfig));
	for (int i = 0; i < n; i++)
		cfg->prefixes = lappend(cfg->prefixes, rs_spi_text(i, 0));
	if (s)
		rs_as_owner_end(s);
	return cfg;
}
