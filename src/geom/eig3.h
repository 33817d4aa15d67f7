/* eig3.h - eigen-decomposition of a real symmetric 3x3 matrix, in closed form, in double.
 *
 * The solver is the non-iterative one of D. Eberly, "A Robust Eigensolver for 3x3 Symmetric
 * Matrices" (Geometric Tools, 2014), the algorithm Open3D's FastEigen3x3 uses for normals:
 *   - scale the matrix by its largest |entry| (no overflow, no loss for tiny neighbourhoods);
 *   - eigenvalues by the trigonometric formula of the shifted, normalised matrix B = (A - qI)/p;
 *   - the eigenvector of the eigenvalue farthest from the other two (the largest if det(B) >= 0,
 *     else the smallest) as the longest cross product of two rows of A - lambda I; the middle one
 *     by solving a 2x2 problem in the plane orthogonal to the first; the third by a cross product.
 * A diagonal matrix (all off-diagonal entries 0, including the zero matrix) returns the axes.
 * The eigenvalues are then refined as the Rayleigh quotients of the eigenvectors (the trigonometric
 * formula alone keeps only ~8 digits of a nearly repeated pair). Accuracy (|A| the largest |entry|):
 * eigenvalues to 1e-12 |A|, eigenvectors of isolated eigenvalues to residuals of 1e-11 |A| (tested);
 * the two vectors of a nearly repeated pair (gap g) only to ~1e-8 |A| / g inside their plane.
 *
 * The sign of each eigenvector is the one this construction gives: it is deterministic, and for the
 * smallest eigenvalue it is the sign Open3D 0.16's estimate_normals returns (unoriented normals), so
 * FPFH computed on these normals matches Open3D's. On a diagonal matrix the smallest eigenvector is
 * the axis of the strictly smallest diagonal entry, else z (Open3D's rule, e.g. for 0 or I).
 */
#ifndef AD3D_GEOM_EIG3_H
#define AD3D_GEOM_EIG3_H

/* a (6): the upper triangle a00 a01 a02 a11 a12 a22. eval (3): eigenvalues in ascending order.
 * evec (3, 3): evec[i] the unit eigenvector of eval[i] (rows), an orthonormal basis up to
 * rounding. a must be finite (ASSERT). */
void eig3_sym(const double a[6], double eval[3], double evec[3][3]);

#endif
