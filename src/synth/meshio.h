/* meshio.h - triangle-mesh readers: Wavefront OBJ, PLY (ascii, binary little and big endian), OFF
 * and STL (ascii and binary).
 *
 * Every reader returns vertices and triangles as they are in the file (polygons fan-triangulated
 * from their first vertex), with no welding: STL in particular yields a triangle soup of 3 vertices
 * per facet, to be welded with mesh_weld. What each format accepts:
 *   OBJ  `v x y z [w ...]`, `f a b c ...` with a, a/t, a//n or a/t/n items, 1-based or negative
 *        (relative) indices; other statements (vt, vn, g, o, s, usemtl, mtllib, l, p, ...) and
 *        comments are ignored.
 *   PLY  format ascii 1.0, binary_little_endian 1.0 or binary_big_endian 1.0; a `vertex` element
 *        with scalar x, y, z of any PLY type (others skipped), a `face` element with a list property
 *        vertex_indices or vertex_index; every other element and property is skipped.
 *   OFF  [ST][C][N]OFF header (the keyword may carry the counts on its line, or be absent), counts
 *        `nv nf ne`, one vertex per line (extra values such as colours ignored), one face per line
 *        `k i1 .. ik [colour]`, `#` comments.
 *   STL  binary when the size is exactly 84 + 50 n bytes for the count n in the header, else ascii
 *        `solid` ... `facet normal` / `outer loop` / 3 x `vertex x y z` / `endloop` / `endfacet` ...
 *        `endsolid` (several solids allowed).
 * A malformed file is an AD3D_EFORMAT whose message names the file, the line (text) or byte offset
 * (binary) and the problem, e.g. "bunny.off:14: face index 812 out of range (502 vertices)".
 * A file that cannot be read is AD3D_EIO. Meshes with no face are AD3D_EFORMAT errors.
 */
#ifndef AD3D_SYNTH_MESHIO_H
#define AD3D_SYNTH_MESHIO_H

#include "common/status.h"
#include "synth/mesh.h"

typedef enum { MESH_FORMAT_UNKNOWN, MESH_FORMAT_OBJ, MESH_FORMAT_PLY, MESH_FORMAT_OFF, MESH_FORMAT_STL } mesh_format;

/* The format named by a path's extension (.obj, .ply, .off, .stl, any case); UNKNOWN otherwise. */
mesh_format mesh_format_from_path(const char *path);
/* "obj", "ply", "off", "stl" or "unknown". */
const char *mesh_format_name(mesh_format f);

/* Read `path` in the format of its extension into `out` (overwritten; free with mesh_free).
 * AD3D_EINVAL for an unknown extension. On error `out` is left empty. */
ad3d_status mesh_read(const char *path, mesh_t *out);
/* Read `path` as format `fmt`, whatever its extension. */
ad3d_status mesh_read_format(const char *path, mesh_format fmt, mesh_t *out);

#endif
