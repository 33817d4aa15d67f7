/* test_results_kill.c - the durability promise of results.h, tested with kill -9.
 *
 * A forked child opens the results file (creating it the first time, resuming it afterwards) and
 * appends generated tasks (gen_task) in a loop, writing each task's index to a pipe once its
 * results_append has returned. The parent SIGKILLs it after a random delay (0 to 30 ms: during
 * creation, during a resume, in the middle of appends), then checks, after every kill:
 *  - the file opens with results_read_tasks and holds exactly tasks 0..c-1, or 0..c (c = the
 *    appends the child reported; the next one may have committed before the kill), each equal
 *    field by field to what was appended, scores included (new tasks and a few older ones);
 *  - h5py (read_results.py) opens it too and finds every field, sample and point as expected;
 *  - the next child resumes it (results_open must succeed and continue at the first missing task).
 * At the end: results_repair makes the file plainly openable, and a last child runs to its end and
 * closes the file, which h5py then opens without SWMR.
 * AD3D_KILL_ROUNDS (default 30) and AD3D_KILL_SEED change the number of kills and the delays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/rng.h"
#include "common/util.h"
#include "store/results.h"
#include "store_testlib.h"

static const results_meta META = {.program_version = "ad3d kill test", .config_text = "run = { seed = 5; };\n",
                                  .seed = 5, .ranks = 1, .hosts = "localhost"};

/* The child: resume at the first task the file lacks, append up to `limit`, close. Never returns. */
static void child_main(const char *path, int wfd, int limit) {
  results_t *r = NULL;
  if (results_open(path, &META, 0, &r) != AD3D_OK) {
    fprintf(stderr, "child: results_open: %s\n", ad3d_errmsg());
    _exit(2);
  }
  int i = 0;
  for (;; i++) {
    task_record rec;
    task_scores s;
    gen_task(i, &rec, &s);
    task_scores_free(&s);
    if (results_task_status(r, rec.key) == -1)
      break;
  }
  for (; i < limit; i++) {
    task_record rec;
    task_scores s;
    int has = gen_task(i, &rec, &s);
    if (results_append(r, &rec, has ? &s : NULL) != AD3D_OK) {
      fprintf(stderr, "child: results_append: %s\n", ad3d_errmsg());
      _exit(3);
    }
    task_scores_free(&s);
    if (write(wfd, &i, sizeof i) != (ssize_t)sizeof i)
      _exit(4);
  }
  if (results_close(r) != AD3D_OK) {
    fprintf(stderr, "child: results_close: %s\n", ad3d_errmsg());
    _exit(5);
  }
  _exit(0);
}

/* Run a child; kill it after delay_us (< 0: let it finish). Returns the tasks it reported done. */
static int child_round(const char *path, int limit, long delay_us, int *finished, int done_before) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    child_main(path, p[1], limit);
  }
  close(p[1]);
  if (delay_us >= 0) {
    usleep((useconds_t)delay_us);
    kill(pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int done = done_before, idx;
  while (read(p[0], &idx, sizeof idx) == (ssize_t)sizeof idx)
    if (idx + 1 > done)
      done = idx + 1;
  close(p[0]);
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    fail_msg("child failed with exit status %d (see its message above)", WEXITSTATUS(status));
  *finished = WIFEXITED(status);
  return done;
}

/* The checks after a kill; returns the number of tasks in the file. */
static int64_t verify(const char *path, const char *json, int done, int64_t checked_before, rng_t *rng,
                      int require_plain, int require_end) {
  task_record *got = NULL;
  int64_t n = 0;
  if (!is_file(path)) {
    assert_int_equal(done, 0); /* killed while creating: nothing was recorded */
    return 0;
  }
  if (results_read_tasks(path, &got, &n) != AD3D_OK)
    fail_msg("after a kill, results_read_tasks: %s", ad3d_errmsg());
  if (n != done && n != done + 1)
    fail_msg("%lld tasks in the file, but %d appends had returned", (long long)n, done);

  for (int64_t i = 0; i < n; i++) {
    task_record want;
    task_scores want_s;
    int has = gen_task((int)i, &want, &want_s);
    expect_record_eq(&got[i], &want);
    /* scores: every new task, and three older ones at random */
    int check = i >= checked_before || rng_below(rng, (uint64_t)(checked_before + 1)) < 3;
    if (check) {
      task_scores s;
      ad3d_status st = results_read_scores(path, want.key, &s);
      if (!has) {
        assert_int_equal(st, AD3D_ENOTFOUND);
      } else {
        if (st != AD3D_OK)
          fail_msg("after a kill, results_read_scores(%s): %s", want.key, ad3d_errmsg());
        expect_scores_eq(&s, &want_s);
        task_scores_free(&s);
      }
    }
    task_scores_free(&want_s);
  }
  free(got);

  FILE *f = json_begin(json, require_plain);
  json_attr_int(f, "format_version", 1);
  json_attr_str(f, "config", META.config_text);
  json_attr_int(f, "seed", 5);
  if (require_end)
    json_attr_nonempty(f, "end_time");
  json_tasks_begin(f);
  task_record rec;
  task_scores s;
  for (int i = 0; i < done; i++) {
    int has = gen_task(i, &rec, &s);
    json_task(f, &rec, has ? &s : NULL);
    task_scores_free(&s);
  }
  int has = gen_task(done, &rec, &s);
  json_tasks_end(f, &rec, has ? &s : NULL);
  task_scores_free(&s);
  fclose(f);
  if (run_reader(path, json) != 0)
    fail_msg("h5py could not read the file as expected after %d appends", done);
  return n;
}

static void test_kill9_loses_nothing(void **state) {
  (void)state;
  const char *env = getenv("AD3D_KILL_ROUNDS");
  int rounds = env ? atoi(env) : 30;
  env = getenv("AD3D_KILL_SEED");
  uint64_t seed = env ? strtoull(env, NULL, 10) : 20240501;
  char *dir = scratch_dir("store_kill");
  char *path = str_printf("%s/results.h5", dir), *json = str_printf("%s/expect.json", dir);
  rng_t rng;
  rng_seed(&rng, seed);

  int done = 0, finished = 0, extra = 0, in_file = 0;
  int64_t checked = 0;
  for (int round = 0; round < rounds; round++) {
    /* a quarter of the kills within the first 3 ms (creation, resume), the rest within 30 ms */
    long delay = rng_below(&rng, 4) == 0 ? (long)rng_below(&rng, 3000) : (long)rng_below(&rng, 30000);
    done = child_round(path, 1 << 30, delay, &finished, done);
    assert_false(finished);
    int64_t n = verify(path, json, done, checked, &rng, 0, 0);
    extra += n == done + 1;
    in_file = (int)n;
    checked = n;
    done = in_file; /* the extra task, if any, is recorded: the next child starts after it */
  }
  printf("kill test: %d kills, %d tasks recorded, %d kills landed after a commit but before the child "
         "reported it (seed %llu)\n",
         rounds, in_file, extra, (unsigned long long)seed);

  /* A killed run's file, repaired, opens without SWMR. */
  if (is_file(path)) {
    if (results_repair(path) != AD3D_OK)
      fail_msg("results_repair: %s", ad3d_errmsg());
    verify(path, json, done, checked, &rng, 1, 0);
  }
  /* The run resumes and ends normally. */
  int limit = done + 6;
  done = child_round(path, limit, -1, &finished, done);
  assert_true(finished);
  assert_int_equal(done, limit);
  assert_int_equal(verify(path, json, done, checked, &rng, 1, 1), limit);

  remove_tree(dir);
  free(dir);
  free(path);
  free(json);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kill9_loses_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
