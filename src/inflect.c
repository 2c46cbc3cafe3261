/*-------------------------------------------------------------------------
 *
 * inflect.c
 *	  The table a Rails class name stands for, by Rails' default rules.
 *
 * A polymorphic association stores the class name of the row it points
 * at ("Submission", "Admin::User"); Active Record's default table for a
 * class is its name without the namespace, underscored and pluralized
 * ("submissions", "users"), or with the namespace as a prefix when the
 * namespace says so (a module with table_name_prefix, as Rails'
 * generators write it, or a model nesting another: "admin_users").  Both
 * are candidates; the caller takes the one that exists.
 *
 * Pluralization follows Active Support's default English inflections:
 * the irregulars (person, man, child, sex, move, zombie), the uncountables
 * (equipment, information, rice, money, species, series, fish, sheep,
 * jeans, police) and the suffix rules, tried in the same order (the last
 * defined first).  Applications that add inflections of their own map
 * those class names with targets.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "plan.h"

/*
 * ends_with: does s end with suffix?
 */
static bool
ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s);
	size_t		m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * replace_tail: s without its last "drop" bytes, then "add".
 */
static char *
replace_tail(const char *s, int drop, const char *add)
{
	return psprintf("%.*s%s", (int) strlen(s) - drop, s, add);
}

/*
 * is_vowel_or_y: the letters [aeiouy], for the "y" rule.
 */
static bool
is_vowel_or_y(char c)
{
	return strchr("aeiouy", c) != NULL;
}

/*
 * pluralize: the plural of a lower-case word the way Active Support's
 * default English rules make it (String#pluralize).
 */
static char *
pluralize(const char *w)
{
	static const char *const uncountable[] = {
		"equipment", "information", "rice", "money", "species", "series",
		"fish", "sheep", "jeans", "police"
	};
	/* irregulars, the last defined first: {singular, plural} */
	static const char *const irregular[][2] = {
		{"zombie", "zombies"}, {"move", "moves"}, {"sex", "sexes"},
		{"child", "children"}, {"man", "men"}, {"person", "people"}
	};
	size_t		n = strlen(w);

	if (n == 0)
		return pstrdup(w);
	for (size_t i = 0; i < lengthof(uncountable); i++)
		if (strcmp(w, uncountable[i]) == 0)
			return pstrdup(w);
	for (size_t i = 0; i < lengthof(irregular); i++)
	{
		const char *sing = irregular[i][0];
		const char *plur = irregular[i][1];

		/* already the plural, then the singular: both at the end of the word */
		if (ends_with(w, plur))
			return pstrdup(w);
		if (ends_with(w, sing))
			return replace_tail(w, strlen(sing), plur);
	}

	/* the suffix rules, the last defined first */
	if (ends_with(w, "quiz"))
		return psprintf("%szes", w);
	if (strcmp(w, "oxen") == 0)
		return pstrdup(w);
	if (strcmp(w, "ox") == 0)
		return pstrdup("oxen");
	if (strcmp(w, "mice") == 0 || strcmp(w, "lice") == 0)
		return pstrdup(w);
	if (strcmp(w, "mouse") == 0 || strcmp(w, "louse") == 0)
		return psprintf("%cice", w[0]);
	if (ends_with(w, "matrix") || ends_with(w, "matrex") ||
		ends_with(w, "vertix") || ends_with(w, "vertex") ||
		ends_with(w, "indix") || ends_with(w, "index"))
		return replace_tail(w, 2, "ices");
	if (ends_with(w, "x") || ends_with(w, "ch") || ends_with(w, "ss") || ends_with(w, "sh"))
		return psprintf("%ses", w);
	if (n >= 2 && w[n - 1] == 'y' &&
		(!is_vowel_or_y(w[n - 2]) || (n >= 3 && w[n - 3] == 'q' && w[n - 2] == 'u')))
		return replace_tail(w, 1, "ies");
	if (ends_with(w, "hive"))
		return psprintf("%ss", w);
	if (n >= 3 && ends_with(w, "fe") && w[n - 3] != 'f')
		return replace_tail(w, 2, "ves");
	if (n >= 2 && w[n - 1] == 'f' && (w[n - 2] == 'l' || w[n - 2] == 'r'))
		return replace_tail(w, 1, "ves");
	if (ends_with(w, "sis"))
		return replace_tail(w, 3, "ses");
	if (n >= 2 && w[n - 1] == 'a' && (w[n - 2] == 't' || w[n - 2] == 'i'))
		return pstrdup(w);
	if (n >= 3 && ends_with(w, "um") && (w[n - 3] == 't' || w[n - 3] == 'i'))
		return replace_tail(w, 2, "a");
	if (ends_with(w, "buffalo") || ends_with(w, "tomato"))
		return psprintf("%ses", w);
	if (ends_with(w, "bus"))
		return psprintf("%ses", w);
	if (ends_with(w, "alias") || ends_with(w, "status"))
		return psprintf("%ses", w);
	if (ends_with(w, "octopi") || ends_with(w, "viri"))
		return pstrdup(w);
	if (ends_with(w, "octopus") || ends_with(w, "virus"))
		return replace_tail(w, 2, "i");
	if (strcmp(w, "axis") == 0 || strcmp(w, "testis") == 0)
		return replace_tail(w, 2, "es");
	if (w[n - 1] == 's')
		return pstrdup(w);
	return psprintf("%ss", w);
}

/*
 * underscore: Active Support's String#underscore: "::" becomes "/", a
 * word boundary inside a camel-cased name becomes "_" ("HTMLParser" ->
 * "html_parser", "BlogPost" -> "blog_post"), "-" becomes "_", and it is
 * all lower case.
 */
static char *
underscore(const char *name)
{
	StringInfoData buf;
	size_t		n = strlen(name);

	initStringInfo(&buf);
	for (size_t i = 0; i < n; i++)
	{
		char		c = name[i];

		if (c == ':' && i + 1 < n && name[i + 1] == ':')
		{
			appendStringInfoChar(&buf, '/');
			i++;
			continue;
		}
		if (i > 0 && c >= 'A' && c <= 'Z')
		{
			char		prev = name[i - 1];
			char		next = i + 1 < n ? name[i + 1] : '\0';

			if ((prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9') ||
				(prev >= 'A' && prev <= 'Z' && next >= 'a' && next <= 'z'))
				appendStringInfoChar(&buf, '_');
		}
		if (c == '-')
			c = '_';
		else if (c >= 'A' && c <= 'Z')
			c = c - 'A' + 'a';
		appendStringInfoChar(&buf, c);
	}
	return buf.data;
}

/*
 * rs_rails_table_names: the tables Active Record would use for a class,
 * by default: with the namespace as a prefix first ("Admin::User" ->
 * "admin_users"), then without it ("users").  One name for a class
 * outside any namespace.
 */
List *
rs_rails_table_names(const char *class_name)
{
	char	   *path = underscore(class_name);
	char	   *slash = strrchr(path, '/');
	char	   *plural;
	List	   *names = NIL;

	if (slash == NULL)
		return list_make1(pluralize(path));
	plural = pluralize(slash + 1);
	*slash = '\0';
	for (char *p = path; *p; p++)
		if (*p == '/')
			*p = '_';
	names = lappend(names, psprintf("%s_%s", path, plural));
	names = lappend(names, plural);
	return names;
}
