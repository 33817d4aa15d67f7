/* geom_fixture.h - reading the text tables of tests/fixtures/geom (header-only, for the geom tests).
 *
 * A table is lines of whitespace-separated numbers, all with the same count; lines starting with '#'
 * are comments. fixture_table reads AD3D_FIXTURES "/geom/<name>" (the environment's AD3D_FIXTURES wins
 * over the compiled-in path) and fails the test on any problem.
 */
#ifndef AD3D_TESTS_GEOM_FIXTURE_H
#define AD3D_TESTS_GEOM_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int rows, cols;
  double *v; /* (rows, cols) */
} fixture_table;

static inline double fixture_at(const fixture_table *t, int r, int c) { return t->v[(size_t)r * t->cols + c]; }

static inline void fixture_free(fixture_table *t) {
  free(t->v);
  t->v = NULL;
  t->rows = t->cols = 0;
}

static inline fixture_table fixture_read(const char *name) {
  const char *root = getenv("AD3D_FIXTURES");
  char path[1024];
  snprintf(path, sizeof path, "%s/geom/%s", root && *root ? root : AD3D_FIXTURES, name);
  FILE *f = fopen(path, "r");
  if (!f)
    fail_msg("cannot open fixture %s", path);
  fixture_table t = {0, 0, NULL};
  size_t cap = 0, used = 0;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n')
      continue;
    int cols = 0;
    char *s = line, *end = NULL;
    for (;;) {
      double x = strtod(s, &end);
      if (end == s)
        break;
      if (used == cap) {
        cap = cap ? 2 * cap : 4096;
        t.v = realloc(t.v, sizeof *t.v * cap);
        if (!t.v)
          fail_msg("out of memory reading %s", path);
      }
      t.v[used++] = x;
      cols++;
      s = end;
    }
    if (t.rows == 0)
      t.cols = cols;
    else if (cols != t.cols)
      fail_msg("%s: row %d has %d numbers, the first had %d", path, t.rows + 1, cols, t.cols);
    t.rows++;
  }
  fclose(f);
  if (t.rows == 0)
    fail_msg("%s: no rows", path);
  return t;
}

#endif
