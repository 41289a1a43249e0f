/*
 * arena.c -- the per-row bump allocator (TelemArena) that the data-path
 * JSON parser fills and every row resets.
 */
#include "core/core.h"

#include <string.h>

struct TelemArenaBlock {
  TelemArenaBlock *next; /* older block */
  size_t size;           /* usable bytes in data[] */
  unsigned char data[]; /* 8-byte aligned: sqlite3_malloc gives 8 */
};

#define ARENA_MIN_BLOCK 8192
#define ARENA_KEEP_MAX (4u << 20)

void telem_arena_init(TelemArena *a) { memset(a, 0, sizeof(*a)); }

void *telem_arena_alloc(TelemArena *a, size_t n) {
  n = (n + 7) & ~(size_t)7;
  if (!a->head || a->head->size - a->used < n) {
    size_t size = a->head ? a->head->size * 2 : ARENA_MIN_BLOCK;
    while (size < n) size *= 2;
    TelemArenaBlock *b = sqlite3_malloc64(sizeof(*b) + size);
    if (!b) return NULL;
    b->next = a->head;
    b->size = size;
    a->head = b;
    a->used = 0;
  }
  void *p = a->head->data + a->used;
  a->used += n;
  return p;
}

void telem_arena_reset(TelemArena *a) {
  /* Keep only the newest (largest) block so steady-state scans never malloc. */
  if (!a->head) return;
  TelemArenaBlock *b = a->head->next;
  while (b) {
    TelemArenaBlock *next = b->next;
    sqlite3_free(b);
    b = next;
  }
  a->head->next = NULL;
  a->used = 0;
  /* ...but do not hold on to the memory of one huge row for the rest of
   * the connection's life. */
  if (a->head->size > ARENA_KEEP_MAX) {
    sqlite3_free(a->head);
    a->head = NULL;
  }
}

void telem_arena_free(TelemArena *a) {
  telem_arena_reset(a);
  sqlite3_free(a->head);
  a->head = NULL;
  a->used = 0;
}
