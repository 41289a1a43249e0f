/*
 * version.c -- telem_version(): the voxtelem version and the versions of
 * the libraries it runs with, for bug reports and drift checks.
 *
 *   SELECT telem_version();
 *   -- voxtelem 0.1.0 (sqlite 3.40.1, jansson 2.14, libyaml 0.2.5, pcre2 10.42, xxhash 0.8.1)
 */
#include "internal.h"
#include "voxtelem.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <xxhash.h>
#include <string.h>
#include <yaml.h>

static void version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argv;
  if (!telem_check_argc(ctx, "telem_version", argc, 0, 0)) return;
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

int telem_register_version(sqlite3 *db, TelemConn *c, char **pzErr) {
  (void)pzErr;
  return telem_create_function(db, c, "telem_version", -1, SQLITE_INNOCUOUS, version_func);
}
