/*-------------------------------------------------------------------------
 *
 * options.c
 *	  reset-system's command line: options, --help and --version.
 *
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#include "getopt_long.h"

#define CLI_VERSION "1.0"

/*
 * usage: what --help prints.
 */
static void
usage(void)
{
	printf("reset-system shows what a reset of a PostgreSQL database would do (the default)\n"
		   "and, given the confirmation phrase, does it: deletes and rebuilds in one\n"
		   "transaction, then the server purges the uploaded files of deleted rows.\n\n");
	printf("Usage:\n"
		   "  reset-system [OPTION]... [DBNAME | CONNINFO | URI]\n\n");
	printf("Options:\n"
		   "  -c, --confirm=PHRASE     run the plan; PHRASE must be %s\n"
		   "  -n, --dry-run            only show the plan, even with --confirm\n"
		   "      --noinput            on a terminal, do not ask to type the phrase again\n"
		   "  -w, --wait[=DURATION]    after the reset, wait for the storage purge\n"
		   "                           (DURATION as PostgreSQL reads an interval; default 10 minutes)\n"
		   "      --unlock=DURATION    unlock a protected environment for DURATION first\n"
		   "      --json               print one JSON document on stdout (messages go to stderr)\n"
		   "  -q, --quiet              print only errors and the final line\n"
		   "  -V, --version            print the version and exit\n"
		   "  -?, --help               show this help and exit\n\n", CLI_PHRASE);
	printf("Connection options (the PG* environment variables, ~/.pgpass and service files\n"
		   "work as for every PostgreSQL tool):\n"
		   "  -d, --dbname=DBNAME      database name, connection string or URI\n"
		   "  -h, --host=HOSTNAME      database server host or socket directory\n"
		   "  -p, --port=PORT          database server port\n"
		   "  -U, --username=USERNAME  database user name\n\n");
	printf("Without a terminal (a job, a pipeline) it never prompts and never reads stdin.\n\n");
	printf("Exit status:\n"
		   "  0  reset done (and purged, with --wait), or plan shown\n"
		   "  1  error (connection, server, extension not installed)\n"
		   "  2  bad command line\n"
		   "  3  refused by a safety rail: wrong or retyped phrase, changed plan, environment,\n"
		   "     kill switch, size guard, read-only server, privileges, blockers; nothing changed\n"
		   "  4  reset done, but the storage purge finished with failures\n"
		   "  5  reset done, but the storage purge did not finish within --wait\n");
}

/*
 * bad_usage: a usage error, exit 2.
 */
static void
bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "reset-system: error: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"reset-system --help\" for more information.\n");
	exit(CLI_EXIT_USAGE);
}

/*
 * cli_parse_options: fill opt from argv; exits on --help, --version and
 * usage errors.
 */
void
cli_parse_options(int argc, char **argv, CliOptions *opt)
{
	static struct option long_options[] = {
		{"confirm", required_argument, NULL, 'c'},
		{"dry-run", no_argument, NULL, 'n'},
		{"noinput", no_argument, NULL, 1},
		{"wait", optional_argument, NULL, 'w'},
		{"unlock", required_argument, NULL, 2},
		{"json", no_argument, NULL, 3},
		{"quiet", no_argument, NULL, 'q'},
		{"dbname", required_argument, NULL, 'd'},
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int			optindex;

	memset(opt, 0, sizeof(*opt));
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		usage();
		exit(CLI_EXIT_DONE);
	}
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
	{
		printf("reset-system (reset_system) %s\n", CLI_VERSION);
		exit(CLI_EXIT_DONE);
	}

	while ((c = getopt_long(argc, argv, "c:nw::qd:h:p:U:V?", long_options, &optindex)) != -1)
	{
		switch (c)
		{
			case 'c':
				opt->confirm = optarg;
				break;
			case 'n':
				opt->dry_run = true;
				break;
			case 1:
				opt->noinput = true;
				break;
			case 'w':
				opt->wait_for = optarg ? optarg : "10 minutes";
				break;
			case 2:
				opt->unlock = optarg;
				break;
			case 3:
				opt->json = true;
				break;
			case 'q':
				opt->quiet = true;
				break;
			case 'd':
				opt->dbname = optarg;
				break;
			case 'h':
				opt->host = optarg;
				break;
			case 'p':
				opt->port = optarg;
				break;
			case 'U':
				opt->user = optarg;
				break;
			case 'V':
				printf("reset-system (reset_system) %s\n", CLI_VERSION);
				exit(CLI_EXIT_DONE);
			case '?':
				if (optopt == 0 && strcmp(argv[optind - 1], "-?") == 0)
				{
					usage();
					exit(CLI_EXIT_DONE);
				}
				fprintf(stderr, "Try \"reset-system --help\" for more information.\n");
				exit(CLI_EXIT_USAGE);
			default:
				fprintf(stderr, "Try \"reset-system --help\" for more information.\n");
				exit(CLI_EXIT_USAGE);
		}
	}
	if (optind < argc)
	{
		if (opt->dbname)
			bad_usage("the database is given twice (--dbname and \"%s\")", argv[optind]);
		opt->dbname = argv[optind++];
	}
	if (optind < argc)
		bad_usage("too many command-line arguments (first extra is \"%s\")", argv[optind]);
	if (opt->confirm && opt->confirm[0] == '\0')
		bad_usage("%s--confirm needs the phrase " CLI_PHRASE, "");
	if (opt->wait_for && opt->wait_for[0] == '\0')
		bad_usage("%s--wait= needs a duration, e.g. --wait=\"30 minutes\"", "");
	if (opt->unlock && opt->unlock[0] == '\0')
		bad_usage("%s--unlock needs a duration, e.g. --unlock=\"15 minutes\"", "");
}
