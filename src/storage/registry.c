/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  The registry of storage backends, and the key checks they share.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "storage/fd.h"

#include "storage.h"

/* Every backend, by name.  A new backend is one more line here. */
static const RsStorageDriver *const rs_drivers[] = {
	&rs_storage_file,
	&rs_storage_s3,
	&rs_storage_gcs,
	&rs_storage_http,
	&rs_storage_azure,
};

const char	RS_LIST_UNSUPPORTED[] = "the server offers no listing";

/*
 * rs_storage_driver: the driver called "name", or NULL when missing_ok.
 */
const RsStorageDriver *
rs_storage_driver(const char *name, bool missing_ok)
{
	for (size_t i = 0; i < lengthof(rs_drivers); i++)
		if (strcmp(rs_drivers[i]->name, name) == 0)
			return rs_drivers[i];
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown storage backend \"%s\"", name),
				 errhint("Available backends: %s.", rs_storage_driver_names())));
	return NULL;
}

/*
 * rs_storage_driver_names: "file, ..." for hints.
 */
char *
rs_storage_driver_names(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (size_t i = 0; i < lengthof(rs_drivers); i++)
		appendStringInfo(&buf, "%s'%s'", i ? ", " : "", rs_drivers[i]->name);
	return buf.data;
}

/*
 * rs_storage_key_problem: why a key (or prefix) must not be acted on, or
 * NULL when it is acceptable.
 *
 * Keys come from application data and are treated as hostile: no absolute
 * paths, no "." or ".." segments, no empty segments, no control characters
 * (newlines included).  A prefix may end with "/" but may not be empty.
 * Backends add their own checks on top (the file backend never follows a
 * symbolic link, for one).
 */
const char *
rs_storage_key_problem(const char *key, bool is_prefix)
{
	size_t		len = strlen(key);
	const char *seg;

	if (len == 0)
		return is_prefix ? "the prefix is empty (it would match every object)"
			: "the key is empty";
	if (len > 1024)
		return "the key is longer than 1024 bytes";
	if (key[0] == '/')
		return "the key is an absolute path";
	for (const unsigned char *p = (const unsigned char *) key; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "the key contains a control character (such as a newline)";

	seg = key;
	for (;;)
	{
		const char *slash = strchr(seg, '/');
		size_t		seglen = slash ? (size_t) (slash - seg) : strlen(seg);

		if (seglen == 2 && seg[0] == '.' && seg[1] == '.')
			return "the key contains a \"..\" segment";
		if (seglen == 1 && seg[0] == '.')
			return "the key contains a \".\" segment";
		if (seglen == 0 && (slash != NULL || !is_prefix))
			return "the key contains an empty segment (\"//\" or a trailing \"/\")";
		if (slash == NULL)
			break;
		seg = slash + 1;
	}
	return NULL;
}

/*
 * rs_check_new: a line of reset_storage_check().
 */
RsCheck *
rs_check_new(const char *name, bool ok, char *detail)
{
	RsCheck    *c = palloc(sizeof(RsCheck));

	c->name = name;
	c->ok = ok;
	c->detail = detail;
	return c;
}

/*
 * rs_read_secret_file: the content of a small file holding a secret, with
 * surrounding white space removed, or NULL with *error set.  The error
 * never contains the content.
 */
char *
rs_read_secret_file(const char *path, char **error)
{
	int			fd;
	struct stat st;
	char		buf[8192];
	ssize_t		n;
	char	   *start;
	char	   *end;

	*error = NULL;
	if (path == NULL || path[0] == '\0')
	{
		*error = pstrdup("no file is configured");
		return NULL;
	}
	/*
	 * Opened without following a link and without waiting on a named pipe,
	 * then checked on the open file: the purge worker reads secrets too,
	 * and must never hang on one.
	 */
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
	{
		*error = errno == ELOOP
			? psprintf("\"%s\" is a symbolic link; name the file itself", path)
			: psprintf("cannot read \"%s\": %m", path);
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		CloseTransientFile(fd);
		*error = psprintf("\"%s\" is not a regular file", path);
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	CloseTransientFile(fd);
	if (n < 0)
	{
		*error = psprintf("cannot read \"%s\": %m", path);
		return NULL;
	}
	buf[n] = '\0';
	start = buf;
	while (*start && isspace((unsigned char) *start))
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char) end[-1]))
		*--end = '\0';
	if (*start == '\0')
	{
		*error = psprintf("\"%s\" is empty", path);
		return NULL;
	}
	return pstrdup(start);
}
