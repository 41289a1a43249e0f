/*
 * file.h -- the one way voxtelem reads a file (file.c): open, then fstat
 * the descriptor, then read from it.  Nothing is stat-ed by name first, so
 * what is checked is what is read.
 *
 *   int root = telem_file_open_root("/srv/app/contracts", &err);
 *   char *index = telem_file_read_beneath(root, "index.yaml", TELEM_MAX_CONTRACT_FILE, &n, &err);
 *   telem_file_close(root);
 *
 * Every open uses O_NONBLOCK, so a FIFO or a device never blocks the
 * caller: fstat must then say "regular file" or the read is refused.
 * Beneath a root, every component of the relative path is opened with
 * O_NOFOLLOW from the directory before it: a symbolic link anywhere below
 * the root is refused, so no link (and no "..", refused by name) leads out
 * of the tree.  The root itself is the operator's choice and may be a link.
 */
#ifndef VOXTELEM_FILE_H
#define VOXTELEM_FILE_H

#include "core/core.h"

/* Opens directory dir as the root of later reads.  Returns a descriptor,
 * or -1 with *pzErr = "<dir>: cannot open the directory (<reason>)". */
int telem_file_open_root(const char *dir, char **pzErr);
/* Closes a root from telem_file_open_root (-1 is ignored). */
void telem_file_close(int fd);

/* Reads the regular file rel (relative, '/'-separated, no "." or ".."
 * component, no empty one) beneath root, following no link.  Returns the
 * bytes, NUL-terminated, in sqlite3 memory the caller frees, with *pn their
 * count; or NULL with *pzErr naming rel:
 *   "<rel>: missing file (<reason>)", "<rel>: is a symbolic link (links
 *   are not followed beneath the directory)", "<rel>: not a regular file",
 *   "<rel>: file larger than <max> bytes", "<rel>: not a usable relative
 *   path", "<rel>: cannot open (<reason>)", "<rel>: read error (<reason>)",
 *   or NULL for out of memory. */
char *telem_file_read_beneath(int root, const char *rel, size_t max, size_t *pn, char **pzErr);

/* Reads the regular file at path (a path the operator gave: links are
 * followed), at most max bytes.  Same return convention; messages name the
 * path: "<path>: missing file (<reason>)", "<path>: not a regular file",
 * "<path>: is a directory", "<path>: file larger than <max> bytes", ... */
char *telem_file_read(const char *path, size_t max, size_t *pn, char **pzErr);

#endif /* VOXTELEM_FILE_H */
