/* Shared by the fuzz harnesses: the invariant check, and how one input is cut into reads.
 *
 * How the harnesses cut one fuzz input into the reads a socket would deliver: a seed byte
 * from the input picks the largest read (1 byte, a few bytes, ..., everything at once) and
 * drives a tiny xorshift for the sizes, so one input always splits the same way and a
 * crash replays exactly, while the fuzzer can still mutate the split. */
#ifndef CHAT_FUZZ_SUPPORT_H
#define CHAT_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* An invariant the code under test broke: abort() so libFuzzer (and the replay driver,
 * through its exit status) report the input, with the reason on stderr. */
#define FUZZ_ASSERT(cond)                                                                  \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);       \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

typedef struct fuzz_chunks {
  uint32_t state;
  size_t max; /* 0: no limit, one read takes whatever is left */
} fuzz_chunks;

static inline void fuzz_chunks_init(fuzz_chunks *c, uint8_t seed) {
  static const size_t maxima[] = {0, 1, 2, 3, 7, 16, 100, 1000};
  c->state = (uint32_t)seed * 2654435761u | 1u;
  c->max = maxima[seed & 7];
}

/* The size of the next read, 1..left. */
static inline size_t fuzz_chunks_next(fuzz_chunks *c, size_t left) {
  if (c->max == 0) return left;
  c->state ^= c->state << 13;
  c->state ^= c->state >> 17;
  c->state ^= c->state << 5;
  size_t n = 1 + c->state % c->max;
  return n < left ? n : left;
}

#endif
