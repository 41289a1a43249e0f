/*
 * version.c -- telem_version(): the voxtelem version and the versions of
 * the libraries it runs with, for bug reports and drift checks.
 *
 *   SELECT telem_version();
 *   -- voxtelem 0.1.0 (sqlite 3.40.1, jansson 2.14, libyaml 0.2.5, pcre2 10.42, xxhash 0.8.1)
 */
#include "sql/sql.h"
#include "voxtelem.h"

#include <jansson.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <xxhash.h>
#include <string.h>
#include <yaml.h>

static void version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  char pcre[64] = "";
  pcre2_config(PCRE2_CONFIG_VERSION, pcre);
  unsigned xx = XXH_versionNumber();
  char *z = sqlite3_mprintf("voxtelem %s (sqlite %s, jansson %s, libyaml %s, pcre2 %.*s, xxhash %u.%u.%u)",
                            VOXTELEM_VERSION, sqlite3_libversion(), jansson_version_str(),
                            yaml_get_version_string(), (int)strcspn(pcre, " "), pcre,
                            xx / 10000, xx / 100 % 100, xx % 100);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, z, -1, sqlite3_free);
}

static const TelemSqlFunc version_funcs[] = {
    /* Not deterministic: the answer depends on the libraries loaded. */
    {"telem_version", 0, 0, SQLITE_INNOCUOUS, version_func},
    {NULL},
};

const TelemFeature telem_feature_version = {"version", version_funcs, NULL};
