# reset_system: PGXS build of the extension.
#
#   make && sudo make install      build and install against pg_config
#   make installcheck              pg_regress and isolation tests, each on a
#                                  throwaway instance they start themselves
#   test/run-tests.sh              everything, from a fresh machine (README)

EXTENSION   = reset_system
MODULE_big  = reset_system
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/storage/*.c)))
DATA        = $(sort $(wildcard reset_system--*.sql))
PGFILEDESC  = "reset_system - guarded, atomic reset of an application database"

PG_CONFIG  ?= pg_config

JANSSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS   := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
CURL_CFLAGS    := $(shell curl-config --cflags 2>/dev/null)
CURL_LIBS      := $(shell curl-config --libs 2>/dev/null || echo -lcurl)

PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/storage $(JANSSON_CFLAGS) $(CURL_CFLAGS)
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK  = $(CURL_LIBS) $(JANSSON_LIBS)

# pg_regress: sql/*.sql against expected/*.out, on a temporary instance.
REGRESS      = install config_api plan_text plan_json phrase_gate execute_reset rollback_safety fk_blockers modes plan_token refusals privileges environment_guard guards audit_trail storage_config purge_queue storage_check storage_options backup_restore small_tables plan_hierarchy plan_structure_token storage_column_checks plan_layout rebuild_reports rebuild_commands rebuild_roles registration_notices registration_rights operator_read_functions kept_pointers generic_refs migration_tables before_steps hostile_input restore_hostile backup_drop_hostile restore_quoted_names unlock_duration storage_check_locks
REGRESS_OPTS = --temp-instance=./tmp_check --temp-config=$(srcdir)/test/regress.conf

# Isolation tests: test/isolation/specs/*.spec.
ISOLATION      = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --temp-instance=./tmp_check_iso --temp-config=$(srcdir)/test/regress.conf \
                 --inputdir=$(srcdir)/test/isolation --outputdir=output_iso

EXTRA_CLEAN = tmp_check tmp_check_iso output_iso results regression.diffs regression.out

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on every header (PGXS tracks none by itself)
$(OBJS): $(wildcard $(srcdir)/src/*.h $(srcdir)/src/storage/*.h)

# The reset-system command-line tool (src/cli), built and installed with
# the extension, next to the server's binaries.
all: cli
cli:
	$(MAKE) -C $(srcdir)/src/cli PG_CONFIG=$(PG_CONFIG)
install: install-cli
install-cli: cli
	$(MAKE) -C $(srcdir)/src/cli PG_CONFIG=$(PG_CONFIG) install
clean: clean-cli
clean-cli:
	$(MAKE) -C $(srcdir)/src/cli PG_CONFIG=$(PG_CONFIG) clean
.PHONY: cli install-cli clean-cli

# make dist: the PGXN source distribution, reset_system-<version>.zip, from
# the committed tree (git archive HEAD), every file under one top directory
# reset_system-<version>/, written into DIST_DIR.  The version is META.json's.
DIST_DIR    = .
DISTVERSION = $(shell perl -MJSON::PP -e 'local $$/; print decode_json(<>)->{version}' $(srcdir)/META.json)
dist:
	git -C $(srcdir) archive --format=zip --prefix=$(EXTENSION)-$(DISTVERSION)/ \
		-o $(abspath $(DIST_DIR)/$(EXTENSION)-$(DISTVERSION).zip) HEAD
.PHONY: dist
