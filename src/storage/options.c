/*-------------------------------------------------------------------------
 *
 * options.c
 *	  Checks of storage backend options shared by the drivers.
 *
 * Options are checked when reset_configure_storage() sets them, so that a
 * typing mistake is an immediate, clear error instead of a purge that
 * retries for hours against a URL curl cannot even parse.  Every refusal
 * has the same shape: SQLSTATE 22023, the option and the backend named in
 * the message with what is wrong, and a hint with a valid example.
 *
 * URLs are checked by hand (RFC 3986, restricted to what a storage
 * endpoint can be) rather than with curl's URL parser, whose leniency
 * differs between versions: http or https, a host name, an IPv4 address
 * or a bracketed IPv6 address, an optional port, a path without spaces,
 * control characters, a query or a fragment, and no user name or
 * password.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "lib/stringinfo.h"

#include "message.h"
#include "options.h"

/*
 * rs_option_error: refuse an option value.  problem says what is wrong
 * (lowercase, no period); example is a valid options object.
 */
void
rs_option_error(const char *backend, const char *option, const char *problem,
				const char *example)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid option \"%s\" for storage backend \"%s\": %s", option, backend, problem),
			 errhint("For example: SELECT reset_configure_storage('%s', '%s');", backend, example)));
}

/*
 * json_kind: what a JSON value is, for messages.
 */
static const char *
json_kind(json_t *v)
{
	switch (json_typeof(v))
	{
		case JSON_ARRAY:
			return "an array";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
		case JSON_REAL:
			return "a number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		case JSON_NULL:
			return "null";
		default:
			return "an object";
	}
}

/*
 * number_before: the number that ends at byte end of text (where the JSON
 * reader stops when a number is out of range), for messages.
 */
static char *
number_before(const char *text, int end)
{
	int			start;

	end = Min(Max(end, 0), (int) strlen(text));
	start = end;
	while (start > 0 && strchr("0123456789+-.eE", text[start - 1]) != NULL)
		start--;
	return pnstrdup(text + start, end - start);
}

/*
 * rs_options_load: the options of a storage backend as a JSON object (the
 * caller json_decref()s it).  They come from a jsonb value, so they are
 * JSON, but the reader of the drivers is stricter than jsonb: it refuses
 * nesting deeper than JSON_PARSER_MAX_DEPTH and numbers that do not fit a
 * 64-bit integer or a double, and reads UTF-8 only.  Each refusal says
 * which of these it is (SQLSTATE 22023, or 22P02 when the text cannot be
 * read at all), with a valid example in the hint; so does options that
 * are not an object.
 */
json_t *
rs_options_load(const char *backend, const char *options_json, const char *example)
{
	json_error_t jerr;
	json_t	   *opts = json_loads(options_json, JSON_DECODE_ANY, &jerr);
	const char *hint = psprintf("Storage options are one JSON object of strings and booleans, for example: SELECT reset_configure_storage('%s', '%s');",
								backend, example);

	if (opts == NULL)
	{
		switch (json_error_code(&jerr))
		{
			case json_error_stack_overflow:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("options of storage backend \"%s\" are nested too deeply", backend),
						 errdetail("They are nested more than %d levels deep.", JSON_PARSER_MAX_DEPTH),
						 errhint("%s", hint)));
				break;
			case json_error_numeric_overflow:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("options of storage backend \"%s\" hold a number out of range", backend),
						 errdetail("The number %s does not fit a 64-bit integer or a double precision value.",
								   rs_message_value(number_before(options_json, jerr.position))),
						 errhint("%s", hint)));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("options of storage backend \"%s\" are not valid JSON", backend),
						 errdetail("At character %d: %s.", jerr.position, rs_message_value(jerr.text)),
						 errhint("%s", hint)));
				break;
		}
	}
	if (!json_is_object(opts))
	{
		const char *kind = json_kind(opts);

		json_decref(opts);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of storage backend \"%s\" must be a JSON object, not %s", backend, kind),
				 errhint("%s", hint)));
	}
	return opts;
}

/*
 * is_unreserved_or_sub: a character allowed as such in a URL path.
 */
static bool
path_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

/*
 * host_problem: what is wrong with the host part of an authority, or NULL.
 */
static const char *
host_problem(const char *host, size_t len)
{
	if (len == 0)
		return "it has no host name";
	if (host[0] == '[')
	{
		int			colons = 0;

		if (len < 3 || host[len - 1] != ']')
			return "its IPv6 address has no closing \"]\"";
		for (size_t i = 1; i < len - 1; i++)
		{
			char		c = host[i];

			if (c == ':')
				colons++;
			else if (!isxdigit((unsigned char) c) && c != '.')
				return "its IPv6 address has a character that is not a hexadecimal digit, \":\" or \".\"";
		}
		if (colons < 2)
			return "its IPv6 address has fewer than two \":\"";
		return NULL;
	}
	if (len > 253)
		return "its host name is longer than 253 characters";
	{
		size_t		label = 0;

		for (size_t i = 0; i < len; i++)
		{
			char		c = host[i];

			if (c == '.')
			{
				if (label == 0)
					return "its host name has an empty label (\"..\", or a leading \".\")";
				if (host[i - 1] == '-')
					return "a label of its host name ends with \"-\"";
				label = 0;
				continue;
			}
			if (!isalnum((unsigned char) c) && c != '-')
				return "its host name may only contain letters, digits, \"-\" and \".\"";
			if (label == 0 && c == '-')
				return "a label of its host name starts with \"-\"";
			if (++label > 63)
				return "a label of its host name is longer than 63 characters";
		}
		if (label == 0)
			return "its host name ends with \".\"";
		if (host[len - 1] == '-')
			return "a label of its host name ends with \"-\"";
	}
	return NULL;
}

/*
 * rs_url_problem: what is wrong with url as the http(s) URL of a storage
 * service, or NULL when it is acceptable.  Never repeats the URL (it may
 * hold a password).
 */
const char *
rs_url_problem(const char *url)
{
	const char *p;
	const char *auth;
	const char *auth_end;
	const char *colon = NULL;
	const char *problem;

	for (p = url; *p; p++)
	{
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			return "it contains a control character (such as a newline)";
		if (*p == ' ')
			return "it contains a space (write it as %20)";
		if ((unsigned char) *p >= 0x80)
			return "it contains a character outside ASCII (percent-encode it)";
	}
	if (strncmp(url, "https://", 8) == 0)
		auth = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		auth = url + 7;
	else
		return "it is not an http:// or https:// URL";
	auth_end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', auth_end - auth) != NULL)
		return "it contains a user name or password";

	/* host, then an optional port (after "]" for an IPv6 address) */
	if (auth[0] == '[')
	{
		const char *close = memchr(auth, ']', auth_end - auth);

		if (close == NULL)
			return "its IPv6 address has no closing \"]\"";
		if (close + 1 < auth_end && close[1] != ':')
			return "something follows the IPv6 address that is not a port";
		colon = close + 1 < auth_end ? close + 1 : NULL;
		problem = host_problem(auth, close + 1 - auth);
	}
	else
	{
		colon = memchr(auth, ':', auth_end - auth);
		problem = host_problem(auth, (colon ? colon : auth_end) - auth);
	}
	if (problem)
		return problem;
	if (colon)
	{
		long		port = 0;

		if (colon + 1 == auth_end)
			return "its port is empty";
		for (p = colon + 1; p < auth_end; p++)
		{
			if (!isdigit((unsigned char) *p))
				return "its port is not a number";
			port = port * 10 + (*p - '0');
			if (port > 65535)
				return "its port is not between 1 and 65535";
		}
		if (port == 0)
			return "its port is not between 1 and 65535";
	}

	/* the path */
	for (p = auth_end; *p; p++)
	{
		if (*p == '?' || *p == '#')
			return "it has a query or fragment (\"?\" or \"#\")";
		if (*p == '%')
		{
			if (!isxdigit((unsigned char) p[1]) || !isxdigit((unsigned char) p[2]))
				return "it has a \"%\" that is not followed by two hexadecimal digits";
			p += 2;
			continue;
		}
		if (!path_char_ok((unsigned char) *p))
			return psprintf("its path contains the character '%c', which must be percent-encoded", *p);
	}
	return NULL;
}

/*
 * rs_option_check_url: refuse option "option" when url is not acceptable.
 * A URL with credentials is never repeated in the message.
 */
void
rs_option_check_url(const char *backend, const char *option, const char *url,
					const char *example)
{
	const char *problem = rs_url_problem(url);

	if (problem == NULL)
		return;
	if (strstr(problem, "password"))
		rs_option_error(backend, option,
						"the URL contains a user name or password; credentials are never options, they are read from files named by settings",
						example);
	rs_option_error(backend, option, psprintf("%s is not a valid URL: %s", rs_message_value(url), problem),
					example);
}

/*
 * rs_dns_name_problem: what is wrong with a bucket-style name (lowercase
 * letters, digits, "-" and "." between labels, and "_" when underscore),
 * or NULL: minlen to maxlen characters, starting and ending with a letter
 * or digit, no empty label, no label starting or ending with "-", and not
 * an IPv4 address.
 */
const char *
rs_dns_name_problem(const char *name, int minlen, int maxlen, bool underscore)
{
	int			len = strlen(name);
	bool		all_digits_and_dots = true;
	int			dots = 0;

	if (len < minlen || len > maxlen)
		return psprintf("it must be %d to %d characters long", minlen, maxlen);
	for (int i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			  (underscore && c == '_')))
			return underscore
				? "it may only contain lowercase letters, digits, \"-\", \"_\" and \".\""
				: "it may only contain lowercase letters, digits, \"-\" and \".\"";
		if (c == '.')
		{
			dots++;
			if (i > 0 && (name[i - 1] == '.' || name[i - 1] == '-'))
				return "it has an empty label (\"..\") or a label ending with \"-\"";
			if (i + 1 < len && name[i + 1] == '-')
				return "it has a label starting with \"-\"";
		}
		else if (!(c >= '0' && c <= '9'))
			all_digits_and_dots = false;
	}
	if (!isalnum((unsigned char) name[0]) || !isalnum((unsigned char) name[len - 1]))
		return "it must start and end with a letter or digit";
	if (all_digits_and_dots && dots == 3)
		return "it must not look like an IP address";
	return NULL;
}

/*
 * rs_option_raw: option "key" of an options object as the user gave it (a
 * string), or NULL when it is absent or not a string: the drivers
 * normalize some values (a trailing "/"), but an error shows what was
 * typed.
 */
char *
rs_option_raw(const char *options_json, const char *key)
{
	json_error_t jerr;
	json_t	   *opts = json_loads(options_json, 0, &jerr);
	json_t	   *v = opts ? json_object_get(opts, key) : NULL;
	char	   *result = NULL;

	if (v && json_is_string(v))
		result = pstrdup(json_string_value(v));
	if (opts)
		json_decref(opts);
	return result;
}
