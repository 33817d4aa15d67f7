/* io_test_util.h - helpers shared by the io tests: fixture paths, expected-point files, a scratch
 * folder, and checks of clouds and error messages. The helpers use cmocka assertions. */
#ifndef AD3D_TESTS_IO_TEST_UTIL_H
#define AD3D_TESTS_IO_TEST_UTIL_H

#include <stdint.h>

#include "common/cloud.h"

/* Path of tests/fixtures/io/<name> (static buffer, valid until the next call). */
const char *fixture(const char *name);

/* A scratch folder made once per process (mkdtemp) and the path of <name> inside it (static
 * buffer, valid until the next call); scratch_cleanup removes the folder. */
const char *scratch(const char *name);
void scratch_cleanup(void);

/* Read an expected-points file: rows "x y z" or "x y z label" (float32 exact decimals).
 * xyz (n, 3) and labels (n; NULL when the rows have 3 values) are malloc'ed. */
void expected_read(const char *path, float **xyz, uint8_t **labels, int64_t *n);

/* Assert that c holds exactly the n points xyz (n, 3), bit for bit as floats. */
void assert_cloud_equals(const cloud_t *c, const float *xyz, int64_t n);

/* Assert that st == want and the current error message contains `name` and `word`. */
void assert_failed_with(int st, int want, const char *name, const char *word);

#endif
