/* mesh.h - triangle meshes: building, cleaning (weld, degenerate faces), midpoint refinement,
 * orientation, vertex normals and area-uniform sampling.
 *
 * A mesh owns its vertices v (nv, 3) float64 and its faces f (nf, 3) int32 vertex indices,
 * counter-clockwise seen from outside once mesh_orient has run (the right-hand normal
 * (b - a) x (c - a) points out). Units are whatever the file or the generator used. Capacities let
 * mesh_push_* append in amortised constant time. Every destructor accepts NULL and zeroed meshes.
 *
 * Refinement is midpoint subdivision without smoothing (not Loop's scheme): every edge longer than
 * the target inside a region is split at its midpoint, and every face is re-triangulated by how many
 * of its edges were split (1: two triangles, 2: three, 3: four), so the mesh stays conforming (no
 * T-junctions) and the surface itself does not change. Repeated until no edge in the region is
 * longer than the target. A split edge's new edges are never longer than the longest edge of its
 * face, so the longest edge shrinks and the loop ends.
 *
 * Sampling is exact area-uniform: a face is drawn with probability proportional to its area, then
 * a uniform point in it (barycentric (1 - sqrt(r1), sqrt(r1)(1 - r2), sqrt(r1) r2)).
 */
#ifndef AD3D_SYNTH_MESH_H
#define AD3D_SYNTH_MESH_H

#include <stdint.h>

#include "common/rng.h"
#include "common/status.h"

typedef struct {
  int64_t nv, nf;
  double *v;           /* (nv, 3) */
  int32_t *f;          /* (nf, 3) vertex indices in [0, nv) */
  int64_t cap_v, cap_f; /* allocated rows of v and f */
} mesh_t;

/* Largest vertex count a mesh may have (faces index vertices with int32). */
#define MESH_MAX_VERTICES ((int64_t)INT32_MAX)

void mesh_free(mesh_t *m);
/* Make room for at least nv vertices and nf faces in total (keeps the content). */
ad3d_status mesh_reserve(mesh_t *m, int64_t nv, int64_t nf);
/* Append a vertex / a face (indices are not checked here; see mesh_validate). */
ad3d_status mesh_push_vertex(mesh_t *m, double x, double y, double z);
ad3d_status mesh_push_face(mesh_t *m, int64_t a, int64_t b, int64_t c);
/* Deep copy into dst (which is overwritten; free it first if it held a mesh). */
ad3d_status mesh_copy(mesh_t *dst, const mesh_t *src);
/* Append src's vertices and faces to dst (src's indices shifted). */
ad3d_status mesh_append(mesh_t *dst, const mesh_t *src);
/* AD3D_EFORMAT if a face index is out of range or a coordinate is not finite; `what` names the
 * mesh in the message. */
ad3d_status mesh_validate(const mesh_t *m, const char *what);

/* v <- A v + t for every vertex, A (3, 3) row-major. When det A < 0 the faces are flipped so the
 * orientation (outward normals) is kept. */
void mesh_transform(mesh_t *m, const double A[9], const double t[3]);
/* Axis-aligned bounding box; lo = hi = 0 for an empty mesh. */
void mesh_bbox(const mesh_t *m, double lo[3], double hi[3]);
/* Total area, and the area and unit normal of face k (normal 0 for a zero-area face). */
double mesh_area(const mesh_t *m);
double mesh_face_normal(const mesh_t *m, int64_t k, double n[3]);
/* Longest edge over all faces (0 for no faces). */
double mesh_max_edge(const mesh_t *m);

/* Merge vertices within distance tol (tol 0: exactly equal ones): taken in index order, vertex i
 * joins the lowest-index earlier kept vertex within tol, if any, else it is kept. Then faces that
 * repeat a vertex and unused vertices are dropped. *merged (may be NULL) gets the number of
 * vertices merged away. */
ad3d_status mesh_weld(mesh_t *m, double tol, int64_t *merged);
/* Drop faces that repeat a vertex or whose area is <= min_area, then unused vertices.
 * *dropped (may be NULL) gets the number of faces dropped. */
ad3d_status mesh_drop_degenerate(mesh_t *m, double min_area, int64_t *dropped);
/* Drop vertices that no face uses, renumbering the faces. */
ad3d_status mesh_compact(mesh_t *m);

/* Is the triangle (a, b, c) inside the region to refine? ctx is the caller's. */
typedef int (*mesh_region_fn)(const double a[3], const double b[3], const double c[3], void *ctx);

/* Midpoint refinement (see the top of this file) until no edge of a face in the region is longer
 * than max_edge; region NULL means every face. Faces outside the region are split only where a
 * neighbour inside it split their shared edge. AD3D_EINVAL if max_edge <= 0 or the result would
 * exceed max_faces faces (a guard against a target far below the mesh's scale). */
ad3d_status mesh_refine(mesh_t *m, double max_edge, mesh_region_fn region, void *ctx, int64_t max_faces);

/* Make the faces of every connected component (faces sharing an edge) consistently oriented, then
 * flip each component whose signed volume is negative, so closed surfaces face outwards.
 * Non-manifold edges (more than two faces) do not propagate orientation. *flipped (may be NULL)
 * gets the number of faces flipped. */
ad3d_status mesh_orient(mesh_t *m, int64_t *flipped);

/* Area-weighted vertex normals, unit length (zero for a vertex of zero-area faces only);
 * out (nv, 3), caller-allocated. */
void mesh_vertex_normals(const mesh_t *m, double *out);

/* Vertex adjacency in compressed rows: the neighbours of vertex i (sharing an edge) are
 * nbr[start[i] .. start[i + 1]), sorted, without duplicates. */
typedef struct {
  int64_t nv;
  int64_t *start; /* (nv + 1) */
  int32_t *nbr;   /* (start[nv]) */
} mesh_adjacency;

ad3d_status mesh_adjacency_build(const mesh_t *m, mesh_adjacency *adj);
void mesh_adjacency_free(mesh_adjacency *adj);

/* Area-uniform sampler over a mesh it borrows (the mesh must outlive it and not change). */
typedef struct {
  const mesh_t *mesh;
  double area;  /* total area */
  double *cdf;  /* (nf) cumulative face areas */
} mesh_sampler;

/* AD3D_EINVAL for a mesh of zero area. */
ad3d_status mesh_sampler_init(mesh_sampler *s, const mesh_t *m);
void mesh_sampler_free(mesh_sampler *s);
/* Draw n points: xyz (n, 3); optional (NULL to skip): normals (n, 3) the unit face normals,
 * face (n) the face index, bary (n, 3) the barycentric coordinates of the point in its face. */
void mesh_sampler_draw(const mesh_sampler *s, int64_t n, rng_t *rng, double *xyz, double *normals, int32_t *face,
                       double *bary);

/* A hash map from undirected edges (a, b) == (b, a) to an int64 value, for refinement, clipping
 * and orientation. */
typedef struct {
  uint64_t *keys; /* (cap) 0 = empty slot, else (min << 32 | max) + 1 */
  int64_t *vals;  /* (cap) */
  int64_t cap, n;
} edge_map;

ad3d_status edge_map_init(edge_map *e, int64_t expected);
void edge_map_free(edge_map *e);
/* The value of edge (a, b), or -1 when absent. */
int64_t edge_map_get(const edge_map *e, int32_t a, int32_t b);
/* Insert or overwrite the value of edge (a, b). */
ad3d_status edge_map_set(edge_map *e, int32_t a, int32_t b, int64_t val);

/* Closest point on triangle (a, b, c) to p (Ericson, Real-Time Collision Detection 5.1.5);
 * returns the squared distance and writes the point to q (may be NULL). */
double triangle_closest(const double p[3], const double a[3], const double b[3], const double c[3], double q[3]);

/* A bounding-volume hierarchy over the faces of a mesh it borrows (the mesh must outlive it and not
 * change): axis-aligned boxes, split at the median face centroid of the longest axis, at most
 * MESH_BVH_LEAF faces per leaf. Queries are exact (they prune by box distance only). */
#define MESH_BVH_LEAF 4

typedef struct {
  double lo[3], hi[3];
  int64_t first; /* leaf: first index into order; inner node: index of the left child (right = first + 1) */
  int32_t count; /* faces in a leaf; 0 for an inner node */
} mesh_bvh_node;

typedef struct {
  const mesh_t *mesh;
  int64_t nnodes;
  mesh_bvh_node *nodes; /* (nnodes) node 0 is the root */
  int32_t *order;       /* (nf) face indices, grouped by leaf */
} mesh_bvh;

/* An empty mesh gives an empty hierarchy whose queries find nothing. */
ad3d_status mesh_bvh_build(mesh_bvh *b, const mesh_t *m);
void mesh_bvh_free(mesh_bvh *b);
/* Squared distance from p to the nearest face when that distance is < rmax (INFINITY for no
 * bound), else INFINITY; *face (may be NULL) gets the face, -1 when none. */
double mesh_bvh_nearest(const mesh_bvh *b, const double p[3], double rmax, int64_t *face);
/* 1 if some face lies within distance r of p (stops at the first one found). */
int mesh_bvh_within(const mesh_bvh *b, const double p[3], double r);
/* The smallest t in (tmin, tmax) where the ray o + t d hits a face (both sides count), or
 * INFINITY. d need not be unit; t is in units of |d|. */
double mesh_bvh_ray(const mesh_bvh *b, const double o[3], const double d[3], double tmin, double tmax);

#endif
