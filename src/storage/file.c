/*-------------------------------------------------------------------------
 *
 * file.c
 *	  The "file" storage backend: uploaded files in a local directory.
 *
 * Options: {"root": "/absolute/directory"}.
 *
 * Keys are paths relative to root, taken from application data, and so
 * hostile input.  Besides the shared key checks (no absolute path, no ".."
 * or "." segment, no control character), every path is walked from an
 * open descriptor of root one component at a time with openat(...,
 * O_NOFOLLOW | O_DIRECTORY), and the last component is checked with
 * fstatat(..., AT_SYMLINK_NOFOLLOW) before unlinkat().  A symbolic link
 * anywhere in the path is never followed: the object is marked failed with
 * the reason, so nothing outside root can be reached whatever the key.
 *
 * Prefix purges walk the directory tree the same way and afterwards remove
 * the directories left empty below the prefix (never root, never the
 * prefix's own directory).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "options.h"
#include "storage.h"

typedef struct FileState
{
	char	   *root;
	int			rootfd;			/* -1 when root could not be opened */
	char	   *root_error;
	/* the directory of the previous key, kept open for the next one */
	char	   *cached_dir;
	int			cached_fd;
} FileState;

/*
 * parse_root: the "root" option, checked for shape (not for existence).
 * ERRORs on anything wrong, naming the option.
 */
static char *
parse_root(const char *options_json)
{
	json_t	   *opts = rs_options_load("file", options_json, "{\"root\": \"/srv/app/media\"}");
	json_t	   *root;
	const char *key;
	json_t	   *value;
	char	   *result;

	json_object_foreach(opts, key, value)
	{
		if (strcmp(key, "root") != 0)
		{
			char	   *bad = pstrdup(key);

			json_decref(opts);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option %s for storage backend \"file\"", rs_message_value(bad)),
					 errhint("The file backend takes one option: \"root\", an absolute directory.")));
		}
	}
	root = json_object_get(opts, "root");
	if (root == NULL || !json_is_string(root))
	{
		json_decref(opts);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage backend \"file\" needs option \"root\", a string"),
				 errhint("For example: '{\"root\": \"/srv/app/media\"}'.")));
	}
	result = pstrdup(json_string_value(root));
	json_decref(opts);
	return result;
}

/*
 * file_validate: root must be an absolute path to an existing directory
 * the server can write in, and must not overlap the data directory.
 */
static char *
file_validate(const char *options_json)
{
	char	   *root = parse_root(options_json);
	struct stat st;
	char	   *rr;
	char	   *rd;
	char	   *real_root;
	char	   *real_data;
	size_t		rl,
				dl;

#define FILE_EXAMPLE "{\"root\": \"/srv/app/media\"}"
	for (const unsigned char *p = (const unsigned char *) root; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			rs_option_error("file", "root",
							psprintf("%s contains a control character (such as a newline)", rs_message_value(root)),
							FILE_EXAMPLE);
	if (strstr(root, "//"))
		rs_option_error("file", "root", psprintf("%s contains an empty segment (\"//\")", rs_message_value(root)),
						FILE_EXAMPLE);
	if (root[0] != '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage root %s is not an absolute path", rs_message_value(root))));
	if (strstr(root, "/../") || strstr(root, "/./") ||
		(strlen(root) >= 3 && strcmp(root + strlen(root) - 3, "/..") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage root %s must not contain \".\" or \"..\" segments", rs_message_value(root))));
	if (strcmp(root, "/") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage root must not be \"/\"")));
	if (stat(root, &st) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("storage root %s cannot be used: %m", rs_message_value(root)),
				 errhint("Create the directory first; the database server (OS user running PostgreSQL) must be able to write in it.")));
	if (!S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("storage root %s is not a directory", rs_message_value(root))));
	if (access(root, W_OK | X_OK) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the database server cannot write in storage root %s: %m", rs_message_value(root)),
				 errhint("Purges run as the operating system user of the PostgreSQL server.")));

	/* realpath(..., NULL) mallocs its result; copy it and free at once */
	rr = realpath(root, NULL);
	rd = realpath(DataDir, NULL);
	if (rr == NULL || rd == NULL)
	{
		int			save = errno;

		free(rr);
		free(rd);
		errno = save;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not resolve storage root %s: %m", rs_message_value(root))));
	}
	real_root = pstrdup(rr);
	real_data = pstrdup(rd);
	free(rr);
	free(rd);
	if (strcmp(real_root, "/") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage root must not be \"/\"")));
	rl = strlen(real_root);
	dl = strlen(real_data);
	if ((strncmp(real_root, real_data, dl) == 0 && (real_root[dl] == '\0' || real_root[dl] == '/')) ||
		(strncmp(real_data, real_root, rl) == 0 && real_data[rl] == '/'))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("storage root %s overlaps the database's data directory", rs_message_value(root)),
				 errdetail("Resolved, it is \"%s\"; the data directory is \"%s\".", real_root, real_data)));

	return psprintf("directory %s", root);
}

/*
 * file_open: open root once for the batch.  A root that cannot be opened
 * is not an error here: every object of the batch is retried later with
 * the reason, so a transient mount problem does not lose anything.
 */
static void *
file_open(const char *options_json)
{
	FileState  *st = palloc0(sizeof(FileState));

	st->root = parse_root(options_json);
	st->cached_fd = -1;
	st->rootfd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->rootfd < 0)
	{
		int			save_errno = errno;
		char	   *shown = rs_message_value(st->root);

		errno = save_errno;
		st->root_error = psprintf("cannot open storage root %s: %m", shown);
	}
	return st;
}

/*
 * file_close: release the descriptors.
 */
static void
file_close(void *state)
{
	FileState  *st = (FileState *) state;

	if (st->cached_fd >= 0)
		close(st->cached_fd);
	if (st->rootfd >= 0)
		close(st->rootfd);
	st->cached_fd = st->rootfd = -1;
}

/*
 * classify_errno: transient problems are retried, the rest are not.
 */
static RsObjectResult
classify_errno(int err)
{
	switch (err)
	{
		case EACCES:
		case EPERM:
		case EROFS:
		case EBUSY:
		case EIO:
		case ENOSPC:
		case EMFILE:
		case ENFILE:
		case ENOMEM:
		case EINTR:
		case EAGAIN:
			return RS_OBJ_RETRY;
		default:
			return RS_OBJ_FAILED;
	}
}

/*
 * open_dir_path: open directory "path" (relative to root, no trailing
 * slash, possibly empty) one component at a time, never following a
 * symbolic link.  Returns the descriptor, or -1 with *result and *error
 * set (MISSING when a component does not exist).
 */
static int
open_dir_path(FileState *st, const char *path, RsObjectResult *result, char **error)
{
	char	   *copy = pstrdup(path);
	char	   *seg = copy;
	int			fd = dup(st->rootfd);

	if (fd < 0)
	{
		*result = RS_OBJ_RETRY;
		*error = psprintf("cannot duplicate the root descriptor: %m");
		pfree(copy);
		return -1;
	}
	while (*seg)
	{
		char	   *slash = strchr(seg, '/');
		int			next;

		if (slash)
			*slash = '\0';
		next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
		{
			int			save = errno;
			struct stat sb;
			bool		is_link = (save == ELOOP || save == ENOTDIR) &&
				fstatat(fd, seg, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode);

			close(fd);
			if (is_link)
			{
				*result = RS_OBJ_FAILED;
				*error = psprintf("directory \"%s\" on the way is a symbolic link; symbolic links are never followed", copy);
			}
			else if (save == ENOENT || save == ENOTDIR)
				*result = RS_OBJ_MISSING;
			else
			{
				*result = classify_errno(save);
				errno = save;
				*error = psprintf("cannot open directory \"%s\": %m", copy);
			}
			pfree(copy);
			return -1;
		}
		close(fd);
		fd = next;
		if (!slash)
			break;
		*slash = '/';			/* errors name the path up to the failing directory */
		seg = slash + 1;
	}
	pfree(copy);
	return fd;
}

/*
 * parent_fd: descriptor of the directory holding key (cached between
 * consecutive keys of the same directory), and its last component.
 */
static int
parent_fd(FileState *st, const char *key, const char **name,
		  RsObjectResult *result, char **error)
{
	const char *slash = strrchr(key, '/');
	char	   *dir = slash ? pnstrdup(key, slash - key) : pstrdup("");
	int			fd;

	*name = slash ? slash + 1 : key;
	if (st->cached_dir && strcmp(st->cached_dir, dir) == 0)
	{
		pfree(dir);
		return st->cached_fd;
	}
	if (st->cached_fd >= 0)
		close(st->cached_fd);
	if (st->cached_dir)
		pfree(st->cached_dir);
	st->cached_fd = -1;
	st->cached_dir = NULL;

	fd = open_dir_path(st, dir, result, error);
	if (fd < 0)
	{
		pfree(dir);
		return -1;
	}
	st->cached_fd = fd;
	st->cached_dir = dir;
	return fd;
}

/*
 * delete_one: delete one object, never following a symbolic link.
 */
static void
delete_one(FileState *st, RsObject *obj)
{
	const char *problem = rs_storage_key_problem(obj->key, false);
	const char *name;
	struct stat sb;
	int			dirfd;

	if (problem != NULL)
	{
		obj->result = RS_OBJ_FAILED;
		obj->error = psprintf("refused: %s", problem);
		return;
	}
	dirfd = parent_fd(st, obj->key, &name, &obj->result, &obj->error);
	if (dirfd < 0)
		return;

	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
	{
		if (errno == ENOENT)
			obj->result = RS_OBJ_MISSING;
		else
		{
			obj->result = classify_errno(errno);
			obj->error = psprintf("cannot examine \"%s\": %m", obj->key);
		}
		return;
	}
	if (S_ISLNK(sb.st_mode))
	{
		obj->result = RS_OBJ_FAILED;
		obj->error = pstrdup("refused: the object is a symbolic link; symbolic links are never followed or removed");
		return;
	}
	if (S_ISDIR(sb.st_mode))
	{
		obj->result = RS_OBJ_FAILED;
		obj->error = pstrdup("refused: the key names a directory, not a file");
		return;
	}
	if (unlinkat(dirfd, name, 0) == 0)
		obj->result = RS_OBJ_DELETED;
	else if (errno == ENOENT)
		obj->result = RS_OBJ_MISSING;
	else
	{
		obj->result = classify_errno(errno);
		obj->error = psprintf("cannot delete \"%s\": %m", obj->key);
	}
}

/*
 * file_delete_objects: delete a batch.
 */
static void
file_delete_objects(void *state, RsObject *objects, int n)
{
	FileState  *st = (FileState *) state;

	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (st->rootfd < 0)
		{
			objects[i].result = RS_OBJ_RETRY;
			objects[i].error = pstrdup(st->root_error);
			continue;
		}
		delete_one(st, &objects[i]);
	}
}

/*
 * walk_tree: call cb for every file under directory fd (whose key prefix
 * is "path", ending in "/" or empty), or, with cleanup, remove the empty
 * directories below it.  Entries of the top directory must start with
 * "match".  Symbolic links are reported as objects (the delete refuses
 * them with a reason) but never followed.  Returns false when cb asked to
 * stop or a directory could not be read (*error set).
 */
static bool
walk_tree(int fd, StringInfo path, const char *match, bool cleanup,
		  RsListCallback cb, void *arg, char **error)
{
	DIR		   *dir;
	struct dirent *de;
	int			dfd = dup(fd);
	bool		ok = true;

	check_stack_depth();
	if (dfd < 0 || (dir = fdopendir(dfd)) == NULL)
	{
		if (dfd >= 0)
			close(dfd);
		*error = psprintf("cannot read directory \"%s\": %m", path->len ? path->data : ".");
		return false;
	}
	while (ok && (errno = 0, de = readdir(dir)) != NULL)
	{
		struct stat sb;
		int			save_len = path->len;

		CHECK_FOR_INTERRUPTS();
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (match && strncmp(de->d_name, match, strlen(match)) != 0)
			continue;
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;			/* vanished meanwhile */

		appendStringInfoString(path, de->d_name);
		if (S_ISDIR(sb.st_mode))
		{
			int			sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
			{
				appendStringInfoChar(path, '/');
				ok = walk_tree(sub, path, NULL, cleanup, cb, arg, error);
				close(sub);
				/* only removes it when empty; ENOTEMPTY is the normal case */
				if (ok && cleanup)
					(void) unlinkat(fd, de->d_name, AT_REMOVEDIR);
			}
		}
		else if (!cleanup && (S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode)))
			ok = cb(path->data, arg);
		path->len = save_len;
		path->data[save_len] = '\0';
	}
	if (ok && errno != 0 && de == NULL)
	{
		*error = psprintf("cannot read directory \"%s\": %m", path->len ? path->data : ".");
		ok = false;
	}
	closedir(dir);
	return ok;
}

/*
 * walk_prefix: set up walk_tree for a prefix ("uploads/tmp/" or
 * "uploads/tmp"), as a string prefix of keys.
 */
static char *
walk_prefix(FileState *st, const char *prefix, bool cleanup,
			RsListCallback cb, void *arg)
{
	const char *problem = rs_storage_key_problem(prefix, true);
	const char *slash = strrchr(prefix, '/');
	char	   *dir = slash ? pnstrdup(prefix, slash - prefix) : pstrdup("");
	const char *match = slash ? slash + 1 : prefix;
	RsObjectResult result = RS_OBJ_PENDING;
	char	   *error = NULL;
	StringInfoData path;
	int			fd;

	if (problem)
		return psprintf("refused prefix \"%s\": %s", prefix, problem);
	if (st->rootfd < 0)
		return pstrdup(st->root_error);
	fd = open_dir_path(st, dir, &result, &error);
	if (fd < 0)
		return result == RS_OBJ_MISSING ? NULL : error;

	initStringInfo(&path);
	if (dir[0])
		appendStringInfo(&path, "%s/", dir);
	(void) walk_tree(fd, &path, match[0] ? match : NULL, cleanup, cb, arg, &error);
	close(fd);
	return error;
}

/*
 * file_list_prefix: every file whose key starts with prefix.
 */
static char *
file_list_prefix(void *state, const char *prefix, RsListCallback cb, void *arg)
{
	return walk_prefix((FileState *) state, prefix, false, cb, arg);
}

/*
 * file_cleanup_prefix: remove the directories left empty below a purged
 * prefix.
 */
static void
file_cleanup_prefix(void *state, const char *prefix)
{
	(void) walk_prefix((FileState *) state, prefix, true, NULL, NULL);
}

/*
 * file_put_object: write one object (a re-seeded resource file), creating
 * its directories, never through a symbolic link, atomically (a temporary
 * file renamed into place).  New directories and the file take their
 * permissions from the directory above them, not from the server's umask,
 * so the application can read, replace and delete them as its own.
 */
static RsObjectResult
file_put_object(void *state, const char *key, const char *data, size_t len, char **error)
{
	FileState  *st = (FileState *) state;
	const char *problem = rs_storage_key_problem(key, false);
	char	   *copy;
	char	   *seg;
	char	   *name;
	int			fd;
	int			out;
	char		tmp[64];

	if (problem)
	{
		*error = psprintf("refused: %s", problem);
		return RS_OBJ_FAILED;
	}
	if (st->rootfd < 0)
	{
		*error = pstrdup(st->root_error);
		return RS_OBJ_RETRY;
	}
	copy = pstrdup(key);
	name = strrchr(copy, '/');
	fd = dup(st->rootfd);
	if (name)
	{
		*name++ = '\0';
		seg = copy;
		while (seg && *seg && fd >= 0)
		{
			char	   *slash = strchr(seg, '/');
			int			next;

			bool		created;
			struct stat psb;

			if (slash)
				*slash = '\0';
			created = mkdirat(fd, seg, 0700) == 0;
			if (!created && errno != EEXIST)
			{
				*error = psprintf("cannot create directory \"%s\": %m", seg);
				close(fd);
				return classify_errno(errno);
			}
			next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (next < 0)
			{
				*error = psprintf("cannot open directory \"%s\" (symbolic links are never followed): %m", seg);
				close(fd);
				return RS_OBJ_FAILED;
			}
			/* a new directory gets its parent's mode (group-writable, setgid) */
			if (created && fstat(fd, &psb) == 0)
				(void) fchmod(next, psb.st_mode & 07777);
			close(fd);
			fd = next;
			seg = slash ? slash + 1 : NULL;
		}
	}
	else
		name = copy;
	if (fd < 0)
	{
		*error = psprintf("cannot open the storage root: %m");
		return RS_OBJ_RETRY;
	}
	snprintf(tmp, sizeof(tmp), ".reset_system.%d.tmp", MyProcPid);

	/*
	 * Whatever has that name (left by a crash, or planted: a named pipe
	 * would block a plain open for writing until someone reads it) is
	 * removed, and the file is created anew, so it is a regular file of
	 * ours; a directory of that name makes the open fail instead.
	 */
	(void) unlinkat(fd, tmp, 0);
	out = openat(fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	/*
	 * The server's umask (077) would make the file unreadable to the
	 * application that serves it: it gets its directory's read and write
	 * bits instead (0664 in a 2775 directory, 0644 in a 0755 one).
	 */
	{
		struct stat dsb;

		if (out >= 0 && fstat(fd, &dsb) == 0)
			(void) fchmod(out, dsb.st_mode & 0666);
	}
	{
		bool		ok = out >= 0 && write(out, data, len) == (ssize_t) len && fsync(out) == 0;
		int			save = errno;

		/* the descriptor is closed on failure too */
		if (out >= 0 && close(out) != 0 && ok)
		{
			ok = false;
			save = errno;
		}
		if (ok && renameat(fd, tmp, fd, name) != 0)
		{
			ok = false;
			save = errno;
		}
		if (!ok)
		{
			if (save == 0)
				save = EIO;		/* a short write sets no errno */
			*error = psprintf("cannot write \"%s\": %s", key, strerror(save));
			(void) unlinkat(fd, tmp, 0);
			close(fd);
			return classify_errno(save);
		}
	}
	close(fd);
	return RS_OBJ_DELETED;
}

/*
 * file_probe: the root exists, is a directory, and can be written.
 */
static List *
file_probe(void *state)
{
	FileState  *st = (FileState *) state;

	if (st->rootfd < 0)
		return list_make1(rs_check_new("reachable", false, pstrdup(st->root_error)));
	if (access(st->root, W_OK | X_OK) != 0)
		return list_make2(rs_check_new("reachable", true, psprintf("directory %s exists", st->root)),
						  rs_check_new("writable", false,
									   psprintf("the server cannot write in %s: %m", st->root)));
	return list_make2(rs_check_new("reachable", true, psprintf("directory %s exists", st->root)),
					  rs_check_new("writable", true, pstrdup("the server can write in it")));
}

/*
 * owner_mode: "owner app, group app, mode 0755" of a directory.
 */
static char *
owner_mode(const struct stat *sb)
{
	struct passwd *pw = getpwuid(sb->st_uid);
	struct group *gr = getgrgid(sb->st_gid);

	char	   *owner = pw ? pstrdup(pw->pw_name) : psprintf("%u", (unsigned) sb->st_uid);
	char	   *group = gr ? pstrdup(gr->gr_name) : psprintf("%u", (unsigned) sb->st_gid);

	return psprintf("owner %s, group %s, mode %04o", owner, group, (unsigned) (sb->st_mode & 07777));
}

/*
 * check_dir: why the purge could not delete files in directory dir
 * (relative to root; "" is the root), or NULL when it can.  Walks the
 * path as the purge does (open each component, never following a
 * symbolic link), then asks whether the server may write in and search
 * the last one.  *missing is set when the directory does not exist (its
 * files are already gone); *permission when the fix is a matter of
 * ownership and mode.
 */
static char *
check_dir(FileState *st, const char *dir, bool *missing, bool *permission)
{
	char	   *copy = pstrdup(dir);
	char	   *seg = copy;
	int			fd = dup(st->rootfd);
	struct stat sb;
	char	   *why = NULL;

	*missing = *permission = false;
	if (fd < 0)
		return psprintf("cannot duplicate the root descriptor: %m");
	while (*seg)
	{
		char	   *slash = strchr(seg, '/');
		int			next;

		if (slash)
			*slash = '\0';
		next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
		{
			int			save = errno;
			bool		have = fstatat(fd, seg, &sb, AT_SYMLINK_NOFOLLOW) == 0;

			if (have && S_ISLNK(sb.st_mode))
				why = pstrdup("a symbolic link on the way (never followed)");
			else if (save == ENOENT || save == ENOTDIR)
				*missing = true;
			else if (save == EACCES && have)
			{
				*permission = true;
				why = slash ? psprintf("directory %s on the way cannot be opened: %s", copy, owner_mode(&sb))
					: psprintf("cannot be opened: %s", owner_mode(&sb));
			}
			else
			{
				errno = save;
				why = psprintf("cannot be opened: %m");
			}
			close(fd);
			return why;
		}
		close(fd);
		fd = next;
		if (!slash)
			break;
		*slash = '/';
		seg = slash + 1;
	}
	if (fstat(fd, &sb) != 0)
		why = psprintf("cannot be examined: %m");
	else if (faccessat(fd, ".", W_OK | X_OK, 0) != 0)
	{
		if (errno == EACCES || errno == EPERM)
		{
			*permission = true;
			why = psprintf("not writable: %s", owner_mode(&sb));
		}
		else
			why = psprintf("not writable: %m");
	}
	else if ((sb.st_mode & S_ISVTX) && sb.st_uid != geteuid())
		why = psprintf("sticky bit: only files the server's user owns can be deleted (%s)", owner_mode(&sb));
	close(fd);
	return why;
}

/*
 * shell_quote: a path as one shell word.
 */
static char *
shell_quote(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '\'');
	for (; *s; s++)
	{
		if (*s == '\'')
			appendStringInfoString(&buf, "'\\''");
		else
			appendStringInfoChar(&buf, *s);
	}
	appendStringInfoChar(&buf, '\'');
	return buf.data;
}

/*
 * file_check_dirs: whether the server's OS user can delete files in the
 * directories where the purge will act.  A failure names the first
 * directories that fail, with the owner and mode found, and a fix: the
 * server's group on every directory of the tree, group-writable, with
 * setgid so that new subdirectories inherit the group.
 */
static List *
file_check_dirs(void *state, List *dirs, const char *from)
{
	FileState  *st = (FileState *) state;
	struct passwd *pw = getpwuid(geteuid());
	struct group *gr = getgrgid(getegid());
	/* copied: getpwuid() and getgrgid() answer in storage the next call reuses */
	const char *user = pw ? pstrdup(pw->pw_name) : psprintf("%u", (unsigned) geteuid());
	const char *group = gr ? pstrdup(gr->gr_name) : psprintf("%u", (unsigned) getegid());
	StringInfoData bad;
	int			nbad = 0;
	int			nmissing = 0;
	bool		permission = false;
	ListCell   *lc;

	if (st->rootfd < 0)
		return NIL;				/* the "reachable" check says why */
	if (dirs == NIL)
		return list_make1(rs_check_new("directories", true,
									   psprintf("nothing to check: no directory in %s", from)));
	initStringInfo(&bad);
	foreach(lc, dirs)
	{
		const char *dir = (const char *) lfirst(lc);
		bool		missing;
		bool		perm;
		char	   *why;

		CHECK_FOR_INTERRUPTS();
		why = check_dir(st, dir, &missing, &perm);
		if (missing)
			nmissing++;
		if (why == NULL)
			continue;
		permission |= perm;
		if (++nbad <= 5)
			appendStringInfo(&bad, "%s%s (%s)", nbad > 1 ? ", " : "",
							 dir[0] ? dir : "the root itself", why);
	}
	if (nbad == 0)
		return list_make1(rs_check_new("directories", true,
									   psprintf("the server can delete files in each of the %d director(ies) "
												"sampled from %s%s",
												list_length(dirs), from,
												nmissing == 0 ? "" :
												psprintf(" (%d do not exist: nothing to delete there)",
														 nmissing))));
	if (nbad > 5)
		appendStringInfo(&bad, " and %d more", nbad - 5);
	return list_make1(rs_check_new("directories", false,
								   psprintf("the server's OS user \"%s\" cannot delete files in %d of the %d director(ies) "
											"under %s sampled from %s: %s%s",
											user, nbad, list_length(dirs), st->root, from, bad.data,
											permission ?
											psprintf("; Fix (as root or as the directories' owner): "
													 "find %s -type d -exec chgrp %s {} + -exec chmod g+rwxs {} +; "
													 "then let the application create group-writable directories "
													 "(Django: FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o2775; "
													 "see \"Media permissions\" in the README)",
													 shell_quote(st->root), group) : "")));
}

const RsStorageDriver rs_storage_file = {
	.name = "file",
	.description = "a directory on the database server",
	.validate = file_validate,
	.open = file_open,
	.delete_objects = file_delete_objects,
	.list_prefix = file_list_prefix,
	.cleanup_prefix = file_cleanup_prefix,
	.delete_collection = NULL,
	.put_object = file_put_object,
	.probe = file_probe,
	.check_dirs = file_check_dirs,
	.close = file_close,
	.batch_size = 500,
	.local = true,
};
