/* pretrain.c - `ad3d pretrain` under MPI: options, model preparation and broadcast, the epoch loop with
 * its allreduce, progress lines and per-epoch checkpoints. The training step itself is nn/train.c's.
 */
#include "runner/pretrain.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "nn/data.h"
#include "runner/mpiutil.h"
#include "store/checkpoint.h"


/* ---- options ------------------------------------------------------------------------------------------- */

const opt_spec pretrain_opt_specs[] = {
    {"corpus", OPT_STRING, "shapes:1000", 1, 0,
     "what to train on: shapes:N[:SEED] (generated procedural shapes), a ShapeNet-55 folder (train.txt + "
     "shapenet_pc/), shapenet55:DIR:SPLIT, or a folder of .pcd/.npy clouds (searched recursively)"},
    {"output", OPT_STRING, "pretrain", 1, 0, "checkpoint folder: last.h5 after every epoch, epoch-NNNN.h5 kept"},
    {"init", OPT_STRING, "", 1, 0,
     "start from this checkpoint's weights and architecture with a new optimiser (fine-tuning); \"\": a new model"},
    {"resume", OPT_BOOL, "true", 1, 0, "continue from <output>/last.h5 when it exists"},
    {"seed", OPT_INT, "0", 0, 1e15, "seed of every random stream (initial weights, order, augmentation, masks)"},
    {"epochs", OPT_INT, "300", 1, 1e6, "epochs of the cosine schedule"},
    {"batch", OPT_INT, "128", 1, 1e6, "clouds per optimiser step, over all ranks"},
    {"micro_batch", OPT_INT, "32", 1, 1e6,
     "clouds per forward pass (BatchNorm statistics group; shards are dealt to ranks); divides batch"},
    {"lr", OPT_REAL, "0.001", 1e-12, 10, "peak learning rate (AdamW)"},
    {"min_lr", OPT_REAL, "1e-06", 0, 10, "learning rate at the end of the cosine schedule"},
    {"warmup_lr", OPT_REAL, "1e-06", 0, 10, "learning rate at the start of the linear warm-up"},
    {"warmup_epochs", OPT_INT, "10", 0, 1e6, "linear warm-up epochs"},
    {"weight_decay", OPT_REAL, "0.05", 0, 10, "AdamW weight decay (not on biases, norms and the mask token)"},
    {"clip", OPT_REAL, "0", 0, 1e9, "global gradient-norm clipping (0: none, as Point-MAE's pre-training)"},
    {"augment", OPT_BOOL, "true", 1, 0, "per-axis scale U[2/3, 3/2] and translation U[-0.2, 0.2]"},
    {"save_every", OPT_INT, "0", 0, 1e6, "also keep epoch-NNNN.h5 every n epochs (0: last.h5 only)"},
    {"blas_threads", OPT_INT, "1", 1, 1024, "OpenBLAS threads per rank"},
    {"progress_seconds", OPT_REAL, "10", 0, 1e6, "seconds between progress lines within an epoch (0: per epoch)"},
    {"npoints", OPT_INT, "1024", 1, 1e7, "points per training cloud"},
    {"ngroups", OPT_INT, "64", 1, 1e6, "patches per cloud (FPS centres)"},
    {"group_size", OPT_INT, "32", 1, 1e6, "points per patch (kNN)"},
    {"width", OPT_INT, "384", 1, 1e5, "token width"},
    {"depth", OPT_INT, "12", 1, 1000, "encoder blocks"},
    {"heads", OPT_INT, "6", 1, 1000, "encoder attention heads"},
    {"decoder_depth", OPT_INT, "4", 1, 1000, "decoder blocks"},
    {"decoder_heads", OPT_INT, "6", 1, 1000, "decoder attention heads"},
    {"mlp_ratio", OPT_INT, "4", 1, 64, "transformer MLP hidden width / token width"},
    {"pe_dim1", OPT_INT, "128", 1, 1e5, "patch encoder first width"},
    {"pe_dim2", OPT_INT, "256", 1, 1e5, "patch encoder second width (pooled and concatenated)"},
    {"pe_dim3", OPT_INT, "512", 1, 1e5, "patch encoder third width"},
    {"pos_dim", OPT_INT, "128", 1, 1e5, "position MLP hidden width"},
    {"mask_ratio", OPT_REAL, "0.6", 0, 0.999, "masked fraction of the patches"},
    {"drop_path_rate", OPT_REAL, "0.1", 0, 0.999, "stochastic depth of the last block"},
    {NULL, 0, NULL, 0, 0, NULL},
};

static const char *const preset_small[] = {
    "width=128",  "depth=4",   "heads=4",      "decoder_depth=2",  "decoder_heads=4", "pe_dim1=32",
    "pe_dim2=64", "pe_dim3=128", "pos_dim=64", "epochs=40",        "batch=32",        "micro_batch=16",
    "warmup_epochs=4", NULL};

static const opt_spec *spec_find(const char *name) {
  for (const opt_spec *s = pretrain_opt_specs; s->name; s++)
    if (!strcmp(s->name, name))
      return s;
  return NULL;
}

ad3d_status pretrain_preset(opts_t *o, const char *name) {
  if (!strcmp(name, "paper"))
    return opts_set_defaults(o, "pretrain", pretrain_opt_specs);
  if (strcmp(name, "small"))
    return ad3d_fail(AD3D_EINVAL, "pretrain: unknown preset \"%s\" (paper, small)", name);
  TRY(opts_set_defaults(o, "pretrain", pretrain_opt_specs));
  for (int i = 0; preset_small[i]; i++) {
    char key[64];
    const char *eq = strchr(preset_small[i], '=');
    snprintf(key, sizeof key, "%.*s", (int)(eq - preset_small[i]), preset_small[i]);
    const opt_spec *s = spec_find(key);
    ASSERT(s);
    TRY(opts_set_text(o, "pretrain", s, eq + 1));
  }
  return AD3D_OK;
}

static int geti(const opts_t *o, const char *name) {
  char key[96];
  snprintf(key, sizeof key, "pretrain.%s", name);
  return (int)opts_int(o, key);
}

static double getr(const opts_t *o, const char *name) {
  char key[96];
  snprintf(key, sizeof key, "pretrain.%s", name);
  return opts_real(o, key);
}

static ad3d_status copy_str(char *dst, size_t cap, const opts_t *o, const char *name) {
  char key[96];
  snprintf(key, sizeof key, "pretrain.%s", name);
  const char *v = opts_str(o, key);
  if (strlen(v) >= cap)
    return ad3d_fail(AD3D_EINVAL, "pretrain.%s: longer than %zu characters", name, cap - 1);
  memcpy(dst, v, strlen(v) + 1);
  return AD3D_OK;
}

ad3d_status pretrain_args_from_opts(const opts_t *o, pretrain_args *a) {
  memset(a, 0, sizeof *a);
  TRY(copy_str(a->corpus, sizeof a->corpus, o, "corpus"));
  TRY(copy_str(a->output, sizeof a->output, o, "output"));
  TRY(copy_str(a->init, sizeof a->init, o, "init"));
  a->resume = opts_bool(o, "pretrain.resume");
  a->save_every = geti(o, "save_every");
  a->blas_threads = geti(o, "blas_threads");
  a->progress_s = getr(o, "progress_seconds");
  mae_config *c = &a->model;
  c->npoints = geti(o, "npoints"), c->ngroups = geti(o, "ngroups"), c->group_size = geti(o, "group_size");
  c->width = geti(o, "width"), c->depth = geti(o, "depth"), c->heads = geti(o, "heads");
  c->decoder_depth = geti(o, "decoder_depth"), c->decoder_heads = geti(o, "decoder_heads");
  c->mlp_ratio = geti(o, "mlp_ratio"), c->pe_dim1 = geti(o, "pe_dim1"), c->pe_dim2 = geti(o, "pe_dim2");
  c->pe_dim3 = geti(o, "pe_dim3"), c->pos_dim = geti(o, "pos_dim");
  c->mask_ratio = getr(o, "mask_ratio"), c->drop_path_rate = getr(o, "drop_path_rate");
  mae_train_opts *t = &a->train;
  t->epochs = geti(o, "epochs"), t->batch = geti(o, "batch"), t->micro_batch = geti(o, "micro_batch");
  t->lr = getr(o, "lr"), t->min_lr = getr(o, "min_lr"), t->warmup_lr = getr(o, "warmup_lr");
  t->warmup_epochs = geti(o, "warmup_epochs"), t->weight_decay = getr(o, "weight_decay");
  t->clip = getr(o, "clip"), t->augment = opts_bool(o, "pretrain.augment");
  t->seed = (uint64_t)opts_int(o, "pretrain.seed");
  ad3d_status st = AD3D_OK;
  if ((st = mae_config_check(&a->model)) || (st = mae_train_check(&a->train)))
    return ad3d_fail_context(st, "pretrain");
  return AD3D_OK;
}

char *pretrain_train_config(const pretrain_args *a) {
  const mae_config *c = &a->model;
  const mae_train_opts *t = &a->train;
  /* with init, the architecture comes from that checkpoint (stored in every checkpoint anyway) */
  return str_printf("corpus = \"%s\"\ninit = \"%s\"\nseed = %llu\nepochs = %d\nbatch = %d\nmicro_batch = %d\n"
                    "lr = %.17g\nmin_lr = %.17g\nwarmup_lr = %.17g\nwarmup_epochs = %d\nweight_decay = %.17g\n"
                    "clip = %.17g\naugment = %s\nnpoints = %d\nmask_ratio = %.17g\ndrop_path_rate = %.17g",
                    a->corpus, a->init, (unsigned long long)t->seed, t->epochs, t->batch, t->micro_batch, t->lr,
                    t->min_lr, t->warmup_lr, t->warmup_epochs, t->weight_decay, t->clip, t->augment ? "true" : "false",
                    c->npoints, c->mask_ratio, c->drop_path_rate);
}

/* ---- MPI helpers ----------------------------------------------------------------------------------------- */

static ad3d_status allreduce_sum(void *ctx, float *buf, size_t n) {
  mpi_allreduce_sum_sleepy(buf, n, *(MPI_Comm *)ctx);
  return AD3D_OK;
}

/* Rank 0's status to every rank (others get a generic message when it failed). */
static ad3d_status share_status(ad3d_status st, int rank, MPI_Comm comm, const char *what) {
  int32_t v = (int32_t)st;
  mpi_bcast_sleepy(&v, sizeof v, comm);
  if (rank != 0 && v != AD3D_OK)
    return ad3d_fail((ad3d_status)v, "rank 0 failed %s", what);
  return (ad3d_status)v;
}

/* ---- model preparation (rank 0) --------------------------------------------------------------------------- */

static ad3d_status first_difference(const char *stored, const char *want, const char *path) {
  const char *a = stored, *b = want;
  while (*a || *b) {
    size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    if (la != lb || memcmp(a, b, la))
      return ad3d_fail(AD3D_EINVAL,
                       "%s was trained with other options (it has \"%.*s\", this run \"%.*s\"): use another output "
                       "folder, resume=false to start over, or the same options",
                       path, (int)la, a, (int)lb, b);
    a += la + (a[la] == '\n');
    b += lb + (b[lb] == '\n');
  }
  return AD3D_OK;
}

/* The model to start from and the epochs already done (rank 0). */
static ad3d_status prepare_model(const pretrain_args *a, const char *last, const char *want, mae_model **m,
                                 checkpoint_info *info, FILE *out) {
  memset(info, 0, sizeof *info);
  if (a->resume && is_file(last)) {
    TRY(checkpoint_load(last, m, info));
    ad3d_status st = first_difference(info->train_config ? info->train_config : "", want, last);
    if (st) {
      mae_free(*m);
      *m = NULL;
      checkpoint_info_free(info);
      return st;
    }
    if (out && !a->quiet)
      fprintf(out, "ad3d pretrain: resuming from %s after epoch %lld\n", last, (long long)info->epoch);
    return AD3D_OK;
  }
  if (a->init[0]) {
    TRY(checkpoint_load(a->init, m, NULL));
    (*m)->cfg.npoints = a->model.npoints;
    (*m)->cfg.mask_ratio = a->model.mask_ratio;
    (*m)->cfg.drop_path_rate = a->model.drop_path_rate;
    ad3d_status st = mae_config_check(&(*m)->cfg);
    if (st) {
      mae_free(*m);
      *m = NULL;
      return ad3d_fail_context(st, "pretrain: %s with this run's npoints, mask_ratio, drop_path_rate", a->init);
    }
    mae_reset_optimizer(*m);
    if (out && !a->quiet)
      fprintf(out, "ad3d pretrain: starting from the weights of %s (width %d, depth %d)\n", a->init,
              (*m)->cfg.width, (*m)->cfg.depth);
  } else {
    rng_t r;
    rng_seed_key(&r, a->train.seed, "pretrain/init");
    TRY(mae_init(m, &a->model, &r));
  }
  info->train_config = xstrdup(want);
  return info->train_config ? AD3D_OK : AD3D_ENOMEM;
}

/* Rank 0's model and epoch to every rank (the others allocate theirs from the broadcast configuration). */
static ad3d_status share_model(mae_model **m, int64_t *epoch, int rank, MPI_Comm comm) {
  mae_config cfg;
  int64_t step = 0;
  if (rank == 0)
    cfg = (*m)->cfg, step = (*m)->step;
  mpi_bcast_sleepy(&cfg, sizeof cfg, comm);
  mpi_bcast_sleepy(&step, sizeof step, comm);
  mpi_bcast_sleepy(epoch, sizeof *epoch, comm);
  ad3d_status st = AD3D_OK;
  if (rank != 0) {
    rng_t r;
    rng_seed(&r, 0);
    st = mae_init(m, &cfg, &r);
  }
  int32_t ok = st == AD3D_OK, all = 0;
  MPI_CHECK(MPI_Allreduce(&ok, &all, 1, MPI_INT32_T, MPI_MIN, comm));
  if (!all)
    return st ? st : ad3d_fail(AD3D_ENOMEM, "pretrain: another rank could not allocate the model");
  (*m)->step = step;
  mpi_bcast_sleepy((*m)->params_mem, (*m)->nparams * sizeof(float), comm);
  mpi_bcast_sleepy((*m)->m_mem, (*m)->nparams * sizeof(float), comm);
  mpi_bcast_sleepy((*m)->v_mem, (*m)->nparams * sizeof(float), comm);
  mpi_bcast_sleepy((*m)->bufs_mem, (*m)->nbufs * sizeof(float), comm);
  return AD3D_OK;
}

/* ---- progress ------------------------------------------------------------------------------------------------ */

typedef struct {
  FILE *out;
  int quiet, epochs;
  double every, last_print;
  double done_seconds; /* seconds of the epochs finished in this session */
  int done_epochs;
} progress;

static void fmt_duration(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0)
    s = 0;
  long t = (long)(s + 0.5);
  snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/* Seconds left: the rest of this epoch plus the epochs after it, at this session's pace. */
static double eta(const progress *pr, const mae_train_progress *p) {
  double per_epoch = pr->done_epochs ? pr->done_seconds / pr->done_epochs
                                     : (p->step ? p->seconds * p->steps / p->step : 0);
  double rest = p->step ? p->seconds * (p->steps - p->step) / p->step : per_epoch;
  return rest + per_epoch * (pr->epochs - p->epoch - 1);
}

static void progress_line(const progress *pr, const mae_train_progress *p, int end) {
  char e[32];
  fmt_duration(eta(pr, p), e, sizeof e);
  fprintf(pr->out, "epoch %d/%d %s %d/%d  loss %.6f  lr %.3g  %.1f clouds/s  %.1f s  ETA %s\n", p->epoch + 1,
          pr->epochs, end ? "done, steps" : "step", p->step, p->steps, p->loss, p->lr,
          p->seconds > 0 ? p->samples / p->seconds : 0.0, p->seconds, e);
  fflush(pr->out);
}

static void on_step(void *ctx, const mae_train_progress *p) {
  progress *pr = ctx;
  if (!pr->out || pr->quiet || pr->every <= 0 || p->step == p->steps)
    return;
  double t = now_seconds();
  if (t - pr->last_print >= pr->every) {
    pr->last_print = t;
    progress_line(pr, p, 0);
  }
}

/* ---- the run ----------------------------------------------------------------------------------------------- */

/* Rank 0: record the epoch and write the checkpoint(s). */
static ad3d_status save_epoch(const pretrain_args *a, const char *last, const mae_model *m, checkpoint_info *info,
                              const mae_train_progress *p) {
  info->epoch = p->epoch + 1;
  TRY(checkpoint_info_push(info, p->loss, p->lr, p->seconds));
  TRY(checkpoint_save(last, m, info));
  if (a->save_every > 0 && info->epoch % a->save_every == 0) {
    char *keep = str_printf("%s/epoch-%04lld.h5", a->output, (long long)info->epoch);
    if (!keep)
      return AD3D_ENOMEM;
    ad3d_status st = checkpoint_save(keep, m, info);
    free(keep);
    return st;
  }
  return AD3D_OK;
}

ad3d_status pretrain_run(const pretrain_args *a, MPI_Comm comm, FILE *out, pretrain_summary *sum) {
  int rank, size;
  MPI_CHECK(MPI_Comm_rank(comm, &rank));
  MPI_CHECK(MPI_Comm_size(comm, &size));
  memset(sum, 0, sizeof *sum);
  sum->last_loss = NAN;
  snprintf(sum->checkpoint, sizeof sum->checkpoint, "%s/last.h5", a->output);
  openblas_set_num_threads(a->blas_threads);

  mae_model *m = NULL;
  corpus *c = NULL;
  checkpoint_info info = {0};
  char *want = pretrain_train_config(a);
  ad3d_status st = want ? AD3D_OK : AD3D_ENOMEM;
  /* every rank opens the corpus (it only lists files); rank 0 also prepares the model */
  if (!st)
    st = corpus_open(a->corpus, &c);
  int32_t ok = st == AD3D_OK, all = 0;
  MPI_CHECK(MPI_Allreduce(&ok, &all, 1, MPI_INT32_T, MPI_MIN, comm));
  if (!all) {
    if (!st)
      st = ad3d_fail(AD3D_EINVAL, "pretrain: another rank could not open corpus %s", a->corpus);
    goto cleanup;
  }
  if (rank == 0) {
    st = mkdir_p(a->output);
    if (!st)
      st = prepare_model(a, sum->checkpoint, want, &m, &info, out);
  }
  if ((st = share_status(st, rank, comm, "to prepare the model")))
    goto cleanup;
  int64_t epoch = rank == 0 ? info.epoch : 0;
  if ((st = share_model(&m, &epoch, rank, comm)))
    goto cleanup;
  sum->start_epoch = sum->epochs_done = (int)epoch;

  progress pr = {.out = rank == 0 ? out : NULL, .quiet = a->quiet, .epochs = a->train.epochs, .every = a->progress_s};
  pr.last_print = now_seconds();
  if (pr.out && !a->quiet) {
    fprintf(out, "ad3d pretrain: %s; %zu parameters (width %d, depth %d, decoder %d); %d epochs of %lld steps, "
                 "batch %d in shards of %d over %d rank(s); checkpoints in %s\n",
            corpus_describe(c), m->nparams, m->cfg.width, m->cfg.depth, m->cfg.decoder_depth, a->train.epochs,
            (long long)(corpus_size(c) / a->train.batch), a->train.batch, a->train.micro_batch, size, a->output);
    fflush(out);
  }
  mae_train_comm tc = {.rank = rank, .size = size, .allreduce_sum = allreduce_sum, .ctx = &comm};
  for (int e = (int)epoch; e < a->train.epochs; e++) {
    mae_train_progress p;
    if ((st = mae_train_epoch(m, c, &a->train, e, &tc, on_step, &pr, &p)))
      break;
    pr.done_seconds += p.seconds;
    pr.done_epochs++;
    sum->last_loss = p.loss;
    sum->epochs_done = e + 1;
    if (rank == 0) {
      st = save_epoch(a, sum->checkpoint, m, &info, &p);
      if (pr.out && !a->quiet) {
        progress_line(&pr, &p, 1);
        pr.last_print = now_seconds();
      }
    }
    if ((st = share_status(st, rank, comm, "to write a checkpoint")))
      break;
  }
  if (!st && pr.out && !a->quiet) {
    fprintf(out, "ad3d pretrain: %d epochs done; last loss %.6f; checkpoint %s\n", sum->epochs_done, sum->last_loss,
            sum->checkpoint);
    fflush(out);
  }
cleanup:
  free(want);
  checkpoint_info_free(&info);
  corpus_free(c);
  mae_free(m);
  return st;
}
