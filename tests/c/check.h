/* A minimal assertion harness for the C unit tests: each failed CHECK prints the file,
 * line and expression, and main() returns the failure count so ctest sees the result. */
#ifndef CHAT_TEST_CHECK_H
#define CHAT_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(expr)                                                          \
  do {                                                                       \
    check_count++;                                                           \
    if (!(expr)) {                                                           \
      check_failures++;                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
    }                                                                        \
  } while (0)

#define CHECK_STR(got, want)                                                          \
  do {                                                                                \
    check_count++;                                                                    \
    const char *g_ = (got), *w_ = (want);                                             \
    if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) {                  \
      check_failures++;                                                               \
      fprintf(stderr, "%s:%d: %s\n    got:  %s\n    want: %s\n", __FILE__, __LINE__, #got, \
              g_ ? g_ : "(null)", w_ ? w_ : "(null)");                                \
    }                                                                                 \
  } while (0)

#define CHECK_DONE()                                                             \
  do {                                                                           \
    printf("%d checks, %d failed\n", check_count, check_failures);               \
    return check_failures == 0 ? 0 : 1;                                          \
  } while (0)

#endif
