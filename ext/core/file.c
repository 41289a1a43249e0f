/*
 * file.c -- reading contract and policy files (see file.h).
 *
 * Why open-then-fstat: stat(path) followed by fopen(path) checks one file
 * and reads another when the name is swapped between the two calls, and
 * fopen() of a FIFO blocks until a writer appears (SIGINT does not release
 * it).  Here the descriptor is opened first, O_NONBLOCK, and fstat on that
 * descriptor decides: only a regular file of at most `max` bytes is read.
 *
 * Why one component at a time with O_NOFOLLOW: a textual check of "a/../b"
 * cannot see that "a" is a symbolic link to /etc.  Opening each directory
 * from the descriptor of its parent, refusing links, keeps every read
 * inside the tree the operator named, whatever the tree holds.
 */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

int telem_file_open_root(const char *dir, char **pzErr) {
  /* O_NONBLOCK: a FIFO named as the root fails O_DIRECTORY without waiting. */
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) telem_set_err(pzErr, "%.200s: cannot open the directory (%s)", dir, strerror(errno));
  return fd;
}

void telem_file_close(int fd) {
  if (fd >= 0) close(fd);
}

/* Reads the open descriptor fd (already checked regular, st_size bytes) to
 * its end, refusing more than max bytes (a file that grew).  `name` is for
 * messages.  Takes fd and closes it. */
static char *file_read_fd(int fd, const char *name, const struct stat *st, size_t max, size_t *pn,
                          char **pzErr) {
  char *data = NULL;
  if ((unsigned long long)st->st_size > max) {
    telem_set_err(pzErr, "%.200s: file larger than %llu bytes", name, (unsigned long long)max);
    goto done;
  }
  size_t cap = (size_t)st->st_size + 1;
  size_t n = 0;
  if (!(data = sqlite3_malloc64(cap + 1))) {
    telem_set_oom(pzErr);
    goto done;
  }
  for (;;) {
    if (n == cap) { /* the file grew since fstat: read on, up to max + 1 */
      size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
      if (ncap <= cap) {
        telem_set_err(pzErr, "%.200s: file larger than %llu bytes", name, (unsigned long long)max);
        sqlite3_free(data);
        data = NULL;
        goto done;
      }
      char *p = sqlite3_realloc64(data, ncap + 1);
      if (!p) {
        telem_set_oom(pzErr);
        sqlite3_free(data);
        data = NULL;
        goto done;
      }
      data = p;
      cap = ncap;
    }
    ssize_t got = read(fd, data + n, cap - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      telem_set_err(pzErr, "%.200s: read error (%s)", name, strerror(errno));
      sqlite3_free(data);
      data = NULL;
      goto done;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  if (n > max) {
    telem_set_err(pzErr, "%.200s: file larger than %llu bytes", name, (unsigned long long)max);
    sqlite3_free(data);
    data = NULL;
    goto done;
  }
  data[n] = 0;
  *pn = n;
done:
  close(fd);
  return data;
}

/* fstat on the fresh descriptor decides; then the read.  Takes fd. */
static char *file_check_and_read(int fd, const char *name, size_t max, size_t *pn, char **pzErr) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    telem_set_err(pzErr, "%.200s: cannot open (%s)", name, strerror(errno));
    close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    telem_set_err(pzErr, "%.200s: %s", name, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    close(fd);
    return NULL;
  }
  return file_read_fd(fd, name, &st, max, pn, pzErr);
}

/* The message for a failed open of `name`: links and missing files get
 * their own words; `at`/`comp` let a refused link be told from a missing
 * file (fstatat does not follow it). */
static void file_open_error(int err, int at, const char *comp, const char *name, char **pzErr) {
  struct stat st;
  if ((err == ELOOP || err == ENOTDIR || err == EMLINK) && at >= 0 &&
      fstatat(at, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
    telem_set_err(pzErr, "%.200s: is a symbolic link (links are not followed beneath the directory)", name);
    return;
  }
  if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG)
    telem_set_err(pzErr, "%.200s: missing file (%s)", name, strerror(err));
  else
    telem_set_err(pzErr, "%.200s: cannot open (%s)", name, strerror(err));
}

char *telem_file_read_beneath(int root, const char *rel, size_t max, size_t *pn, char **pzErr) {
  if (root < 0 || !rel || !rel[0] || rel[0] == '/') {
    telem_set_err(pzErr, "%.200s: not a usable relative path", rel ? rel : "");
    return NULL;
  }
  int dir = root;      /* the directory the next component is opened from */
  char comp[256];      /* one component; longer ones are refused (NAME_MAX) */
  const char *seg = rel;
  char *data = NULL;
  for (;;) {
    const char *slash = strchr(seg, '/');
    size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
    if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
      telem_set_err(pzErr, "%.200s: not a usable relative path", rel);
      break;
    }
    if (len >= sizeof comp) {
      telem_set_err(pzErr, "%.200s: missing file (%s)", rel, strerror(ENAMETOOLONG));
      break;
    }
    memcpy(comp, seg, len);
    comp[len] = 0;
    if (slash) {
      int next = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      if (next < 0) {
        file_open_error(errno, dir, comp, rel, pzErr);
        break;
      }
      if (dir != root) close(dir);
      dir = next;
      seg = slash + 1;
      continue;
    }
    /* The file itself: O_NONBLOCK so a FIFO opens at once (and is refused
     * by fstat below); O_NOCTTY so a terminal never becomes ours. */
    int fd = openat(dir, comp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      file_open_error(errno, dir, comp, rel, pzErr);
      break;
    }
    data = file_check_and_read(fd, rel, max, pn, pzErr);
    break;
  }
  if (dir != root) close(dir);
  return data;
}

char *telem_file_read(const char *path, size_t max, size_t *pn, char **pzErr) {
  if (!path || !path[0]) {
    telem_set_err(pzErr, "not a usable file path");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    file_open_error(errno, -1, NULL, path, pzErr);
    return NULL;
  }
  return file_check_and_read(fd, path, max, pn, pzErr);
}
