/* kdtree.c - exact kNN and radius search over 3-D float points.
 *
 * Build: the points are copied in tree order (so a leaf's points are contiguous in memory) next to
 * their original indices. A node covers a contiguous range; it is split at the median of its widest
 * axis (quickselect) until it holds at most KD_LEAF points or all its points coincide. An internal
 * node records, along its split axis, the largest coordinate of its left child and the smallest of
 * its right child; the left child is the next node in the array.
 *
 * Search: depth-first, nearer child first. The far child is visited only if the squared distance
 * from q to its bounding box (the per-axis gaps accumulated down the path, as in nanoflann) is <= the
 * current bound, so points tied with the current worst result are still seen and the
 * smaller-index tie-break is exact. The box distance and the point distances are summed in the same
 * float order (x, y, z), so the box bound never exceeds a point's computed distance.
 * Results are kept in a bounded max-heap ordered by (d2, index), then sorted.
 */
#include "geom/kdtree.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KD_LEAF 16

typedef struct {
  int64_t start, end; /* range in the tree-ordered arrays */
  int64_t right;      /* index of the right child node; the left child is this node + 1 */
  float lo_max;       /* largest split-axis coordinate in the left child */
  float hi_min;       /* smallest split-axis coordinate in the right child */
  int axis;           /* split axis 0..2, or -1 for a leaf */
} kd_node;

struct kdtree {
  int64_t n;
  float *pts;       /* (n, 3) the points in tree order */
  int64_t *idx;     /* (n) original index of each tree-ordered point */
  kd_node *nodes;   /* (nnodes) */
  int64_t nnodes, capnodes;
  float lo[3], hi[3]; /* bounding box of all points */
};

/* ---- build ------------------------------------------------------------------------------------- */

static void swap_points(kdtree *t, int64_t a, int64_t b) {
  float p[3];
  memcpy(p, t->pts + 3 * a, sizeof p);
  memcpy(t->pts + 3 * a, t->pts + 3 * b, sizeof p);
  memcpy(t->pts + 3 * b, p, sizeof p);
  int64_t i = t->idx[a];
  t->idx[a] = t->idx[b];
  t->idx[b] = i;
}

/* Reorder [lo, hi) so that the point at kth has its axis coordinate in sorted position, smaller or
 * equal ones before it and greater or equal ones after (Hoare quickselect, median-of-three). */
static void select_kth(kdtree *t, int64_t lo, int64_t hi, int64_t kth, int axis) {
  const float *p = t->pts;
  hi--;
  while (hi > lo) {
    int64_t mid = lo + (hi - lo) / 2;
    if (p[3 * mid + axis] < p[3 * lo + axis])
      swap_points(t, mid, lo);
    if (p[3 * hi + axis] < p[3 * lo + axis])
      swap_points(t, hi, lo);
    if (p[3 * hi + axis] < p[3 * mid + axis])
      swap_points(t, hi, mid);
    float pivot = p[3 * mid + axis];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (p[3 * i + axis] < pivot)
        i++;
      while (p[3 * j + axis] > pivot)
        j--;
      if (i <= j) {
        swap_points(t, i, j);
        i++;
        j--;
      }
    }
    if (kth <= j)
      hi = j;
    else if (kth >= i)
      lo = i;
    else
      return;
  }
}

static ad3d_status push_node(kdtree *t, int64_t *id) {
  if (t->nnodes == t->capnodes) {
    int64_t cap = t->capnodes ? 2 * t->capnodes : 64;
    kd_node *nn = realloc(t->nodes, sizeof *nn * (size_t)cap);
    if (!nn)
      return ad3d_fail(AD3D_ENOMEM, "kdtree: cannot allocate %lld nodes", (long long)cap);
    t->nodes = nn;
    t->capnodes = cap;
  }
  *id = t->nnodes++;
  return AD3D_OK;
}

static void range_bounds(const kdtree *t, int64_t start, int64_t end, float lo[3], float hi[3]) {
  for (int a = 0; a < 3; a++) {
    lo[a] = INFINITY;
    hi[a] = -INFINITY;
  }
  for (int64_t i = start; i < end; i++)
    for (int a = 0; a < 3; a++) {
      float v = t->pts[3 * i + a];
      lo[a] = v < lo[a] ? v : lo[a];
      hi[a] = v > hi[a] ? v : hi[a];
    }
}

static ad3d_status build_node(kdtree *t, int64_t start, int64_t end) {
  int64_t id = 0;
  TRY(push_node(t, &id));
  t->nodes[id] = (kd_node){.start = start, .end = end, .right = 0, .axis = -1};
  if (end - start <= KD_LEAF)
    return AD3D_OK;
  float lo[3], hi[3];
  range_bounds(t, start, end, lo, hi);
  int axis = 0;
  for (int a = 1; a < 3; a++)
    if (hi[a] - lo[a] > hi[axis] - lo[axis])
      axis = a;
  if (!(hi[axis] > lo[axis]))
    return AD3D_OK; /* all points coincide: one leaf */
  int64_t mid = start + (end - start) / 2;
  select_kth(t, start, end, mid, axis);
  float lo_max = -INFINITY, hi_min = INFINITY;
  for (int64_t i = start; i < mid; i++)
    lo_max = t->pts[3 * i + axis] > lo_max ? t->pts[3 * i + axis] : lo_max;
  for (int64_t i = mid; i < end; i++)
    hi_min = t->pts[3 * i + axis] < hi_min ? t->pts[3 * i + axis] : hi_min;
  TRY(build_node(t, start, mid));
  int64_t right = t->nnodes;
  TRY(build_node(t, mid, end));
  kd_node *nd = &t->nodes[id]; /* nodes may have moved */
  nd->axis = axis;
  nd->lo_max = lo_max;
  nd->hi_min = hi_min;
  nd->right = right;
  return AD3D_OK;
}

ad3d_status kdtree_build(const float *pts, int64_t n, kdtree **out) {
  ad3d_status st = AD3D_OK;
  ASSERT(out && (n == 0 || pts));
  *out = NULL;
  if (n < 0)
    return ad3d_fail(AD3D_EINVAL, "kdtree: negative point count %lld", (long long)n);
  kdtree *t = calloc(1, sizeof *t);
  if (!t)
    return ad3d_fail(AD3D_ENOMEM, "kdtree: cannot allocate the tree");
  t->n = n;
  t->pts = malloc(sizeof *t->pts * 3 * (size_t)(n > 0 ? n : 1));
  t->idx = malloc(sizeof *t->idx * (size_t)(n > 0 ? n : 1));
  if (!t->pts || !t->idx) {
    st = ad3d_fail(AD3D_ENOMEM, "kdtree: cannot allocate a copy of %lld points", (long long)n);
    goto cleanup;
  }
  if (n > 0)
    memcpy(t->pts, pts, sizeof *t->pts * 3 * (size_t)n);
  for (int64_t i = 0; i < n; i++)
    t->idx[i] = i;
  range_bounds(t, 0, n, t->lo, t->hi);
  if (n > 0) {
    st = build_node(t, 0, n);
    if (st != AD3D_OK)
      goto cleanup;
  }
  *out = t;
  return AD3D_OK;
cleanup:
  kdtree_free(t);
  return st;
}

void kdtree_free(kdtree *t) {
  if (!t)
    return;
  free(t->pts);
  free(t->idx);
  free(t->nodes);
  free(t);
}

int64_t kdtree_size(const kdtree *t) { return t ? t->n : 0; }

/* ---- bounded max-heap of (d2, index), worst on top ------------------------------------------- */

typedef struct {
  float *d2;
  int64_t *idx;
  int64_t size, cap; /* cap: the most results kept */
  float bound;       /* results farther than this are never wanted (r^2 or INFINITY) */
} kd_heap;

/* 1 if (da, ia) comes after (db, ib) in the result order. */
static inline int worse(float da, int64_t ia, float db, int64_t ib) {
  return da > db || (da == db && ia > ib);
}

static void heap_sift_down(kd_heap *h, int64_t i) {
  float d = h->d2[i];
  int64_t id = h->idx[i];
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= h->size)
      break;
    if (c + 1 < h->size && worse(h->d2[c + 1], h->idx[c + 1], h->d2[c], h->idx[c]))
      c++;
    if (!worse(h->d2[c], h->idx[c], d, id))
      break;
    h->d2[i] = h->d2[c];
    h->idx[i] = h->idx[c];
    i = c;
  }
  h->d2[i] = d;
  h->idx[i] = id;
}

static void heap_offer(kd_heap *h, float d, int64_t id) {
  if (h->size < h->cap) {
    int64_t i = h->size++;
    while (i > 0) {
      int64_t parent = (i - 1) / 2;
      if (!worse(d, id, h->d2[parent], h->idx[parent]))
        break;
      h->d2[i] = h->d2[parent];
      h->idx[i] = h->idx[parent];
      i = parent;
    }
    h->d2[i] = d;
    h->idx[i] = id;
  } else if (worse(h->d2[0], h->idx[0], d, id)) {
    h->d2[0] = d;
    h->idx[0] = id;
    heap_sift_down(h, 0);
  }
}

/* Squared distance beyond which nothing can enter the heap (ties at it still can). */
static inline float heap_limit(const kd_heap *h) {
  return h->size < h->cap ? h->bound : h->d2[0];
}

/* Sort the heap's content in place, ascending by (d2, index). */
static void heap_sort(kd_heap *h) {
  int64_t n = h->size;
  while (h->size > 1) {
    int64_t last = h->size - 1;
    float d = h->d2[0];
    int64_t id = h->idx[0];
    h->d2[0] = h->d2[last];
    h->idx[0] = h->idx[last];
    h->d2[last] = d;
    h->idx[last] = id;
    h->size--;
    heap_sift_down(h, 0);
  }
  h->size = n;
}

/* ---- search ------------------------------------------------------------------------------------ */

static inline float dist2(const float *a, const float *b) {
  float dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return dx * dx + dy * dy + dz * dz;
}

static inline float box_dist2(const float off[3]) {
  return off[0] * off[0] + off[1] * off[1] + off[2] * off[2];
}

/* off (3): per-axis gap from q to the box of node `id`, as signed differences. */
static void search(const kdtree *t, int64_t id, const float *q, float off[3], kd_heap *h) {
  const kd_node *nd = &t->nodes[id];
  if (nd->axis < 0) {
    for (int64_t i = nd->start; i < nd->end; i++) {
      float d = dist2(q, t->pts + 3 * i);
      if (d <= heap_limit(h) && d <= h->bound)
        heap_offer(h, d, t->idx[i]);
    }
    return;
  }
  int a = nd->axis;
  float to_left = q[a] - nd->lo_max;  /* > 0: q lies right of the left child */
  float to_right = q[a] - nd->hi_min; /* < 0: q lies left of the right child */
  int64_t near, far;
  float far_gap;
  if (to_left + to_right < 0) {
    near = id + 1;
    far = nd->right;
    far_gap = to_right;
  } else {
    near = nd->right;
    far = id + 1;
    far_gap = to_left;
  }
  search(t, near, q, off, h);
  float saved = off[a];
  /* Only widen the gap: the far child's box lies inside this node's box. */
  if (fabsf(far_gap) > fabsf(saved))
    off[a] = far_gap;
  if (box_dist2(off) <= heap_limit(h))
    search(t, far, q, off, h);
  off[a] = saved;
}

/* Gaps from q to the bounding box of all points. */
static void root_offsets(const kdtree *t, const float *q, float off[3]) {
  for (int a = 0; a < 3; a++)
    off[a] = q[a] < t->lo[a] ? q[a] - t->lo[a] : (q[a] > t->hi[a] ? q[a] - t->hi[a] : 0.0f);
}

int kdtree_knn(const kdtree *t, const float *q, int k, int64_t *idx, float *d2) {
  ASSERT(t && q && k >= 0);
  int64_t want = k < t->n ? k : t->n;
  if (want == 0)
    return 0;
  ASSERT(idx && d2);
  kd_heap h = {.d2 = d2, .idx = idx, .size = 0, .cap = want, .bound = INFINITY};
  float off[3];
  root_offsets(t, q, off);
  search(t, 0, q, off, &h);
  heap_sort(&h);
  return (int)h.size;
}

void kdtree_knn_batch(const kdtree *t, const float *qs, int64_t m, int k, int64_t *idx, float *d2) {
  ASSERT(t && k >= 0 && (m == 0 || k == 0 || (qs && idx && d2)));
  for (int64_t i = 0; i < m; i++) {
    int64_t *ri = idx + i * (int64_t)k;
    float *rd = d2 + i * (int64_t)k;
    int found = kdtree_knn(t, qs + 3 * i, k, ri, rd);
    for (int j = found; j < k; j++) {
      ri[j] = -1;
      rd[j] = INFINITY;
    }
  }
}

/* Growable result arrays for uncapped radius queries. */
static int grow(int64_t **idx, float **d2, int64_t *cap, int64_t need) {
  if (need <= *cap)
    return 1;
  int64_t c = *cap > 0 ? *cap : 16;
  while (c < need)
    c *= 2;
  int64_t *ni = realloc(*idx, sizeof *ni * (size_t)c);
  if (!ni)
    return 0;
  *idx = ni;
  float *nd = realloc(*d2, sizeof *nd * (size_t)c);
  if (!nd)
    return 0;
  *d2 = nd;
  *cap = c;
  return 1;
}

typedef struct {
  int64_t **idx;
  float **d2;
  int64_t *cap, count;
  float r2;
  int failed;
} kd_collect;

static void collect(const kdtree *t, int64_t id, const float *q, float off[3], kd_collect *c) {
  const kd_node *nd = &t->nodes[id];
  if (nd->axis < 0) {
    for (int64_t i = nd->start; i < nd->end && !c->failed; i++) {
      float d = dist2(q, t->pts + 3 * i);
      if (d <= c->r2) {
        if (!grow(c->idx, c->d2, c->cap, c->count + 1)) {
          c->failed = 1;
          return;
        }
        (*c->idx)[c->count] = t->idx[i];
        (*c->d2)[c->count] = d;
        c->count++;
      }
    }
    return;
  }
  int a = nd->axis;
  float saved = off[a];
  float to_left = q[a] - nd->lo_max, to_right = q[a] - nd->hi_min;
  /* left child */
  if (to_left > 0 && to_left > fabsf(saved))
    off[a] = to_left;
  if (box_dist2(off) <= c->r2)
    collect(t, id + 1, q, off, c);
  off[a] = saved;
  if (c->failed)
    return;
  /* right child */
  if (to_right < 0 && -to_right > fabsf(saved))
    off[a] = to_right;
  if (box_dist2(off) <= c->r2)
    collect(t, nd->right, q, off, c);
  off[a] = saved;
}

typedef struct {
  float d;
  int64_t i;
} kd_pair;

static int cmp_pair(const void *a, const void *b) {
  const kd_pair *x = a, *y = b;
  if (x->d != y->d)
    return x->d < y->d ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

int64_t kdtree_radius(const kdtree *t, const float *q, float r, int64_t max_nn, int64_t **idx, float **d2,
                      int64_t *cap) {
  ASSERT(t && q && idx && d2 && cap);
  if (t->n == 0 || !(r >= 0))
    return 0;
  float r2 = r * r;
  float off[3];
  root_offsets(t, q, off);
  if (!(box_dist2(off) <= r2))
    return 0;
  if (max_nn > 0) {
    int64_t want = max_nn < t->n ? max_nn : t->n;
    if (!grow(idx, d2, cap, want)) {
      ad3d_fail(AD3D_ENOMEM, "kdtree_radius: cannot allocate %lld results", (long long)want);
      return -1;
    }
    kd_heap h = {.d2 = *d2, .idx = *idx, .size = 0, .cap = want, .bound = r2};
    search(t, 0, q, off, &h);
    heap_sort(&h);
    return h.size;
  }
  kd_collect c = {.idx = idx, .d2 = d2, .cap = cap, .count = 0, .r2 = r2, .failed = 0};
  collect(t, 0, q, off, &c);
  if (c.failed) {
    ad3d_fail(AD3D_ENOMEM, "kdtree_radius: cannot allocate %lld results", (long long)c.count + 1);
    return -1;
  }
  /* Sort (d2, index) pairs; a scratch array of pairs keeps the sort a single qsort call. */
  if (c.count > 1) {
    kd_pair *pairs = malloc(sizeof *pairs * (size_t)c.count);
    if (!pairs) {
      ad3d_fail(AD3D_ENOMEM, "kdtree_radius: cannot allocate %lld results", (long long)c.count);
      return -1;
    }
    for (int64_t j = 0; j < c.count; j++)
      pairs[j] = (kd_pair){(*d2)[j], (*idx)[j]};
    qsort(pairs, (size_t)c.count, sizeof *pairs, cmp_pair);
    for (int64_t j = 0; j < c.count; j++) {
      (*d2)[j] = pairs[j].d;
      (*idx)[j] = pairs[j].i;
    }
    free(pairs);
  }
  return c.count;
}
